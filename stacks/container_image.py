"""The container image (container/Dockerfile) as a CDK asset, and the synth-time base-image check.

The endpoint and the training jobs run the same Dockerfile; only the torch build differs
(``TORCH_BUILD``: CUDA for GPU instances, CPU otherwise). The build context is staged here with
the repository's relative layout and holds only what the build reads: the Dockerfile, the entry
scripts, the build check, the engine lock and ``model/``, the model directory the build check loads
(the deployment's own ``model.tar.gz`` contents; with a trained artifact from S3, the engine code
with the bundled weights of the same detector).
"""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime
from pathlib import Path

from aws_cdk import Annotations
from aws_cdk import aws_ecr_assets as ecr_assets
from constructs import Construct

from stacks.base_images import BASE_IMAGES, DEFAULT_BASE_IMAGE, BaseImage, support_status
from stacks.model_artifact import NANODET_DIR, REPO_ROOT, artifact_entries
from stacks.settings import Settings, SettingsError

DOCKERFILE = Path("container") / "Dockerfile"
CONTAINER_FILES = (
    DOCKERFILE,
    Path("container") / "serve",
    Path("container") / "train",
    Path("container") / "build_check.py",
)
MODEL_REQUIREMENTS = Path("requirements") / "model.txt"
CHECK_MODEL_DIR = Path("model")
BASE_IMAGE_WARNING_ID = "motflow:base-image-support"


def today_utc() -> date:
    return datetime.now(UTC).date()


def check_base_image_support(
    scope: Construct, image: BaseImage, *, today: date | None = None
) -> None:
    """An error annotation (``cdk synth``/``deploy`` fail) once the base is past its end of
    support, a warning within ``base_images.WARNING_DAYS`` of it."""
    status = support_status(image, today or today_utc())
    if status.level == "error":
        Annotations.of(scope).add_error(status.message)
    elif status.level == "warning":
        Annotations.of(scope).add_warning_v2(BASE_IMAGE_WARNING_ID, status.message)


def stage_context(
    context_dir: Path, settings: Settings, *, nanodet_dir: Path = NANODET_DIR
) -> Path:
    """Write the image build context to ``context_dir`` (replacing what was there)."""
    if context_dir.exists():
        shutil.rmtree(context_dir)
    for relative in (*CONTAINER_FILES, MODEL_REQUIREMENTS):
        target = context_dir / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO_ROOT / relative, target)
    for name, source in _check_model_entries(settings, nanodet_dir):
        target = context_dir / CHECK_MODEL_DIR / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(source, bytes):
            target.write_bytes(source)
        else:
            shutil.copyfile(source, target)
    return context_dir


def _check_model_entries(settings: Settings, nanodet_dir: Path) -> list[tuple[str, Path | bytes]]:
    if settings.model_artifact_s3:
        # A trained artifact is not at hand at synth: check the engine with the bundled weights.
        try:
            settings = Settings(detector=settings.detector)
        except SettingsError:  # a detector that needs an operator's weights file
            settings = Settings()
    return artifact_entries(settings, nanodet_dir=nanodet_dir)


def container_image(
    scope: Construct,
    construct_id: str,
    *,
    settings: Settings,
    torch_build: str,
    stage_dir: Path,
    today: date | None = None,
    nanodet_dir: Path = NANODET_DIR,
) -> ecr_assets.DockerImageAsset:
    """The image asset for ``torch_build`` (``cuda`` or ``cpu``), its base checked for support."""
    base = BASE_IMAGES[DEFAULT_BASE_IMAGE]
    check_base_image_support(scope, base, today=today)
    return ecr_assets.DockerImageAsset(
        scope,
        construct_id,
        directory=str(
            stage_context(stage_dir / "container-context", settings, nanodet_dir=nanodet_dir)
        ),
        file=str(DOCKERFILE),
        build_args={
            "BASE_IMAGE": base.uri(settings.base_image_digest),
            "TORCH_BUILD": torch_build,
        },
        platform=ecr_assets.Platform.LINUX_AMD64,
    )
