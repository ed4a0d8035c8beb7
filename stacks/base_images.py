"""Base images the container may be built on, with the end of support of every part, as data.

An image is supported until the earliest end of support of its parts (the interpreter, the
distribution). ``cdk synth`` fails for a base past that date and warns within
``WARNING_DAYS`` of it (``stacks/container_image.py``). When a date comes close, add the next
image here (for example Python 3.12 on Debian 13) and point ``DEFAULT_BASE_IMAGE`` at it; the
test interpreter's minor version must match (``tests/infra/test_infra_image.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

WARNING_DAYS = 60


@dataclass(frozen=True)
class SupportedPart:
    """One component of a base image and the day its vendor stops patching it."""

    name: str
    end_of_support: date
    source: str


@dataclass(frozen=True)
class BaseImage:
    repository: str
    tag: str
    python: str  # major.minor of the image's interpreter
    parts: tuple[SupportedPart, ...]

    @property
    def end_of_support(self) -> date:
        return min(part.end_of_support for part in self.parts)

    @property
    def first_to_end(self) -> SupportedPart:
        return min(self.parts, key=lambda part: part.end_of_support)

    def uri(self, digest: str | None = None) -> str:
        """``repository:tag``, or ``repository:tag@digest`` (the digest wins) when pinned."""
        base = f"{self.repository}:{self.tag}"
        return f"{base}@{digest}" if digest else base


PYTHON_3_11 = SupportedPart(
    "CPython 3.11", date(2027, 10, 31), "PEP 664, https://peps.python.org/pep-0664/"
)
DEBIAN_12 = SupportedPart(
    "Debian 12 bookworm", date(2028, 6, 30), "Debian LTS, https://wiki.debian.org/LTS"
)

# ECR Public mirrors the Docker official images: no registry login is needed to pull them.
BASE_IMAGES: dict[str, BaseImage] = {
    "python3.11-slim-bookworm": BaseImage(
        repository="public.ecr.aws/docker/library/python",
        tag="3.11-slim-bookworm",
        python="3.11",
        parts=(PYTHON_3_11, DEBIAN_12),
    ),
}
DEFAULT_BASE_IMAGE = "python3.11-slim-bookworm"


@dataclass(frozen=True)
class SupportStatus:
    level: str  # "ok", "warning" or "error"
    message: str


def support_status(image: BaseImage, today: date) -> SupportStatus:
    """Whether ``image`` is inside its support window on ``today``, and what to tell the user."""
    part = image.first_to_end
    left = (image.end_of_support - today).days
    where = (
        f"base image {image.uri()}: {part.name} support ends {part.end_of_support} ({part.source})"
    )
    if left < 0:
        return SupportStatus(
            "error",
            f"{where}; it ended {-left} days ago. Add a supported base to "
            "stacks/base_images.py and rebuild.",
        )
    if left <= WARNING_DAYS:
        return SupportStatus(
            "warning",
            f"{where}, in {left} days. Move to a newer base in stacks/base_images.py.",
        )
    return SupportStatus("ok", f"{where}, in {left} days")
