"""The naive pipeline the engine is compared with: OpenCV decode, yolov3-tiny through OpenCV DNN at
the source size, and `trackers`' ByteTrack.

`python -m bench.naive_pipeline VIDEO --fps 10 --out tracks.txt` tracks persons and writes MOT rows;
`bench/end_to_end.py` times it against `python -m model_code track` in one run, alternately.
Needs the benchmark peers (`make bench` puts them on PYTHONPATH).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from bench.detector_speed import opencv_forward, opencv_yolov3_tiny_net
from bench.peers import roboflow
from model_code.boxes import cxcywh_to_xyxy, mot_rows, xyxy_to_xywh

PERSON = 0
SCORE_THRESHOLD = 0.1
NMS_IOU = 0.45


def person_boxes(
    outputs: Sequence[np.ndarray], width: int, height: int
) -> tuple[np.ndarray, np.ndarray]:
    """Person boxes (xyxy, source pixels) and scores from OpenCV's YOLO rows, after NMS."""
    rows = np.concatenate([o.reshape(-1, o.shape[-1]) for o in outputs])
    scores = rows[:, 5 + PERSON]
    keep = scores >= SCORE_THRESHOLD
    rows, scores = rows[keep], scores[keep]
    boxes = cxcywh_to_xyxy(rows[:, :4] * np.array([width, height, width, height]))
    if not len(boxes):
        return np.zeros((0, 4)), np.zeros(0)
    xywh = xyxy_to_xywh(boxes)
    picked = np.asarray(
        cv2.dnn.NMSBoxes(xywh.tolist(), scores.tolist(), SCORE_THRESHOLD, NMS_IOU), dtype=np.int64
    ).reshape(-1)
    return boxes[picked], scores[picked].astype(np.float64)


def track(video: Path, fps: float, out: Path) -> int:
    """Track `video` the naive way into `out` (MOT rows); returns the frames read."""
    net, names = opencv_yolov3_tiny_net()
    update = roboflow().make(fps)
    capture = cv2.VideoCapture(str(video))
    frame_number = 0
    with out.open("w", encoding="utf-8") as rows:
        while True:
            ok, image = capture.read()
            if not ok:
                break
            frame_number += 1
            height, width = image.shape[:2]
            boxes, scores = person_boxes(opencv_forward(net, names, image), width, height)
            ids, tracked, confidences = update(boxes, scores)
            rows.write(mot_rows(frame_number, ids, tracked, confidences))
    capture.release()
    return frame_number


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.naive_pipeline", description=__doc__)
    parser.add_argument("video", type=Path)
    parser.add_argument("--fps", type=float, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(list(argv or []))
    frames = track(args.video, args.fps, args.out)
    print(f"frames={frames} out={args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
