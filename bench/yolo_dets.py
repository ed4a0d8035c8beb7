"""Plain OpenCV-DNN yolov3-tiny detection files for PETS09-S2L1, as a tutorial pipeline makes them.

Row c of the tracker benchmark feeds trackers a yolov3-tiny det file. Ours comes from the project
detector; an outside scorer more likely used the textbook recipe: `readNetFromDarknet` with the
mask fix, `blobFromImage` at 768x576 (scale 1/255, swapRB, no letterbox), person score = the
OpenCV output's class column (objectness x class probability), keep >= 0.1, `cv2.dnn.NMSBoxes`
at 0.45. Recipes differ in details that change the file, so this writes a few variants from one
pass of the network:

- `t02-argmax`: OpenCV's yolo layer left at its default `thresh` (class scores <= 0.2 zeroed),
  person = the arg-max class, per-class NMS;
- `t0-argmax`: the layer's threshold set to 0 so scores in [0.1, 0.2] survive, otherwise the same;
- `t0-person`: threshold 0, the person column whatever the arg-max class;
- `t02-agnostic`: default threshold, NMS over every class together, then persons kept.

Run: `.venv/bin/python -m bench.yolo_dets` (about a minute); the files go to .cache/bench/.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from model_code.boxes import cxcywh_to_xyxy, xyxy_to_xywh
from model_code.detectors.yolov3_tiny import CFG_FILE, WEIGHTS_FILE, find_weights_dir, patch_cfg

REPO_ROOT = Path(__file__).resolve().parents[1]
VIDEO = REPO_ROOT.parent / "shared" / "data" / "PETS09-S2L1" / "vtest.avi"
CACHE = REPO_ROOT / ".cache" / "bench"
INPUT_SIZE = (768, 576)
SCORE_MIN = 0.1
NMS_IOU = 0.45
OPENCV_DEFAULT_THRESH = 0.2
VARIANTS = ("t02-argmax", "t0-argmax", "t0-person", "t02-agnostic")


def variant_path(variant: str) -> Path:
    return CACHE / f"pets09-s2l1-yolov3-tiny-{variant}.txt"


def load_net() -> cv2.dnn.Net:
    """The network with the mask fix and every yolo layer's threshold at 0 (all candidates)."""
    folder = find_weights_dir()
    cfg = patch_cfg((folder / CFG_FILE).read_text())
    return cv2.dnn.readNetFromDarknet(
        np.frombuffer(cfg.encode(), dtype=np.uint8),
        np.frombuffer((folder / WEIGHTS_FILE).read_bytes(), dtype=np.uint8),
    )


def raw_candidates(net: cv2.dnn.Net, image: np.ndarray) -> np.ndarray:
    """(K, 4 + 1 + classes) rows: cx, cy, w, h in source pixels, objectness, class scores."""
    blob = cv2.dnn.blobFromImage(image, 1 / 255.0, INPUT_SIZE, swapRB=True, crop=False)
    net.setInput(blob)
    out = np.concatenate(net.forward(net.getUnconnectedOutLayersNames()), axis=0)
    height, width = image.shape[:2]
    out[:, [0, 2]] *= width
    out[:, [1, 3]] *= height
    return out


def _nms(boxes: np.ndarray, scores: np.ndarray) -> np.ndarray:
    if len(boxes) == 0:
        return np.zeros(0, dtype=np.int64)
    keep = cv2.dnn.NMSBoxes(boxes.tolist(), scores.tolist(), SCORE_MIN, NMS_IOU)
    return np.asarray(keep, dtype=np.int64).reshape(-1)


def variant_rows(candidates: np.ndarray, variant: str) -> np.ndarray:
    """(N, 5) person rows x, y, w, h, score for one frame under one recipe."""
    classes = candidates[:, 5:].copy()
    if variant.startswith("t02"):
        classes[classes <= OPENCV_DEFAULT_THRESH] = 0.0
    best = classes.argmax(axis=1)
    best_score = classes[np.arange(len(classes)), best]
    # Tutorial code hands NMSBoxes integer boxes.
    xywh = np.round(xyxy_to_xywh(cxcywh_to_xyxy(candidates[:, :4])))
    if variant == "t0-person":
        person = np.flatnonzero(classes[:, 0] >= SCORE_MIN)
        keep = person[_nms(xywh[person], classes[person, 0])]
        return np.column_stack([xywh[keep], classes[keep, 0]])
    chosen = np.flatnonzero(best_score >= SCORE_MIN)
    if variant == "t02-agnostic":
        kept = chosen[_nms(xywh[chosen], best_score[chosen])]
        keep = kept[best[kept] == 0]
    else:
        person = chosen[best[chosen] == 0]
        keep = person[_nms(xywh[person], best_score[person])]
    return np.column_stack([xywh[keep], best_score[keep]])


def main() -> None:
    net = load_net()
    capture = cv2.VideoCapture(str(VIDEO))
    if not capture.isOpened():
        raise OSError(f"cannot open {VIDEO}")
    rows: dict[str, list[np.ndarray]] = {v: [] for v in VARIANTS}
    frame_number = 0
    while True:
        ok, image = capture.read()
        if not ok:
            break
        frame_number += 1
        candidates = raw_candidates(net, image)
        for variant in VARIANTS:
            found = variant_rows(candidates, variant)
            prefix = np.column_stack([np.full(len(found), frame_number), -np.ones(len(found))])
            rows[variant].append(np.column_stack([prefix, found]))
    capture.release()
    CACHE.mkdir(parents=True, exist_ok=True)
    for variant, chunks in rows.items():
        array = np.concatenate(chunks).reshape(-1, 7)
        np.savetxt(
            variant_path(variant),
            array,
            delimiter=",",
            fmt=["%d", "%d", "%.2f", "%.2f", "%.2f", "%.2f", "%.5f"],
        )
        print(f"{variant}: {len(array)} detections over {frame_number} frames")


if __name__ == "__main__":
    main()
