"""A video tracked as 4 overlapping segments and stitched scores within 1 point of MOTA and
IDF1 of the single-piece run (the single-piece tracks are the ground truth here)."""

from __future__ import annotations

import shutil
from pathlib import Path

import av
import numpy as np
import pytest

from bench.mot_eval import evaluate_mot, load_mot_rows
from lambdas.segments import plan
from model_code.jobs import FolderOutput, Job, LocalVideo, run_job, stitch_job
from model_code.pipeline import TrackOptions, detector_for
from model_code.results import file_sinks
from model_code.segment_results import join_segments

SAMPLE = Path(__file__).resolve().parents[3] / "samples" / "people-walking.mp4"  # 30 s, 10 fps


@pytest.mark.slow
def test_four_stitched_segments_match_the_single_piece_run(tmp_path: Path) -> None:
    options = TrackOptions.from_dict({"stride": 2})
    detector = detector_for(options)
    whole = tmp_path / "whole"
    run_job(Job("whole", LocalVideo(SAMPLE), FolderOutput()), options, detector, tmp_path, whole)
    folders = []
    for segment in plan(30.0, threshold_s=8, overlap_s=2):
        folder = tmp_path / f"segment-{segment.index}"
        job = Job("s", LocalVideo(SAMPLE), FolderOutput(), segment=segment.to_dict())
        run_job(job, options, detector, tmp_path, folder)
        folders.append(folder)
    assert len(folders) == 4
    facts = join_segments(folders, file_sinks(tmp_path / "joined", annotate=False))

    truth = load_mot_rows(whole / "tracks.txt")
    truth[:, 6] = 1.0  # every single-piece box counts as ground truth
    metrics = evaluate_mot(truth, tmp_path / "joined" / "tracks.txt")
    assert metrics["mota"] >= 0.99 and metrics["idf1"] >= 0.99, metrics
    assert facts["segments"]["count"] == 4
    assert facts["segments"]["border_switches"] == metrics["num_switches"] == 0
    frames = np.unique(load_mot_rows(tmp_path / "joined" / "tracks.txt")[:, 0])
    assert set(frames) == set(np.unique(truth[:, 0]))  # same processed frames, source numbers


@pytest.mark.slow
def test_the_stitched_annotated_video_shows_the_source_frames(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With annotate, the stitch job decodes the source again and draws the stitched ids; the
    segments themselves draw nothing (their ids are local). It writes report.html too, with the
    thumbnails cut from those frames."""
    options = TrackOptions.from_dict({"stride": 3, "annotate": True})
    detector = detector_for(options)
    folders = []
    for segment in plan(30.0, threshold_s=8, overlap_s=2):
        folder = tmp_path / f"segment-{segment.index}"
        job = Job("s", LocalVideo(SAMPLE), FolderOutput(), segment=segment.to_dict())
        run_job(job, options, detector, tmp_path, folder)
        assert not (folder / "annotated.mp4").exists()
        folders.append(folder)
    # The parent fetches each segment's results from s3://segments/<index>/: here, its folder.
    monkeypatch.setattr(
        "model_code.jobs.download_to_file",
        lambda uri, path, **_: Path(
            shutil.copy(tmp_path / uri.replace("s3://segments/", "segment-"), path)
        ),
    )
    prefixes = tuple(f"s3://segments/{index}/" for index in range(len(folders)))
    joined = tmp_path / "joined"
    parent = Job("parent", LocalVideo(SAMPLE), FolderOutput(), stitch=prefixes)
    facts = stitch_job(parent, options, tmp_path / "work", joined)

    with av.open(str(joined / "annotated.mp4")) as container:
        images = [f.to_ndarray(format="bgr24") for f in container.decode(video=0)]
    assert len(images) == facts["counts"]["frames_processed"] == 100
    assert images[0].shape[:2] == (facts["video"]["height"], facts["video"]["width"])
    assert min(float(image.mean()) for image in images) > 20  # the source, not black frames
    assert facts["artifacts"]["report"] == str(joined / "report.html")
    report = (joined / "report.html").read_text()
    assert report.count('class="crop"') == facts["counts"]["tracks"] > 0
    assert 'href="annotated.mp4"' in report
