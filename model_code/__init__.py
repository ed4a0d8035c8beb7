"""motflow engine: streamed video decoding, detection, ByteTrack tracking and result writers.

Importing the package is cheap; submodules are imported where they are used.
"""

__version__ = "0.1.0"
