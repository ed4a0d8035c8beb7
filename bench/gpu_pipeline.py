"""Throughput of the pipeline's pieces on a generated 1080p H.264 clip; meant for a GPU machine.

`python -m bench.gpu_pipeline [--frames 300] [--batches 1,8,32] [--json OUT]` measures:
- decode-only fps (`model_code.video.VideoReader`, every frame);
- detector-only fps at each batch size: the default detector, and YOLOX-S- and YOLOX-M-sized
  networks (CSP-Darknet widths and depths, random weights: valid for throughput, not accuracy) in
  torch on the GPU (fp16) or, without one, on the CPU (fp32);
- end-to-end fps (`model_code.pipeline.track_video` with default options);
- GPU utilisation (sampled from `nvidia-smi` while end to end runs) and peak GPU memory.
Target: end-to-end fps at least 80% of min(decode-only, default detector-only).

Runs anywhere: on a CPU-only machine use a tiny clip for a smoke run, e.g.
`python -m bench.gpu_pipeline --frames 8 --size 640x360 --batches 1,2`; the figures are then CPU
figures and the GPU columns say "n/a".
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from model_code.detectors import DEFAULT_DETECTOR

TARGET_FRACTION = 0.8
# (depth, width) multipliers of the YOLOX family (YOLOX paper / model zoo): S and M.
YOLOX_SIZES = {"yolox-s-sized": (0.33, 0.50), "yolox-m-sized": (0.67, 0.75)}
YOLOX_INPUT = 640


def write_clip(path: Path, frames: int, width: int, height: int, fps: int = 30) -> Path:
    """A moving-pattern H.264 clip (PyAV's libx264), so the decoder has real work to do."""
    import av

    ys, xs = np.mgrid[0:height, 0:width]
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for i in range(frames):
            image = np.stack(
                [(xs + 4 * i) % 256, (ys + 2 * i) % 256, (xs + ys + 8 * i) % 256], axis=-1
            ).astype(np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="bgr24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def decode_fps(clip: Path) -> tuple[float, list[np.ndarray]]:
    """Frames per second of decoding every frame; also returns up to 32 frames for the detectors."""
    from model_code.video import VideoReader

    kept: list[np.ndarray] = []
    started = time.perf_counter()
    count = 0
    with VideoReader(clip) as video:
        for _, image in video:
            count += 1
            if len(kept) < 32:
                kept.append(image)
    return count / (time.perf_counter() - started), kept


def _batch(frames: list[np.ndarray], size: int) -> list[np.ndarray]:
    return [frames[i % len(frames)] for i in range(size)]


def default_detector_fps(
    frames: list[np.ndarray],
    batches: Sequence[int],
    name: str = DEFAULT_DETECTOR,
    repeats: int = 1,
    **options: Any,
) -> dict[int, float]:
    """Detector-only fps of `name` at each batch size (`options` go to `build_detector`)."""
    from model_code.detectors import build_detector

    out = {}
    for size in batches:
        # the network batch follows the pipeline batch measured here (fp16 on CUDA)
        detector = build_detector(name, batch_size=size, **options)
        batch = _batch(frames, size)
        detector.detect(batch)  # first call allocates buffers (and autotunes cuDNN)
        started = time.perf_counter()
        for _ in range(repeats):
            detector.detect(batch)
        out[size] = repeats * size / (time.perf_counter() - started)
    return out


def yolox_sized(depth: float, width: float) -> Any:
    """A CSP-Darknet backbone and a YOLOX-like head at the given multipliers (random weights)."""
    import torch
    from torch import nn

    def conv(cin: int, cout: int, k: int = 3, s: int = 1) -> nn.Module:
        return nn.Sequential(
            nn.Conv2d(cin, cout, k, s, k // 2, bias=False), nn.BatchNorm2d(cout), nn.SiLU()
        )

    class Csp(nn.Module):
        def __init__(self, channels: int, blocks: int) -> None:
            super().__init__()
            half = channels // 2
            self.a, self.b = conv(channels, half, 1), conv(channels, half, 1)
            self.blocks = nn.Sequential(
                *[nn.Sequential(conv(half, half, 1), conv(half, half)) for _ in range(blocks)]
            )
            self.out = conv(2 * half, channels, 1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.out(torch.cat([self.blocks(self.a(x)), self.b(x)], dim=1))

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            c = [int(64 * width * m) for m in (1, 2, 4, 8, 16)]
            n = max(1, round(3 * depth))
            self.stem = conv(3, c[0], 3, 2)
            self.stages = nn.ModuleList(
                nn.Sequential(
                    conv(c[i], c[i + 1], 3, 2), Csp(c[i + 1], n * (3 if i in (1, 2) else 1))
                )
                for i in range(4)
            )
            hidden = int(256 * width)
            self.heads = nn.ModuleList(
                nn.Sequential(conv(ch, hidden, 1), conv(hidden, hidden), conv(hidden, hidden),
                              nn.Conv2d(hidden, 85, 1))
                for ch in c[2:]
            )  # fmt: skip

        def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
            x = self.stem(x)
            levels = []
            for i, stage in enumerate(self.stages):
                x = stage(x)
                if i >= 1:
                    levels.append(x)
            return [head(level) for head, level in zip(self.heads, levels, strict=True)]

    return Net().eval()


def yolox_sized_fps(batches: Sequence[int], repeats: int = 3) -> dict[str, dict[int, float]]:
    import torch

    cuda = torch.cuda.is_available()
    device = torch.device("cuda" if cuda else "cpu")
    dtype = torch.float16 if cuda else torch.float32
    out: dict[str, dict[int, float]] = {}
    for name, (depth, width) in YOLOX_SIZES.items():
        net = yolox_sized(depth, width).to(device=device, dtype=dtype)
        out[name] = {}
        with torch.inference_mode():
            for size in batches:
                x = torch.rand(size, 3, YOLOX_INPUT, YOLOX_INPUT, device=device, dtype=dtype)
                net(x)  # warm-up (cuDNN autotuning, allocations)
                if cuda:
                    torch.cuda.synchronize()
                started = time.perf_counter()
                for _ in range(repeats):
                    net(x)
                if cuda:
                    torch.cuda.synchronize()
                out[name][size] = repeats * size / (time.perf_counter() - started)
    return out


class GpuSampler:
    """Samples `nvidia-smi` utilisation every 0.5 s while active; None without nvidia-smi."""

    def __init__(self) -> None:
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.available = shutil.which("nvidia-smi") is not None

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            result = subprocess.run(
                ["nvidia-smi", "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits"],
                capture_output=True, text=True, check=False,
            )  # fmt: skip
            if result.returncode == 0 and result.stdout.strip():
                self.samples.append(float(result.stdout.split()[0]))

    def __enter__(self) -> GpuSampler:
        if self.available:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self.available:
            self._thread.join(timeout=2)

    @property
    def mean(self) -> float | None:
        return sum(self.samples) / len(self.samples) if self.samples else None


def end_to_end_fps(
    clip: Path, options: Any = None, detector: Any = None
) -> tuple[float, float | None]:
    """Frames per second of `track_video` writing the MOT/JSONL files (`options`: a
    `TrackOptions`, default options when None; `detector`: built by the pipeline when None, its
    build then counted), and the mean GPU utilisation meanwhile."""
    from model_code.pipeline import track_video
    from model_code.results import file_sinks

    with tempfile.TemporaryDirectory(prefix="motflow-gpu-") as out, GpuSampler() as sampler:
        started = time.perf_counter()
        run = track_video(clip, file_sinks(Path(out), annotate=False), options, detector)
        fps = run.frames_processed / (time.perf_counter() - started)
    return fps, sampler.mean


def device_facts() -> dict[str, Any]:
    import torch

    if not torch.cuda.is_available():
        return {"device": "cpu (no CUDA device)", "peak_gpu_memory_mib": None}
    return {
        "device": torch.cuda.get_device_name(0),
        "peak_gpu_memory_mib": round(torch.cuda.max_memory_allocated() / 2**20, 1),
    }


def measure(frames: int, width: int, height: int, batches: Sequence[int]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="motflow-clip-") as work:
        clip = write_clip(Path(work) / "clip.mp4", frames, width, height)
        decode, kept = decode_fps(clip)
        detector = default_detector_fps(kept, batches)
        yolox = yolox_sized_fps(batches)
        e2e, utilisation = end_to_end_fps(clip)
    bound = min(decode, max(detector.values()))
    return {
        "clip": {"frames": frames, "width": width, "height": height, "codec": "h264"},
        "decode_fps": round(decode, 1),
        "detector_fps": {DEFAULT_DETECTOR: {b: round(v, 1) for b, v in detector.items()}}
        | {name: {b: round(v, 1) for b, v in fps.items()} for name, fps in yolox.items()},
        "end_to_end_fps": round(e2e, 1),
        "end_to_end_vs_bound": round(e2e / bound, 3),
        "target": TARGET_FRACTION,
        "gpu_utilisation_pct": None if utilisation is None else round(utilisation, 1),
        **device_facts(),
    }


def print_report(figures: dict[str, Any]) -> None:
    clip = figures["clip"]
    print(f"device: {figures['device']}; clip {clip['width']}x{clip['height']} H.264, "
          f"{clip['frames']} frames")  # fmt: skip
    print(f"decode only: {figures['decode_fps']:.1f} fps")
    for name, by_batch in figures["detector_fps"].items():
        cells = "  ".join(f"b{b}: {fps:.1f}" for b, fps in by_batch.items())
        print(f"detector only, {name:<14} {cells} fps")
    print(
        f"end to end: {figures['end_to_end_fps']:.1f} fps = "
        f"{100 * figures['end_to_end_vs_bound']:.0f}% of min(decode, detector) "
        f"(target >= {100 * TARGET_FRACTION:.0f}%)"
    )
    util = figures["gpu_utilisation_pct"]
    memory = figures["peak_gpu_memory_mib"]
    print(f"GPU utilisation: {'n/a' if util is None else f'{util:.0f}%'}; peak GPU memory: "
          f"{'n/a' if memory is None else f'{memory:.0f} MiB'}")  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.gpu_pipeline", description=__doc__)
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--size", default="1920x1080", help="WIDTHxHEIGHT of the generated clip")
    parser.add_argument("--batches", default="1,8,32", help="detector batch sizes")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(list(argv or []))
    try:
        width, height = (int(v) for v in args.size.lower().split("x"))
        batches = [int(b) for b in args.batches.split(",")]
    except ValueError:
        parser.error(f"--size must be WIDTHxHEIGHT and --batches numbers, got {args.size!r}, "
                     f"{args.batches!r}")  # fmt: skip
    if args.frames < 1 or width < 16 or height < 16 or min(batches) < 1:
        parser.error("--frames and --batches must be 1 or more, --size at least 16x16")
    figures = measure(args.frames, width, height, batches)
    print_report(figures)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
