"""Fixtures for the engine tests: synthetic H.264 clips and an S3 served by moto."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

ClipFactory = Callable[..., Path]


def write_clip(
    path: Path,
    frames: int,
    size: tuple[int, int] = (160, 96),
    fps: int = 10,
    faststart: bool = False,
    noise: bool = False,
) -> Path:
    """An H.264 mp4 of a green box moving right 4 px per frame (wrapping at the right edge).

    `noise` fills each frame with fresh random noise so that frames have similar sizes.
    """
    width, height = size
    rng = np.random.default_rng(0)
    options = {"movflags": "faststart"} if faststart else {}
    with av.open(str(path), "w", options=options) as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for i in range(frames):
            image = np.zeros((height, width, 3), np.uint8)
            if noise:  # every frame costs about the same number of bytes
                image[:] = rng.integers(0, 120, (height, width, 3), dtype=np.uint8)
            cv2.rectangle(image, (4 * i % width, 20), (4 * i % width + 30, 80), (0, 255, 0), -1)
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="bgr24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


@pytest.fixture
def make_clip(tmp_path: Path) -> ClipFactory:
    def make(name: str = "clip.mp4", frames: int = 20, **kwargs: object) -> Path:
        return write_clip(tmp_path / name, frames, **kwargs)

    return make


@pytest.fixture
def aws_s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A moto S3 on 127.0.0.1 (free port) with boto3 pointed at it; yields the endpoint URL."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    for name, value in {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        "AWS_EC2_METADATA_DISABLED": "true",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL_S3", raising=False)
    try:
        yield endpoint
    finally:
        server.stop()
