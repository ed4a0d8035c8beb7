"""ByteTrack multi-object tracking, vectorised across tracks."""

from model_code.tracking.config import TrackerConfig, TrackerConfigError
from model_code.tracking.presets import GENERIC, preset, tracker_config
from model_code.tracking.table import TrackState, TrackTable
from model_code.tracking.tracker import ByteTracker, TrackedObjects, upright_labels

__all__ = [
    "GENERIC",
    "ByteTracker",
    "TrackState",
    "TrackTable",
    "TrackedObjects",
    "TrackerConfig",
    "TrackerConfigError",
    "preset",
    "tracker_config",
    "upright_labels",
]
