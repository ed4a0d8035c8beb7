"""Tiny labelled scenes written in each supported label format, for the training tests.

A scene is a textured background with a few solid "widget" squares moving across it; their boxes
are exact, so a detector can learn them in a few iterations.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import av
import cv2
import numpy as np

WIDTH, HEIGHT = 160, 128
LABEL = "widget"


@dataclass(frozen=True)
class SceneFrame:
    image: np.ndarray
    boxes: list[tuple[int, int, int, int, int]]  # x, y, w, h, track id


def make_sequence(seed: int, frames: int) -> list[SceneFrame]:
    rng = np.random.default_rng(seed)
    background = rng.integers(40, 110, (HEIGHT, WIDTH, 3), dtype=np.uint8)
    background = cv2.GaussianBlur(background, (5, 5), 0)
    objects = [
        tuple(
            int(v)
            for v in (
                rng.integers(5, 60),
                rng.integers(5, 70),
                rng.integers(20, 34),
                rng.integers(3, 6),
            )
        )
        for _ in range(2)
    ]
    out = []
    for t in range(frames):
        image = background.copy()
        boxes = []
        for track, (x0, y0, size, speed) in enumerate(objects, 1):
            x, y = (x0 + speed * t) % (WIDTH - size), y0
            image[y : y + size, x : x + size] = (30, 200, 240)
            cv2.rectangle(image, (x, y), (x + size - 1, y + size - 1), (10, 60, 200), 2)
            boxes.append((x, y, size, size, track))
        out.append(SceneFrame(image, boxes))
    return out


def make_scene(sequences: int = 3, frames: int = 6) -> dict[str, list[SceneFrame]]:
    return {f"seq{i + 1}": make_sequence(i, frames) for i in range(sequences)}


def write_mot(root: Path, scene: dict[str, list[SceneFrame]], *, video: bool = False) -> Path:
    """MOT sequences as CVAT exports them: gt/gt.txt (class 1), gt/labels.txt, and img1/ frames
    or an H.264 mp4 beside gt/."""
    for name, frames in scene.items():
        folder = root / name
        (folder / "gt").mkdir(parents=True)
        rows = [
            f"{t},{track},{x},{y},{w},{h},1,1,1.0"
            for t, frame in enumerate(frames, 1)
            for x, y, w, h, track in frame.boxes
        ]
        rows.append("1,99,0,0,30,30,0,1,1.0")  # not considered: must be skipped
        (folder / "gt" / "gt.txt").write_text("\n".join(rows) + "\n")
        (folder / "gt" / "labels.txt").write_text(f"{LABEL}\n")  # CVAT's MOT export
        if video:
            write_h264(folder / f"{name}.mp4", [f.image for f in frames])
        else:
            (folder / "img1").mkdir()
            for t, frame in enumerate(frames, 1):
                cv2.imwrite(str(folder / "img1" / f"{t:06d}.png"), frame.image)
    return root


def write_h264(path: Path, images: list[np.ndarray]) -> None:
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        stream.options = {"crf": "12"}
        for image in images:
            frame = av.VideoFrame.from_ndarray(image, format="bgr24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))


def write_coco(root: Path, scene: dict[str, list[SceneFrame]]) -> Path:
    """One COCO file; images in one folder per sequence, so the folder names the sequence."""
    images, annotations = [], []
    for name, frames in scene.items():
        (root / name).mkdir(parents=True)
        for t, frame in enumerate(frames):
            image_id = len(images) + 1
            file_name = f"{name}/{t:04d}.png"
            cv2.imwrite(str(root / file_name), frame.image)
            images.append(
                {"id": image_id, "file_name": file_name, "width": WIDTH, "height": HEIGHT}
            )
            for x, y, w, h, track in frame.boxes:
                annotations.append(
                    {
                        "id": len(annotations) + 1,
                        "image_id": image_id,
                        "category_id": 7,
                        "bbox": [x, y, w, h],
                        "area": w * h,
                        "iscrowd": 0,
                        "instance_id": f"{name}-{track}",
                    }
                )
    annotations.append(
        {"id": 999, "image_id": 1, "category_id": 7, "bbox": [0, 0, 50, 50], "iscrowd": 1}
    )
    data = {"images": images, "annotations": annotations, "categories": [{"id": 7, "name": LABEL}]}
    (root / "annotations.json").write_text(json.dumps(data))
    return root


def write_groundtruth(
    root: Path,
    scene: dict[str, list[SceneFrame]],
    task: str = "tracking",
    object_ids: bool = True,
) -> Path:
    """A synced Ground Truth video object tracking (or, with `task="detection"`, video object
    detection) job: output manifest, sequence files, SeqLabel.json files and frames, all named
    by s3:// URIs as the service writes them. `object_ids=False` leaves out object-id/name."""
    bucket = "s3://labels-bucket"
    lines = []
    for i, (name, frames) in enumerate(scene.items()):
        frame_dir = root / "frames" / name
        frame_dir.mkdir(parents=True)
        frame_names = []
        for t, frame in enumerate(frames):
            frame_names.append(f"frame_{t:04d}.jpeg")
            cv2.imwrite(
                str(frame_dir / frame_names[-1]), frame.image, [cv2.IMWRITE_JPEG_QUALITY, 95]
            )
        seq_file = root / "inputs" / f"{name}.json"
        seq_file.parent.mkdir(parents=True, exist_ok=True)
        seq_file.write_text(
            json.dumps(
                {
                    "seq-no": i + 1,
                    "prefix": f"{bucket}/frames/{name}/",
                    "number-of-frames": len(frames),
                    "frames": [{"frame-no": t, "frame": n} for t, n in enumerate(frame_names)],
                }
            )
        )
        tracking = [
            {
                "frame-no": str(t),
                "frame": frame_names[t],
                "annotations": [
                    {
                        "height": h,
                        "width": w,
                        "top": y,
                        "left": x,
                        "class-id": "0",
                        "label-category-attributes": {},
                    }
                    | (
                        {"object-id": f"{name}-object-{track}", "object-name": f"{LABEL}:{track}"}
                        if object_ids
                        else {}
                    )
                    for x, y, w, h, track in frame.boxes
                ],
            }
            for t, frame in enumerate(frames)
        ]
        label_key = f"job/annotations/consolidated-annotation/output/{i}/SeqLabel.json"
        (root / label_key).parent.mkdir(parents=True)
        (root / label_key).write_text(json.dumps({f"{task}-annotations": tracking}))
        lines.append(
            {
                "source-ref": f"{bucket}/inputs/{name}.json",
                "Widgets-ref": f"{bucket}/{label_key}",
                "Widgets-ref-metadata": {
                    "class-map": {"0": LABEL},
                    "job-name": "labeling-job/job",
                    "human-annotated": "yes",
                    "creation-date": "2026-12-01T00:00:00+0000",
                    "type": f"groundtruth/video-object-{task}",
                },
            }
        )
    (root / "output.manifest").write_text("\n".join(json.dumps(ln) for ln in lines) + "\n")
    return root


WRITERS = {
    "groundtruth": write_groundtruth,
    "groundtruth-detection": lambda root, scene: write_groundtruth(root, scene, "detection"),
    "coco": write_coco,
    "mot": write_mot,
    "mot-video": lambda root, scene: write_mot(root, scene, video=True),
}
