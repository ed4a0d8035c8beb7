"""`python -m bench`: listing, unknown names, missing data; the plot helper; gpu_pipeline pieces."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from bench import __main__ as runner
from bench import gpu_pipeline, plots


def test_help_lists_every_benchmark(repo_root) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bench", "--help"], cwd=repo_root, capture_output=True, text=True,
        check=False,
    )  # fmt: skip
    assert result.returncode == 0
    for name in runner.BENCHMARKS:
        assert name in result.stdout
    assert "needs ../shared/data" in result.stdout


def test_unknown_benchmark_is_an_error_naming_the_known_ones(capsys) -> None:
    with pytest.raises(SystemExit) as exited:
        runner.main(["tracker_speed", "no_such_bench"])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "unknown benchmark no_such_bench" in err and "scale_sim" in err


def test_benchmark_needing_data_says_so_when_it_is_missing(tmp_path, monkeypatch, capsys) -> None:
    missing = tmp_path / "no-data"
    monkeypatch.setattr(runner, "DATA", missing)
    runner.run("end_to_end")
    out = capsys.readouterr().out
    assert f"skipped end_to_end: it needs the shared data folder {missing}" in out


def test_every_plotter_named_by_a_benchmark_exists() -> None:
    for bench in runner.BENCHMARKS.values():
        if bench.plot:
            assert callable(getattr(plots, bench.plot))


def test_plots_are_png_files_in_the_plots_folder(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv(plots.PLOTS_ENV, str(tmp_path))
    plots.tracker_speed([("crowd (~45/frame)", "ours", 0.3), ("crowd (~200/frame)", "ours", 1.1)])
    plots.memory([("short", 60, 400.0), ("long", 600, 401.0)])
    for name in ("tracker_speed", "memory_rss"):
        assert (tmp_path / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_generated_clip_decodes_to_its_frames(tmp_path) -> None:
    clip = gpu_pipeline.write_clip(tmp_path / "c.mp4", frames=5, width=64, height=48)
    fps, kept = gpu_pipeline.decode_fps(clip)
    assert len(kept) == 5 and kept[0].shape == (48, 64, 3)
    assert fps > 0


def test_yolox_sized_networks_give_three_levels_of_85_channels() -> None:
    torch = pytest.importorskip("torch")
    small, medium = (gpu_pipeline.yolox_sized(*gpu_pipeline.YOLOX_SIZES[n])
                     for n in ("yolox-s-sized", "yolox-m-sized"))  # fmt: skip
    with torch.inference_mode():
        levels = small(torch.zeros(1, 3, 64, 64))
    assert [tuple(level.shape) for level in levels] == [(1, 85, 8, 8), (1, 85, 4, 4), (1, 85, 2, 2)]

    def count(net) -> int:
        return sum(int(np.prod(p.shape)) for p in net.parameters())

    assert count(medium) > 2 * count(small)


@pytest.mark.slow
def test_gpu_pipeline_end_to_end_runs_the_pipeline_on_cpu(tmp_path) -> None:
    """The end-to-end figure calls `track_video` with a sink factory and reads the run's count."""
    from model_code.pipeline import TrackOptions

    clip = gpu_pipeline.write_clip(tmp_path / "c.mp4", frames=6, width=96, height=64)
    fps, utilisation = gpu_pipeline.end_to_end_fps(clip, TrackOptions(stride=2))
    assert fps > 0
    assert utilisation is None or utilisation >= 0
