"""A job's analytics spec at submit time, without the engine: the cross-field rules the schema
cannot say, and the sidecar file an upload may carry it in.

The spec's shape is checked by `job_options` against ``job_options.schema.json`` (its
``analytics`` property is docs/schemas/analytics-spec.schema.json, embedded by
``python -m model_code.option_schema``); `check_rules` adds unique names, two distinct line
points, polygons with area, and as many world as image calibration points with no three image
points on one line among four. The engine checks all of it again when the job runs
(model_code/analytics/spec.py), so a spec written around this code still fails by name.

Sidecar: ``<video key>.analytics.json`` beside the upload (``videos/a.mp4.analytics.json``),
uploaded before the video; the upload trigger's suffix filter ignores it. Metadata
(``motflow-analytics``) wins over a sidecar, and either over the deployment's ``JOB_OPTIONS``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

try:
    from .job_options import OptionError, check, schema
except ImportError:  # Lambda runtime: modules are top-level
    from job_options import OptionError, check, schema  # type: ignore[no-redef]

SIDECAR_SUFFIX = ".analytics.json"
SIDECAR_MAX_BYTES = 256 * 1024


def sidecar_key(video_key: str) -> str:
    """Where an upload's analytics spec sidecar lives."""
    return video_key + SIDECAR_SUFFIX


def _area2(a: Sequence[float], b: Sequence[float], c: Sequence[float]) -> float:
    return abs((b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0]))


def _polygon_area(points: Sequence[Sequence[float]]) -> float:
    total = 0.0
    for (x1, y1), (x2, y2) in zip(points, [*points[1:], points[0]], strict=True):
        total += x1 * y2 - x2 * y1
    return abs(total) / 2


def check_rules(spec: Any) -> None:
    """Raise OptionError naming the field when a schema-valid spec breaks a cross-field rule."""
    if not isinstance(spec, dict):
        return
    for kind in ("lines", "zones"):
        seen: set[str] = set()
        for index, item in enumerate(spec.get(kind) or []):
            name = item.get("name")
            if name in seen:
                raise OptionError(f"option 'analytics.{kind}[{index}].name' {name!r} is used twice")
            seen.add(name)
    for index, line in enumerate(spec.get("lines") or []):
        start, end = line["points"]
        if start == end:
            raise OptionError(f"option 'analytics.lines[{index}].points' are the same point twice")
        directions = line.get("directions")
        if directions and directions[0] == directions[1]:
            raise OptionError(f"option 'analytics.lines[{index}].directions' must differ")
    for index, zone in enumerate(spec.get("zones") or []):
        if _polygon_area(zone["polygon"]) < 1.0:
            raise OptionError(f"option 'analytics.zones[{index}].polygon' encloses no area")
    calibration = spec.get("calibration")
    if calibration:
        image, world = calibration["image"], calibration["world"]
        if len(image) != len(world):
            raise OptionError(
                "option 'analytics.calibration' must list as many world points as image points,"
                f" got {len(image)} and {len(world)}"
            )
        spread = max(_area2(image[0], b, c) for b in image for c in image)
        if spread < 1.0 or (
            len(image) == 4
            and any(
                _area2(image[i], image[j], image[k]) < 1e-6
                for i in range(4)
                for j in range(i + 1, 4)
                for k in range(j + 1, 4)
            )
        ):
            raise OptionError(
                "option 'analytics.calibration.image' does not fix a ground plane: use 4 or more"
                " points, no 3 of them on a line"
            )


def validate_spec(spec: Any) -> dict[str, Any]:
    """The spec checked as the engine will check it (shape and rules); returns it."""
    check(spec, schema()["properties"]["analytics"], "analytics")
    if spec is None:
        raise OptionError("option 'analytics' must be an object")
    check_rules(spec)
    return dict(spec)


def from_sidecar(body: bytes) -> dict[str, Any]:
    """The spec in a sidecar file's bytes, checked; OptionError names what is wrong."""
    if len(body) > SIDECAR_MAX_BYTES:
        raise OptionError(f"the analytics sidecar is over {SIDECAR_MAX_BYTES // 1024} KiB")
    try:
        spec = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise OptionError(f"the analytics sidecar is not valid JSON ({error})") from None
    return validate_spec(spec)


def read_sidecar(s3: Any, bucket: str, video_key: str) -> dict[str, Any] | None:
    """The checked spec in ``<video_key>.analytics.json``, or None when there is none."""
    try:
        response = s3.get_object(Bucket=bucket, Key=sidecar_key(video_key))
    except Exception as error:  # botocore's ClientError, without importing botocore here
        code = str(getattr(error, "response", {}).get("Error", {}).get("Code"))
        if code in ("404", "NoSuchKey", "NotFound"):
            return None
        raise
    return from_sidecar(response["Body"].read(SIDECAR_MAX_BYTES + 1))
