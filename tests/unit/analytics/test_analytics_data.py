"""Analytics end to end: the bundled sample counts its two people walking into the room, a job
with a spec writes analytics.json and the figures in summary.json, and on PETS09-S2L1 the
bench's spec and calibration agree with the ground truth (skipped without the shared data)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bench.analytics_accuracy import SPEC, compare, load_rows
from model_code.analytics.homography import fit_homography, rms_error
from model_code.analytics.spec import parse_spec
from model_code.jobs import FolderOutput, Job, LocalVideo, run_job
from model_code.pipeline import TrackOptions, detector_for
from tests.schemas import validate


@pytest.mark.slow
def test_the_sample_counts_two_people_walking_into_the_room(
    sample_video: Path, tmp_path: Path
) -> None:
    spec = json.loads(sample_video.with_suffix(".analytics.json").read_text())
    options = TrackOptions.from_dict({"analytics": spec})
    summary = run_job(
        Job("sample", LocalVideo(sample_video), FolderOutput()),
        options,
        detector_for(options),
        tmp_path,
        tmp_path,
    )
    document = validate(
        json.loads((tmp_path / "analytics.json").read_text()), "analytics.schema.json"
    )
    room = document["lines"]["room"]
    assert room["directions"] == {"in": 2, "out": 0}
    assert [c["direction"] for c in room["crossings"]] == ["in", "in"]
    assert len({c["track"] for c in room["crossings"]}) == 2
    assert document["zones"]["table"]["tracks"] == 2
    validate(summary, "summary.schema.json")
    assert summary["analytics"]["lines"]["room"]["total"] == 2
    assert summary["artifacts"]["analytics"] == str(tmp_path / "analytics.json")
    assert summary["options"]["analytics"] == spec


def test_the_pets_calibration_fits_the_ground_truth_world_points(shared_data: Path) -> None:
    gt_path = shared_data / "MOT15" / "train" / "PETS09-S2L1" / "gt" / "gt.txt"
    if not gt_path.is_file():
        pytest.skip(f"{gt_path} not found")
    gt = load_rows(gt_path, ground_truth=True)
    spec = parse_spec(json.loads(SPEC.read_text()))
    assert spec.calibration is not None
    h = fit_homography(spec.calibration.image, spec.calibration.world)
    foot = np.column_stack([gt[:, 2] + gt[:, 4] / 2, gt[:, 3] + gt[:, 5]])
    assert rms_error(h, foot, gt[:, 7:9]) < 0.1  # metres, over every ground-truth box
    # The ground truth against itself agrees exactly; the bench's rows are well formed.
    table = compare(json.loads(SPEC.read_text()), gt, gt)
    assert len([row for row in table if row["what"].startswith("line")]) >= 6
    assert all(row["diff"] == 0 for row in table)
