"""ByteTrack multi-object tracking, vectorised across tracks."""

from model_code.tracking.config import TrackerConfig, TrackerConfigError
from model_code.tracking.tracker import ByteTracker, TrackedObjects

__all__ = ["ByteTracker", "TrackedObjects", "TrackerConfig", "TrackerConfigError"]
