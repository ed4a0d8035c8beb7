"""Issue 21 hole 11 on moto: a fragmented MP4 and a live WebM, whose headers give no duration,
are split into segments like plain files (they ran as one job before, burning up to three
invocation timeouts on a long one)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.lambdas.lambda_harness import Aws
from tests.unit.lambdas.test_stream_duration import SECONDS, _encode

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(
    ("name", "options", "codec", "source"),
    [
        ("frag.mp4", {"movflags": "frag_keyframe+empty_moov"}, "libx264", "fragments"),
        ("live.webm", {"live": "1"}, "libvpx-vp9", "last cluster"),
    ],
)
def test_a_streamed_long_video_is_split_like_a_plain_file(
    aws: Aws,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    name: str,
    options: dict[str, str],
    codec: str,
    source: str,
) -> None:
    monkeypatch.setenv("SEGMENT_THRESHOLD_S", "8")
    monkeypatch.setenv("SEGMENT_OVERLAP_S", "2")
    body = _encode(tmp_path / name, options, codec)
    (outcome,) = aws.submit(aws.upload_and_receive(f"videos/{name}", body))["jobs"]
    assert outcome["detail"] == "segments"
    record = aws.job(outcome["job_id"])
    assert record["duration_s"] == pytest.approx(SECONDS, abs=0.2)
    assert record["duration_from"] == source
    assert len(record["segments"]) == 4
    assert sorted(aws.endpoint.accepted_ids()) == sorted(record["segments"])
