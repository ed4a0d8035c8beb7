"""One logical unit of the tracking stack per module."""
