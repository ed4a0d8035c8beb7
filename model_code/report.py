"""report.html: one self-contained page per job to look at (no network, no other file needed).

`ReportSink` rides along with the other sinks while the frames stream: per track it keeps the
first and last time, the class counts and ONE small crop, the best one seen so far (score times
the square root of the box area, so a large, confident view wins), resized to at most `crop_px`
on its longer side. Crops are kept for the first `max_crops` tracks only, so memory stays bounded
(about 200 x 96 x 96 x 3 bytes) whatever the length of the video. Once the summary exists,
`write_report(summary)` writes the page: the video facts, a timeline of the tracks (inline SVG), a
JPEG crop per track as a `data:` URI, tracks per class, the warnings, links to annotated.mp4 and
preview.mp4 when the job drew them and the analytics figures when the job had a spec. Everything
is inline; the page's Content-Security-Policy forbids fetching anything but the videos it links
to.
"""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from model_code.closing import Closing
from model_code.results import (
    ANNOTATED_MP4,
    PREVIEW_MP4,
    FrameTracks,
    StreamFacts,
    id_colour,
    label_name,
)

MAX_CROPS = 200  # tracks that get a thumbnail; the timeline shows as many rows
CROP_PX = 96  # a thumbnail's longer side
JPEG_QUALITY = 80
IMPROVEMENT = 1.15  # a crop is replaced only by a view this much better (fewer resizes)


@dataclass
class _Track:
    first_t: float
    last_t: float
    labels: dict[str, int] = field(default_factory=dict)
    best: float = 0.0
    crop: np.ndarray | None = None  # BGR, at most CROP_PX on its longer side
    score: float = 0.0

    @property
    def label(self) -> str:
        return max(self.labels.items(), key=lambda item: (item[1], item[0]))[0]


class ReportSink(Closing):
    """Collects what report.html shows while the frames stream; `write_report` writes it."""

    def __init__(
        self,
        path: str | Path,
        stream: StreamFacts,
        annotated: bool = False,
        max_crops: int = MAX_CROPS,
        crop_px: int = CROP_PX,
        preview: bool = False,
    ) -> None:
        self.path = Path(path)
        self.stream = stream
        self.annotated = annotated
        self.preview = preview
        self.max_crops = max_crops
        self.crop_px = crop_px
        self._time_of = stream.time_of or (lambda frame: (frame - 1) / stream.fps)
        self._tracks: dict[int, _Track] = {}
        self._crops = 0

    def write(self, frame: int, image: np.ndarray, tracks: FrameTracks) -> None:
        t = self._time_of(frame)
        for track_id, box, score, label in zip(
            tracks.ids,
            np.asarray(tracks.boxes).reshape(-1, 4),
            tracks.scores,
            tracks.labels,
            strict=True,
        ):
            entry = self._tracks.get(int(track_id))
            if entry is None:
                entry = self._tracks[int(track_id)] = _Track(first_t=t, last_t=t)
                if self._crops < self.max_crops:
                    self._crops += 1
                    entry.best = -1.0  # marks a track that may keep a crop
            entry.last_t = t
            name = label_name(self.stream.class_names, int(label))
            entry.labels[name] = entry.labels.get(name, 0) + 1
            if entry.best != 0.0:
                self._consider_crop(entry, image, box, float(score))

    def _consider_crop(
        self, entry: _Track, image: np.ndarray, box: np.ndarray, score: float
    ) -> None:
        if image is None or image.ndim != 3:
            return
        height, width = image.shape[:2]
        x1, y1 = max(int(box[0]), 0), max(int(box[1]), 0)
        x2, y2 = min(int(math.ceil(box[2])), width), min(int(math.ceil(box[3])), height)
        if x2 - x1 < 2 or y2 - y1 < 2:
            return  # outside the image (a stitch without the source's frames has 1x1 ones)
        quality = score * math.sqrt((x2 - x1) * (y2 - y1))
        if entry.crop is not None and quality < entry.best * IMPROVEMENT:
            return
        import cv2

        crop = image[y1:y2, x1:x2]
        scale = min(1.0, self.crop_px / max(crop.shape[:2]))
        size = (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale)))
        entry.crop = cv2.resize(crop, size, interpolation=cv2.INTER_AREA)
        entry.best, entry.score = quality, score

    def close(self) -> None:
        pass

    def write_report(self, summary: Mapping[str, Any]) -> Path:
        """report.html for the job `summary` describes, next to the other results."""
        self.path.write_text(self.render(summary), encoding="utf-8")
        return self.path

    def render(self, summary: Mapping[str, Any]) -> str:
        tracks = sorted(self._tracks.items(), key=lambda item: (item[1].first_t, item[0]))
        video = summary.get("video") or {}
        duration = float(video.get("duration_s") or 0.0)
        duration = max(duration, max((entry.last_t for _, entry in tracks), default=0.0), 1e-3)
        title = f"motflow report {summary.get('job_id') or ''}".strip()
        body = [
            f"<h1>{_e(title)}</h1>",
            _facts(summary, len(tracks)),
            _link(self.annotated, self.preview),
            _warnings(summary.get("warnings") or []),
            _classes(tracks),
            "<h2>Timeline</h2>",
            _timeline(tracks[: self.max_crops], duration, len(tracks)),
            "<h2>Tracks</h2>",
            _crops(tracks[: self.max_crops], len(tracks)),
            _analytics(summary.get("analytics")),
        ]
        return PAGE.format(title=_e(title), style=STYLE, body="\n".join(b for b in body if b))


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _hex(track_id: int) -> str:
    blue, green, red = id_colour(track_id)
    return f"#{red:02x}{green:02x}{blue:02x}"


def _jpeg_uri(crop: np.ndarray) -> str:
    import cv2

    ok, encoded = cv2.imencode(".jpg", crop, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:  # pragma: no cover - OpenCV encodes any non-empty BGR image
        return ""
    return "data:image/jpeg;base64," + base64.b64encode(encoded.tobytes()).decode("ascii")


def _table(rows: Sequence[tuple[str, Any]], css: str = "facts") -> str:
    cells = "".join(f"<tr><th>{_e(key)}</th><td>{_e(value)}</td></tr>" for key, value in rows)
    return f'<table class="{css}">{cells}</table>'


def _facts(summary: Mapping[str, Any], tracks: int) -> str:
    video = summary.get("video") or {}
    counts = summary.get("counts") or {}
    timings = summary.get("timings") or {}
    cost = summary.get("cost") or {}
    versions = summary.get("versions") or {}
    rows: list[tuple[str, Any]] = [
        ("size", f"{video.get('width', '?')} x {video.get('height', '?')}"),
        ("codec", video.get("codec", "?")),
        ("frame rate", f"{float(video.get('fps') or 0):.3f} fps"),
        ("duration", f"{float(video.get('duration_s') or 0):.2f} s"),
        (
            "frames decoded / processed",
            f"{counts.get('frames_decoded', '?')} / {counts.get('frames_processed', '?')}",
        ),
        ("tracks", tracks),
        ("detections", counts.get("detections", "?")),
        ("processing time", f"{float(timings.get('total_s') or 0):.2f} s"),
    ]
    if isinstance(cost, Mapping) and cost.get("usd") is not None:
        rows.append(("estimated cost", f"${float(cost['usd']):.4f}"))
    if versions:
        rows.append(("versions", ", ".join(f"{k} {v}" for k, v in versions.items())))
    if summary.get("segments"):
        rows.append(("segments", (summary["segments"] or {}).get("count", "?")))
    return "<h2>Video</h2>" + _table(rows)


def _link(annotated: bool, preview: bool) -> str:
    links = []
    if annotated:
        links.append(
            f'<p class="video">Annotated video: <a id="annotated" href="{ANNOTATED_MP4}">'
            f"{ANNOTATED_MP4}</a> (next to this file)</p>"
        )
    if preview:
        links.append(
            f'<p class="video">Preview (small annotated video): <a id="preview" '
            f'href="{PREVIEW_MP4}">{PREVIEW_MP4}</a> (next to this file)</p>'
        )
    return "".join(links)


def _warnings(warnings: Sequence[str]) -> str:
    if not warnings:
        return ""
    items = "".join(f"<li>{_e(w)}</li>" for w in warnings)
    return f'<h2>Warnings</h2><ul class="warnings">{items}</ul>'


def _classes(tracks: Sequence[tuple[int, _Track]]) -> str:
    counts: dict[str, int] = {}
    for _, entry in tracks:
        counts[entry.label] = counts.get(entry.label, 0) + 1
    if not counts:
        return "<h2>Tracks per class</h2><p>No objects were tracked.</p>"
    rows = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return "<h2>Tracks per class</h2>" + _table(rows, "classes")


def _timeline(tracks: Sequence[tuple[int, _Track]], duration: float, total: int) -> str:
    if not tracks:
        return ""
    width, label_w, row_h = 1000, 60, 14
    height = row_h * len(tracks) + 24
    span = width - label_w - 10
    parts = [
        f'<svg id="timeline" xmlns="http://www.w3.org/2000/svg" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="track timeline">'
    ]
    for step in range(6):
        x = label_w + span * step / 5
        anchor = "end" if step == 5 else "middle" if step else "start"
        parts.append(
            f'<line x1="{x:.1f}" y1="0" x2="{x:.1f}" y2="{height - 16}" class="grid"/>'
            f'<text x="{x:.1f}" y="{height - 4}" class="axis" text-anchor="{anchor}">'
            f"{duration * step / 5:.1f}s</text>"
        )
    for row, (track_id, entry) in enumerate(tracks):
        y = row * row_h + 2
        x1 = label_w + span * entry.first_t / duration
        x2 = label_w + span * entry.last_t / duration
        parts.append(
            f'<g class="track"><title>#{track_id} {_e(entry.label)} '
            f"{entry.first_t:.2f}-{entry.last_t:.2f}s</title>"
            f'<text x="2" y="{y + row_h - 4}" class="tid">#{track_id}</text>'
            f'<rect x="{x1:.1f}" y="{y}" width="{max(x2 - x1, 2):.1f}" height="{row_h - 4}" '
            f'rx="2" fill="{_hex(track_id)}"/></g>'
        )
    parts.append("</svg>")
    more = f"<p>{total - len(tracks)} more tracks are not drawn.</p>" if total > len(tracks) else ""
    return "".join(parts) + more


def _crops(tracks: Sequence[tuple[int, _Track]], total: int) -> str:
    if not tracks:
        return ""
    cards = []
    for track_id, entry in tracks:
        if entry.crop is not None:
            image = f'<img class="crop" alt="track {track_id}" src="{_jpeg_uri(entry.crop)}">'
        else:
            image = '<div class="nocrop">no image</div>'
        cards.append(
            f'<figure style="border-color:{_hex(track_id)}">{image}<figcaption>'
            f"#{track_id} {_e(entry.label)}<br>{entry.first_t:.1f}-{entry.last_t:.1f}s"
            "</figcaption></figure>"
        )
    more = (
        f"<p>{total - len(tracks)} more tracks have no thumbnail.</p>"
        if total > len(tracks)
        else ""
    )
    return f'<div class="crops">{"".join(cards)}</div>{more}'


def _analytics(figures: Any) -> str:
    if not isinstance(figures, Mapping):
        return ""
    parts = ["<h2>Analytics</h2>"]
    lines = figures.get("lines") or {}
    if lines:
        rows = "".join(
            f"<tr><td>{_e(name)}</td><td>{_e(line.get('total'))}</td>"
            f"<td>{_e(line.get('forward'))}</td><td>{_e(line.get('backward'))}</td></tr>"
            for name, line in lines.items()
        )
        parts.append(
            '<h3>Line crossings</h3><table class="lines"><tr><th>line</th><th>total</th>'
            f"<th>forward</th><th>backward</th></tr>{rows}</table>"
        )
    zones = figures.get("zones") or {}
    if zones:
        rows = "".join(
            f"<tr><td>{_e(name)}</td><td>{_e(zone.get('entries'))}</td>"
            f"<td>{_e(zone.get('exits'))}</td><td>{_e(zone.get('peak_occupancy'))}</td>"
            f"<td>{_e(zone.get('mean_dwell_s'))}</td></tr>"
            for name, zone in zones.items()
        )
        parts.append(
            '<h3>Zones</h3><table class="zones"><tr><th>zone</th><th>entries</th><th>exits</th>'
            f"<th>peak occupancy</th><th>mean dwell (s)</th></tr>{rows}</table>"
        )
    parts.append(_heatmap(figures.get("heatmap")))
    return "".join(parts)


def _heatmap(heatmap: Any) -> str:
    if not isinstance(heatmap, Mapping) or not heatmap.get("counts"):
        return ""
    columns, rows = int(heatmap["columns"]), int(heatmap["rows"])
    counts = list(heatmap["counts"])
    peak = max(max(counts), 1)
    cell = 12
    rects = "".join(
        f'<rect x="{(i % columns) * cell}" y="{(i // columns) * cell}" width="{cell}" '
        f'height="{cell}" fill="rgba(220,60,20,{count / peak:.3f})"/>'
        for i, count in enumerate(counts[: columns * rows])
        if count
    )
    return (
        f'<h3>Heatmap</h3><svg id="heatmap" xmlns="http://www.w3.org/2000/svg" '
        f'width="{columns * cell}" height="{rows * cell}" class="heatmap">{rects}</svg>'
    )


STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;background:#fafafa}
h1{font-size:22px}h2{font-size:17px;margin-top:28px}h3{font-size:15px}
table{border-collapse:collapse;background:#fff}th,td{border:1px solid #ddd;padding:3px 8px;
text-align:left}
.warnings li{color:#8a4b00}
svg{background:#fff;border:1px solid #ddd}.grid{stroke:#eee}.axis,.tid{font-size:10px;fill:#666}
.crops{display:flex;flex-wrap:wrap;gap:8px}
figure{margin:0;width:104px;border:3px solid #ccc;border-radius:4px;background:#fff;
text-align:center}
.crop{max-width:96px;max-height:96px;margin-top:4px}
.nocrop{height:60px;line-height:60px;color:#999}
figcaption{font-size:11px}
.heatmap{background:#222}
"""

PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; \
style-src 'unsafe-inline'; media-src 'self'">
<title>{title}</title>
<style>{style}</style>
</head>
<body>
{body}
</body>
</html>
"""
