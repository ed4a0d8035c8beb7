"""The submit side (lambdas/analytics_spec.py, no engine import) and the engine
(model_code/analytics/spec.py) accept and refuse the same specs; the sidecar is read and
checked; a spec reaches the job options and the manifest like any option."""

from __future__ import annotations

import json
from typing import Any

import pytest

from lambdas import analytics_spec, job_options
from model_code.analytics.spec import SpecError, parse_spec
from model_code.pipeline import OptionsError, TrackOptions

SQUARE = [[0, 0], [100, 0], [100, 100], [0, 100]]
LINE = {"name": "door", "points": [[0, 0], [10, 0]]}
GOOD = {
    "lines": [{**LINE, "directions": ["in", "out"]}],
    "zones": [{"name": "desk", "polygon": SQUARE}],
    "classes": ["person"],
    "calibration": {"image": SQUARE, "world": [[0, 0], [1, 0], [1, 1], [0, 1]]},
    "hysteresis": 0.2,
}


@pytest.mark.parametrize(
    "spec",
    [
        GOOD,
        {},
        {"lines": [LINE]},
        {"lines": [{"name": "door"}]},
        {"lines": [{"name": "door", "points": [[0, 0], [10, 0], [20, 0]]}]},
        {"lines": [{"name": "door", "points": [[0, 0], [0, 0]]}]},
        {"lines": [LINE, LINE]},
        {"lines": [{**LINE, "directions": ["in", "in"]}]},
        {"lines": [{**LINE, "colour": "red"}]},
        {"zones": [{"name": "z", "polygon": [[0, 0], [5, 5], [9, 9]]}]},
        {"zones": [{"name": "z", "polygon": SQUARE[:2]}]},
        {"classes": []},
        {"classes": ["x" * 65]},
        {"calibration": {"image": SQUARE}},
        {"calibration": {"image": SQUARE, "world": SQUARE[:3]}},
        {"calibration": {"image": SQUARE, "world": [*SQUARE, [5, 5]]}},
        {"calibration": {"image": [[0, 0], [1, 1], [2, 2], [9, 0]], "world": SQUARE}},
        {"hysteresis": -0.1},
        {"hysteresis": True},
        {"zone": []},
        [],
    ],
)
def test_submit_and_engine_agree_on_each_spec(spec: Any) -> None:
    try:
        parse_spec(spec)
        engine = True
    except SpecError:
        engine = False
    try:
        analytics_spec.validate_spec(spec)
        submit = True
    except job_options.OptionError as error:
        assert "analytics" in str(error)  # the message names the field
        submit = False
    assert submit == engine, spec


def test_a_spec_in_metadata_is_an_option_checked_at_submit() -> None:
    metadata = job_options.to_metadata({"analytics": GOOD})
    options, _, _ = job_options.from_metadata(metadata)
    assert options["analytics"] == GOOD
    bad = {"motflow-analytics": json.dumps({"lines": [LINE, LINE]})}
    with pytest.raises(job_options.OptionError, match=r"analytics.lines\[1\].name"):
        job_options.from_metadata(bad)


def test_the_sidecar_is_read_beside_the_video() -> None:
    class S3:
        def __init__(self, objects: dict[str, bytes]) -> None:
            self.objects = objects

        def get_object(self, Bucket: str, Key: str) -> dict[str, Any]:
            if Key not in self.objects:
                error = Exception("missing")
                error.response = {"Error": {"Code": "NoSuchKey"}}  # type: ignore[attr-defined]
                raise error
            return {"Body": _Body(self.objects[Key])}

    class _Body:
        def __init__(self, data: bytes) -> None:
            self.data = data

        def read(self, size: int = -1) -> bytes:
            return self.data

    key = "videos/a b.mp4"
    assert analytics_spec.sidecar_key(key) == "videos/a b.mp4.analytics.json"
    assert analytics_spec.read_sidecar(S3({}), "in", key) is None
    found = S3({"videos/a b.mp4.analytics.json": json.dumps(GOOD).encode()})
    assert analytics_spec.read_sidecar(found, "in", key) == GOOD
    with pytest.raises(job_options.OptionError, match="not valid JSON"):
        analytics_spec.read_sidecar(S3({"videos/a b.mp4.analytics.json": b"{"}), "in", key)


def test_the_engine_options_carry_the_spec_and_refuse_a_bad_one_by_name() -> None:
    options = TrackOptions.from_dict({"analytics": GOOD})
    assert options.to_dict()["analytics"] == GOOD
    assert options.analytics_spec() == parse_spec(GOOD)
    assert "analytics" not in TrackOptions().to_dict()
    # An upload's spec replaces the deployment's default; null removes it.
    assert TrackOptions.from_dict({"analytics": None}, base=options).analytics is None
    with pytest.raises(OptionsError, match=r"analytics.zones\[0\].polygon"):
        TrackOptions.from_dict({"analytics": {"zones": [{"name": "z", "polygon": SQUARE[:2]}]}})
