"""Peak RSS of the serving worker for a 30-minute low-resolution video against a 1-minute one:
`python -m bench.long_video_rss [--minutes 30] [--fps 1]`.

Both clips are written with PyAV (96x64 H.264, a moving box, `--fps` frames per second so the
long one stays quick on a CPU) and run one after the other through the whole local stack
(moto, the model server, the async-endpoint emulator, the real Lambdas).
The figure is the largest RSS of one model server worker process while each job runs, sampled
every 0.5 s. Decoding streams frame by frame, so the two peaks should be close.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import av
import numpy as np

from bench.burst import _PeakRss
from local.stack import LocalStack, local_stack
from model_code.serving.pool import WORKER_CMDLINE_MARK
from stacks.settings import Settings

WORKER_MARK = WORKER_CMDLINE_MARK
SIZE = (96, 64)


def write_clip(path: Path, seconds: int, fps: int) -> Path:
    """`seconds` of a box moving across a dark 96x64 picture at `fps`."""
    width, height = SIZE
    with av.open(str(path), "w", options={"movflags": "faststart"}) as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for index in range(seconds * fps):
            image = np.full((height, width, 3), 40, np.uint8)
            x = (index * 3) % (width - 12)
            image[16:48, x : x + 12] = (0, 200, 0)
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="bgr24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def worker_peak(stack: LocalStack, clip: Path, timeout_s: float) -> tuple[float, float, dict]:
    """Peak worker RSS (MiB), upload-to-terminal seconds and the job record for one clip."""
    pid = stack.model_server.process.popen.pid
    with _PeakRss(pid, WORKER_MARK) as rss:
        started = time.monotonic()
        _, job_id = stack.upload(clip, f"{stack.settings.input_prefix}rss/{clip.name}")
        record = stack.wait_terminal([job_id], timeout_s)[job_id]
        took = time.monotonic() - started
    return rss.peak / 2**20, took, record


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.long_video_rss")
    parser.add_argument("--minutes", type=int, default=30)
    parser.add_argument("--fps", type=int, default=1)
    args = parser.parse_args(argv)
    settings = Settings.from_context({"max_concurrent_invocations_per_instance": 1})
    rows = []
    with (
        tempfile.TemporaryDirectory(prefix="motflow-rss-") as folder,
        local_stack(Path(folder) / "run", settings) as stack,
    ):
        for minutes in (1, args.minutes):
            clip = write_clip(Path(folder) / f"low-res-{minutes}min.mp4", minutes * 60, args.fps)
            peak, took, record = worker_peak(stack, clip, timeout_s=600.0 + minutes * 120.0)
            frames = (record.get("video_info") or {}).get("frames")
            rows.append((minutes, frames, record["status"], peak, took))
    print(f"clips: {SIZE[0]}x{SIZE[1]} H.264 at {args.fps} fps through the local stack")
    print(f"{'minutes':>8}{'frames':>8}{'status':>11}{'worker peak RSS (MiB)':>23}{'wall (s)':>10}")
    for minutes, frames, status, peak, took in rows:
        print(f"{minutes:>8}{frames!s:>8}{status:>11}{peak:>23.0f}{took:>10.1f}")
    growth = 100.0 * (rows[1][3] / rows[0][3] - 1.0)
    print(f"{args.minutes}-minute vs 1-minute worker peak RSS: {growth:+.1f}%")


if __name__ == "__main__":
    main()
