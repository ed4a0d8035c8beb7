"""The per-job options as a JSON Schema, generated from `TrackOptions` and `TrackerConfig`.

The submit Lambda and the `motflow` command cannot import the engine, so the schema is published
once as data, ``lambdas/job_options.schema.json``; ``python -m model_code.option_schema`` rewrites
it and a test keeps it equal to what this module builds and in agreement with
`TrackOptions.from_dict`. Every number has a range the engine and a DynamoDB record can hold
(``maximum`` on each); the cross-field rules (``x-not-above``: ``low_threshold <= high_threshold``),
each detector's class names (``x-detector-classes``) and tracker defaults (``x-tracker-presets``)
are published as data too, so submit rejects a bad option before any endpoint time. The engine
checks them all again when the job runs.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import typing
from pathlib import Path
from typing import Any

from model_code.detectors import COCO_CLASS_NAMES, DETECTOR_NAMES
from model_code.pipeline import MAX_BATCH_SIZE, MAX_PREFETCH, MAX_STRIDE, TrackOptions
from model_code.results import TRACK_FRAMES
from model_code.tracking import TrackerConfig
from model_code.tracking.config import _UNIT_INTERVAL
from model_code.tracking.presets import KNOWN_DETECTORS, preset

SCHEMA_PATH = Path(__file__).resolve().parents[1] / "lambdas" / "job_options.schema.json"
# The analytics spec's schema is written once, by hand, in docs/ and embedded here (the Lambda
# asset carries lambdas/ only). This module runs from a checkout, never in the container.
ANALYTICS_SPEC_PATH = (
    Path(__file__).resolve().parents[1] / "docs" / "schemas" / "analytics-spec.schema.json"
)

# Upper bounds for the settings the engine leaves open: far past any useful value, and small
# enough that the frame counts derived from them stay exact.
MAX_TRACKER_SECONDS = 3600.0  # track_buffer_s, tentative_s, coast_s
MAX_BOX_AREA = 1e8  # px², a 10000 x 10000 box
MAX_ASPECT_RATIO = 1000.0
MAX_NOISE_SCALE_GAIN = 1000.0
MAX_CLASS_NAME = 64
# Cross-field rules: (lower, upper) tracker settings, the first may not exceed the second. The
# engine's TrackerConfig raises on each (tests/unit/engine/test_engine_job_interface.py).
NOT_ABOVE = (("low_threshold", "high_threshold"), ("coast_s", "track_buffer_s"))
# Detectors whose built-in class list is COCO's (a trained checkpoint brings its own).
_COCO_DETECTORS = DETECTOR_NAMES

_DESCRIPTIONS = {
    "detector": "detector name",
    "stride": "process every n-th frame",
    "classes": "class names to track (COCO names for the bundled detectors)",
    "annotate": "also write annotated.mp4",
    "preview": "also write preview.mp4: annotated, longer side at most 640 px, lower bitrate",
    "track_frames": "tracks.json boxes per track: sampled along its path (at most 32) or all"
    " (every processed frame, with its score; the file grows with the video)",
    "score_threshold": "lowest detector score passed to the tracker",
    "batch_size": "frames per detector call (null: the detector's default)",
    "prefetch": "batches decoded ahead on the decode thread",
    "tracker": "ByteTrack settings overriding the deployment's",
    "analytics": "lines, zones, classes and calibration for analytics.json (null: none)",
}


def _tracker_property(name: str, annotation: Any) -> dict[str, Any]:
    if annotation is bool:
        return {"type": "boolean"}
    if annotation is int:
        return {"type": "integer", "minimum": 1, "maximum": MAX_STRIDE}
    if name in _UNIT_INTERVAL:
        return {"type": "number", "minimum": 0, "maximum": 1}
    if typing.get_origin(annotation) is not None:  # float | None
        return {"type": ["number", "null"], "exclusiveMinimum": 0, "maximum": MAX_ASPECT_RATIO}
    if name == "noise_scale_gain":
        return {"type": "number", "exclusiveMinimum": 0, "maximum": MAX_NOISE_SCALE_GAIN}
    if name.endswith("_s"):
        return {"type": "number", "minimum": 0, "maximum": MAX_TRACKER_SECONDS}
    if name == "min_box_area":
        return {"type": "number", "minimum": 0, "maximum": MAX_BOX_AREA}
    raise RuntimeError(f"option_schema: no range for tracker setting {name!r}")


def tracker_schema() -> dict[str, Any]:
    hints = typing.get_type_hints(TrackerConfig)
    return {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            field.name: _tracker_property(field.name, hints[field.name])
            for field in dataclasses.fields(TrackerConfig)
        },
        "x-not-above": [list(pair) for pair in NOT_ABOVE],
        "x-tracker-presets": {name: preset(name).to_dict() for name in sorted(KNOWN_DETECTORS)},
    }


def analytics_schema() -> dict[str, Any]:
    """The analytics spec's schema (docs/schemas/analytics-spec.schema.json), null allowed."""
    spec = json.loads(ANALYTICS_SPEC_PATH.read_text(encoding="utf-8"))
    keep = {k: v for k, v in spec.items() if k not in ("$schema", "$id", "title", "description")}
    return {**keep, "type": ["object", "null"]}


def options_schema() -> dict[str, Any]:
    """The JSON Schema of a job's ``options`` object."""
    properties: dict[str, Any] = {
        "detector": {"type": "string", "enum": list(DETECTOR_NAMES)},
        "stride": {"type": "integer", "minimum": 1, "maximum": MAX_STRIDE},
        "classes": {
            "type": "array",
            "minItems": 1,
            "maxItems": len(COCO_CLASS_NAMES),
            "items": {"type": "string", "minLength": 1, "maxLength": MAX_CLASS_NAME},
            "x-detector-classes": {name: list(COCO_CLASS_NAMES) for name in _COCO_DETECTORS},
        },
        "annotate": {"type": "boolean"},
        "preview": {"type": "boolean"},
        "track_frames": {"type": "string", "enum": list(TRACK_FRAMES)},
        "score_threshold": {"type": "number", "minimum": 0, "maximum": 1},
        "batch_size": {"type": ["integer", "null"], "minimum": 1, "maximum": MAX_BATCH_SIZE},
        "prefetch": {"type": "integer", "minimum": 0, "maximum": MAX_PREFETCH},
        "tracker": tracker_schema(),
        "analytics": analytics_schema(),
    }
    names = [field.name for field in dataclasses.fields(TrackOptions)]
    missing = sorted(set(names) - set(properties))
    if missing:
        raise RuntimeError(f"option_schema: no schema for TrackOptions field(s) {missing}")
    defaults = TrackOptions().to_dict()
    for name, description in _DESCRIPTIONS.items():
        properties[name]["description"] = description
        if name != "tracker" and name in defaults:
            properties[name]["default"] = defaults[name]
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://motflow.dev/schemas/job-options.schema.json",
        "title": "motflow job options",
        "type": "object",
        "additionalProperties": False,
        "properties": {name: properties[name] for name in names},
    }


def schema_text() -> str:
    return json.dumps(options_schema(), indent=2) + "\n"


def main() -> int:
    SCHEMA_PATH.write_text(schema_text(), encoding="utf-8")
    print(f"wrote {SCHEMA_PATH}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
