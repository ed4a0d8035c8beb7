"""report.html: a self-contained page per job, checked by structure (always) and in a real
headless Chromium (when the `chromium` binary is installed; Debian's package)."""

from __future__ import annotations

import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from model_code.report import ReportSink
from model_code.results import StreamFacts, file_sinks, id_colour
from model_code.tracking import TrackedObjects

# Each track's object is painted in one flat colour, so a crop (and a screenshot) shows it.
PAINT = {1: (0, 0, 230), 2: (230, 0, 0), 3: (0, 200, 0)}  # BGR
FACTS = StreamFacts(
    fps=10.0, width=320, height=180, processed_fps=10.0, class_names=("person", "car")
)
SUMMARY: dict[str, Any] = {
    "job_id": "job-<1>",
    "video": {
        "codec": "h264",
        "fps": 10.0,
        "frames": 30,
        "width": 320,
        "height": 180,
        "duration_s": 3.0,
    },
    "counts": {"frames_processed": 30, "frames_decoded": 30, "tracks": 3, "detections": 80},
    "timings": {"total_s": 1.5},
    "warnings": ["the video ends early: <truncated>"],
    "cost": {"usd": 0.0012},
    "analytics": {
        "lines": {"door": {"total": 2, "forward": 2, "backward": 0}},
        "zones": {"desk": {"entries": 1, "exits": 1, "peak_occupancy": 1, "mean_dwell_s": 1.2}},
        "heatmap": {
            "columns": 4,
            "rows": 2,
            "cell_px": [80, 90],
            "counts": [0, 3, 1, 0, 0, 0, 5, 0],
        },
    },
}


def feed(sink: ReportSink, frames: int = 30) -> None:
    """Track 1 (person) throughout, track 2 (car) from frame 10, track 3 (person) from 20."""
    for frame in range(1, frames + 1):
        image = np.full((180, 320, 3), 250, np.uint8)
        rows = []
        for track_id, start, x in ((1, 1, 10), (2, 10, 120), (3, 20, 230)):
            if frame >= start:
                image[40:140, x : x + 60] = PAINT[track_id]
                rows.append((track_id, [x, 40, x + 60, 140], 0.5 + frame / 100, track_id == 2))
        sink.write(
            frame,
            image,
            TrackedObjects(
                np.array([r[0] for r in rows]),
                np.array([r[1] for r in rows], np.float32),
                np.array([r[2] for r in rows], np.float32),
                np.array([int(r[3]) for r in rows]),
            ),
        )


class Page(HTMLParser):
    """Tags with their attributes, and the text, of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {k: v or "" for k, v in attrs}))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def find(self, tag: str, **attrs: str) -> list[dict[str, str]]:
        return [
            found
            for name, found in self.tags
            if name == tag and all(found.get(k) == v for k, v in attrs.items())
        ]


def parsed(path: Path) -> Page:
    page = Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


def report(
    tmp_path: Path, annotated: bool = True, max_crops: int = 200, preview: bool = True
) -> Path:
    sink = ReportSink(
        tmp_path / "report.html", FACTS, annotated=annotated, max_crops=max_crops, preview=preview
    )
    feed(sink)
    sink.close()
    return sink.write_report(SUMMARY)


def test_report_holds_facts_timeline_crops_classes_warnings_link_and_analytics(
    tmp_path: Path,
) -> None:
    page = parsed(report(tmp_path))
    text = " ".join(page.text)
    crops = page.find("img", **{"class": "crop"})
    assert len(crops) == 3 and all(c["src"].startswith("data:image/jpeg;base64,") for c in crops)
    timeline = [attrs for tag, attrs in page.tags if tag == "rect" and attrs.get("rx") == "2"]
    rgb = ["#{2:02x}{1:02x}{0:02x}".format(*id_colour(i)) for i in (1, 2, 3)]
    assert [r["fill"] for r in timeline] == rgb
    assert float(timeline[0]["width"]) > float(timeline[2]["width"])  # track 1 lasts longest
    assert page.find("svg", id="timeline") and page.find("svg", id="heatmap")
    assert page.find("a", id="annotated", href="annotated.mp4")
    assert page.find("a", id="preview", href="preview.mp4")
    # Per-class counts: two persons, one car; the facts, the escaped warning, the analytics.
    assert "person 2" in " ".join(text.split()) and "car 1" in " ".join(text.split())
    for expected in (
        "320 x 180",
        "h264",
        "3.00 s",
        "$0.0012",
        "job-<1>",
        "<truncated>",
        "door",
        "desk",
    ):
        assert expected in text
    # Self-contained: nothing is fetched from anywhere; only the videos beside it are linked.
    sources = [a.get("src", "") for _, a in page.tags] + [a.get("href", "") for _, a in page.tags]
    assert all(s.startswith("data:") or s in ("", "annotated.mp4", "preview.mp4") for s in sources)
    assert not page.find("script") and not page.find("link")


def test_report_bounds_its_crops_and_drops_what_a_job_lacks(tmp_path: Path) -> None:
    page = parsed(report(tmp_path, annotated=False, max_crops=2, preview=False))
    assert len(page.find("img", **{"class": "crop"})) == 2
    assert "1 more tracks have no thumbnail." in " ".join(page.text)
    assert not page.find("a", id="annotated") and not page.find("a", id="preview")
    sink = ReportSink(tmp_path / "empty.html", FACTS)
    sink.write_report({"job_id": None, "video": SUMMARY["video"], "warnings": []})
    empty = parsed(tmp_path / "empty.html")
    assert "No objects were tracked." in " ".join(empty.text)
    assert not empty.find("svg") and not empty.find("img")


def test_a_crop_is_the_best_view_and_blank_frames_give_none(tmp_path: Path) -> None:
    """A stitch without the source's frames feeds 1x1 images: the track has no crop."""
    sink = ReportSink(tmp_path / "r.html", FACTS)
    blank = np.zeros((1, 1, 3), np.uint8)
    objects = TrackedObjects(
        np.array([4]), np.array([[0, 0, 50, 50]], np.float32), np.array([0.9]), np.array([0])
    )
    sink.write(1, blank, objects)
    page = parsed(sink.write_report(SUMMARY))
    assert not page.find("img") and "no image" in page.text


def test_file_sinks_write_the_report_once_the_summary_exists(tmp_path: Path) -> None:
    sinks = file_sinks(tmp_path, annotate=False)(FACTS)
    reports = [sink for sink in sinks if isinstance(sink, ReportSink)]
    assert len(reports) == 1 and reports[0].path == tmp_path / "report.html"
    assert not reports[0].path.exists()
    for sink in sinks:
        sink.close()
    assert "preview.mp4" not in reports[0].write_report(SUMMARY).read_text()


def test_a_job_with_a_preview_links_it_from_its_report(tmp_path: Path) -> None:
    sinks = file_sinks(tmp_path, annotate=False, preview=True)(FACTS)
    (report_sink,) = [sink for sink in sinks if isinstance(sink, ReportSink)]
    for sink in sinks:
        feed(sink, frames=3)
        sink.close()
    page = parsed(report_sink.write_report(SUMMARY))
    assert page.find("a", id="preview", href="preview.mp4")
    assert (tmp_path / "preview.mp4").stat().st_size > 0


@pytest.mark.skipif(shutil.which("chromium") is None, reason="chromium is not installed")
def test_report_renders_in_headless_chromium(tmp_path: Path) -> None:
    """The page renders offline: the crops' and the timeline's colours are on the screenshot."""
    path = report(tmp_path)
    shot = tmp_path / "shot.png"
    subprocess.run(
        [
            "chromium",
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            f"--user-data-dir={tmp_path / 'profile'}",
            f"--screenshot={shot}",
            "--window-size=1280,1400",
            path.as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    import cv2

    image = cv2.imread(str(shot))
    assert image is not None and image.shape[:2] == (1400, 1280)

    def pixels_near(bgr: tuple[int, int, int]) -> int:
        return int((np.abs(image.astype(int) - np.array(bgr)).max(axis=2) < 40).sum())

    for track_id, paint in PAINT.items():
        assert pixels_near(paint) > 500, f"crop of track {track_id} not drawn"
        assert pixels_near(id_colour(track_id)) > 500, f"timeline bar {track_id} not drawn"
