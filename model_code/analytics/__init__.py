"""Analytics from tracks: line crossings, zones (entries, dwell, occupancy), per-track path and
speed (pixels; metres through a ground-plane homography) and a heat map.

`spec.py` parses and checks a job's analytics spec, `geometry.py` holds lines and polygons,
`homography.py` the image-to-ground mapping, `kinematics.py` the smoothed per-track path and
speed, and `sink.py` the streaming sink that writes analytics.json. See docs/ARCHITECTURE.md,
"Analytics".
"""

from model_code.analytics.spec import AnalyticsSpec, SpecError, parse_spec

__all__ = ["AnalyticsSpec", "SpecError", "parse_spec"]
