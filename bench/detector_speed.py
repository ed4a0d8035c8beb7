"""Detector speed: ms per frame of `detect()` (letterbox, network, NMS) by detector, backend, batch.

On the CPU every torch detector runs on both CPU backends (onnxruntime and plain torch) at batch
1 and 4, and one that runs int8 by default (NanoDet-g) also in int8 and in fp32 on onnxruntime;
on CUDA each runs in fp16 at batch 1, 8 and 32. OpenCV DNN's yolov3-tiny (the previous
default and the naive peer) is timed on the same frames for reference. Frames are the bundled
sample's (768x432), repeated; each figure is the fastest of `--repeats` timed calls after a
warm-up (the least disturbed one on a shared machine).

Run: `python -m bench.detector_speed [--repeats 10] [--device auto|cpu|cuda]`.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import cv2
import numpy as np

from bench.detector_dets import runs_int8_on_cpu
from model_code.detectors import build_detector

REPO_ROOT = Path(__file__).resolve().parents[1]
SAMPLE = REPO_ROOT / "samples" / "people-walking.mp4"
DETECTORS = ("nanodet-g", "yolov4-tiny", "yolov3-tiny")
CPU_BATCHES = (1, 4)
GPU_BATCHES = (1, 8, 32)


def sample_frames(count: int) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(SAMPLE))
    frames = []
    while len(frames) < count:
        ok, image = capture.read()
        if not ok:
            capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
            continue
        frames.append(image)
    capture.release()
    return frames


def ms_per_frame(
    run: Callable[[Sequence[np.ndarray]], object], frames: list, repeats: int
) -> float:
    run(frames)  # warm-up: allocations, cuDNN autotuning, onnxruntime shape caches
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        run(frames)
        times.append(time.perf_counter() - started)
    return 1000 * min(times) / len(frames)


def opencv_yolov3_tiny_net() -> tuple[cv2.dnn.Net, Sequence[str]]:
    """yolov3-tiny through OpenCV DNN (mask fixed), as the naive peer runs it."""
    from model_code.detectors.yolov3_tiny import CFG_FILE, WEIGHTS_FILE, find_weights_dir, patch_cfg

    folder = find_weights_dir()
    net = cv2.dnn.readNetFromDarknet(
        np.frombuffer(patch_cfg((folder / CFG_FILE).read_text()).encode(), np.uint8),
        np.frombuffer((folder / WEIGHTS_FILE).read_bytes(), np.uint8),
    )
    return net, net.getUnconnectedOutLayersNames()


def opencv_forward(net: cv2.dnn.Net, names: Sequence[str], frame: np.ndarray) -> list[np.ndarray]:
    """One forward pass at the source size (rounded up to a multiple of 32)."""
    height, width = frame.shape[:2]
    size = (-(-width // 32) * 32, -(-height // 32) * 32)
    net.setInput(cv2.dnn.blobFromImage(frame, 1 / 255.0, size, swapRB=True))
    return net.forward(names)


def opencv_yolov3_tiny() -> Callable[[Sequence[np.ndarray]], object]:
    """The naive peer: OpenCV DNN at the source size, one frame per forward."""
    net, names = opencv_yolov3_tiny_net()

    def run(frames: Sequence[np.ndarray]) -> object:
        for frame in frames:
            opencv_forward(net, names, frame)
        return None

    return run


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args([] if argv is None else argv)
    import torch

    cuda = torch.cuda.is_available() and args.device != "cpu"
    print(f"torch {torch.__version__}, CUDA: {torch.cuda.get_device_name(0) if cuda else 'none'}")
    print("detector     device  backend      precision  batch  input      ms/frame")
    runs = []
    for name in DETECTORS:
        if cuda:
            runs += [(name, {"device": args.device}, batch) for batch in GPU_BATCHES]
        else:
            for backend in ("onnxruntime", "torch"):
                runs += [(name, {"device": "cpu", "backend": backend}, b) for b in CPU_BATCHES]
            if runs_int8_on_cpu(name):  # its default: int8; the fp32 onnxruntime rows beside it
                runs = [
                    (n, {**o, "int8": False} if o.get("backend") == "onnxruntime" else o, b)
                    for n, o, b in runs
                ]
                runs += [(name, {"device": "cpu", "int8": True}, b) for b in CPU_BATCHES]
    for name, options, batch in runs:
        detector = build_detector(name, batch_size=batch, **options)
        frames = sample_frames(batch)
        info = detector.runtime()
        size = "x".join(map(str, detector.network_size(frames[0].shape[1], frames[0].shape[0])))
        ms = ms_per_frame(detector.detect, frames, args.repeats)
        print(
            f"{name:<12} {info['device']:<7} {info['backend']:<12} {info['precision']:<10} "
            f"{batch:>5}  {size:<9} {ms:9.1f}",
            flush=True,
        )
    frames = sample_frames(1)
    ms = ms_per_frame(opencv_yolov3_tiny(), frames, args.repeats)
    print(
        f"{'yolov3-tiny':<12} {'cpu':<7} {'opencv-dnn':<12} {'fp32':<10} {1:>5}  "
        f"{'768x448':<9} {ms:9.1f}"
    )


if __name__ == "__main__":
    main(sys.argv[1:])
