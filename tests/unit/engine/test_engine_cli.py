"""`python -m model_code track` and `track-dets`: outputs, the summary line, exit codes."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from model_code.__main__ import main

REPO = Path(__file__).resolve().parents[3]


@pytest.mark.slow
def test_track_writes_the_outputs_and_prints_one_line(
    make_clip, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    clip = make_clip(frames=12)
    out = tmp_path / "out"
    assert main(["track", str(clip), "--out", str(out), "--stride", "3", "--annotate"]) == 0
    stdout = capsys.readouterr().out.strip().splitlines()
    assert len(stdout) == 1
    assert re.match(
        r"frames=4 tracks=0 detections=0 video=160x96@10fps total_s=\S+ fps=\S+ out=", stdout[0]
    )
    assert sorted(p.name for p in out.iterdir()) == [
        "annotated.mp4",
        "report.html",
        "summary.json",
        "tracks.json",
        "tracks.jsonl",
        "tracks.txt",
    ]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["options"]["stride"] == 3 and summary["options"]["annotate"] is True
    assert [json.loads(line)["frame"] for line in (out / "tracks.jsonl").open()] == [1, 4, 7, 10]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--stride", "0"], "error: option 'stride' must be >= 1, got 0"),
        (["--detector", "resnet"], "error: unknown detector 'resnet'"),
        (["--classes", "unicorn"], "error: unknown class 'unicorn'"),
    ],
)
def test_bad_options_exit_2_with_the_message(
    make_clip, tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list, message: str
) -> None:
    clip = make_clip(frames=2)
    assert main(["track", str(clip), "--out", str(tmp_path / "o"), *extra]) == 2
    err = capsys.readouterr().err
    assert err.startswith(message)
    assert "Traceback" not in err


def test_missing_video_exits_2_without_a_traceback(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "model_code",
            "track",
            str(tmp_path / "gone.mp4"),
            "--out",
            str(tmp_path / "o"),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == f"error: video file not found: {tmp_path / 'gone.mp4'}"


def test_track_dets_tracks_det_rows_and_reports_speed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    det = tmp_path / "det.txt"
    rows = [f"{f},-1,{100 + 5 * f},50,40,100,0.95,-1,-1,-1" for f in range(1, 21)]
    det.write_text("\n".join(rows) + "\n")
    out = tmp_path / "tracks.txt"
    assert main(["track-dets", str(det), "--fps", "10", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert re.fullmatch(r"frames=20 update_ms_per_frame=\d+\.\d+\n", err)
    tracks = np.loadtxt(out, delimiter=",", ndmin=2)
    assert len(tracks) >= 18
    assert set(tracks[:, 1].astype(int)) == {1}


def test_track_dets_missing_file_exits_2(tmp_path: Path, capsys) -> None:
    code = main(["track-dets", str(tmp_path / "nope.txt"), "--fps", "10", "--out", "x.txt"])
    assert code == 2
    assert capsys.readouterr().err.startswith("error: ")
