"""Finds the local copy of a file a label file names by S3 URI or relative path.

Users `aws s3 sync` a labelling job's output (and its frames) into one folder. An S3 URI is then
found as the longest tail of `bucket/key` that exists under that folder, so any sync prefix works.
"""

from __future__ import annotations

from pathlib import Path

from model_code.training.labels import LabelError


def resolve(reference: str, root: Path, *, named_in: Path) -> Path:
    """The local file for `reference` (an s3:// URI, an absolute path or a path under `root`)."""
    if reference.startswith("s3://"):
        parts = [p for p in reference[len("s3://") :].split("/") if p]
        for start in range(len(parts)):
            candidate = root.joinpath(*parts[start:])
            if candidate.is_file():
                return candidate
        raise LabelError(
            f"{named_in}: {reference} has no local copy under {root}; sync it there "
            "(aws s3 sync), keeping at least its file name and parent folders"
        )
    path = Path(reference)
    for candidate in (path, root / path, named_in.parent / path):
        if candidate.is_file():
            return candidate
    raise LabelError(f"{named_in}: file {reference} not found (looked under {root})")
