"""SageMaker facts the stacks need offline: the PyTorch inference base image per region, the
instance types its x86 image can run on, and which instance families carry local NVMe storage.

A small map instead of the ~1 GB ``sagemaker`` SDK. The accounts are the AWS Deep Learning
Containers registries (https://github.com/aws/deep-learning-containers/blob/master/available_images.md,
and the ``registries`` of the SDK's ``image_uri_config/pytorch.json``).
"""

from __future__ import annotations

import re

PYTORCH_INFERENCE_REPOSITORY = "pytorch-inference"
PYTORCH_VERSION = "2.6.0"
PYTHON_TAG = "py312"

_DEFAULT_DLC_ACCOUNT = "763104351884"
# Every region the DLC registry publishes pytorch-inference images in.
DLC_ACCOUNTS: dict[str, str] = {
    **dict.fromkeys(
        (
            "us-east-1", "us-east-2", "us-west-1", "us-west-2", "ca-central-1", "sa-east-1",
            "eu-west-1", "eu-west-2", "eu-west-3", "eu-central-1", "eu-north-1",
            "ap-northeast-1", "ap-northeast-2", "ap-southeast-1", "ap-southeast-2", "ap-south-1",
        ),
        _DEFAULT_DLC_ACCOUNT,
    ),
    "af-south-1": "626614931356",
    "ap-east-1": "871362719292",
    "ap-east-2": "975050140332",
    "ap-northeast-3": "364406365360",
    "ap-south-2": "772153158452",
    "ap-southeast-3": "907027046896",
    "ap-southeast-4": "457447274322",
    "ap-southeast-5": "550225433462",
    "ap-southeast-6": "633930458069",
    "ap-southeast-7": "590183813437",
    "ca-west-1": "204538143572",
    "eu-central-2": "380420809688",
    "eu-south-1": "692866216735",
    "eu-south-2": "503227376785",
    "il-central-1": "780543022126",
    "me-central-1": "914824155844",
    "me-south-1": "217643126080",
    "mx-central-1": "637423239942",
    "cn-north-1": "727897471807",
    "cn-northwest-1": "727897471807",
    "us-gov-east-1": "446045086412",
    "us-gov-west-1": "442386744353",
}  # fmt: skip

# Instance families with local NVMe instance storage: CreateEndpointConfig rejects a volume
# KmsKeyId for them (their storage is hardware-encrypted instead).
_INSTANCE_STORAGE_FAMILIES = frozenset(
    {"g4dn", "g5", "g6", "g6e", "p3dn", "p4d", "p4de", "p5", "p5e", "m5d", "c5d", "r5d"}
)
_GPU_FAMILY_LETTERS = ("g", "p")
# Graviton (arm64) families carry a ``g`` right after the generation digit: c6g, c7gn, m6gd, g5g.
_GRAVITON_FAMILY = re.compile(r"^[a-z]+\d+g[a-z]*$")


class UnsupportedPlatformError(ValueError):
    """The region or instance family has no image this project knows how to build on."""


def instance_family(instance_type: str) -> str:
    return instance_type.split(".")[1]


def unsupported_instance_type(instance_type: str) -> str | None:
    """Why the x86 PyTorch inference image cannot run on this instance type, or None."""
    family = instance_family(instance_type)
    if family.startswith(("inf", "trn")):
        return (
            f"{instance_type!r}: Inferentia/Trainium need a Neuron image; use a GPU (ml.g*, "
            "ml.p*) or CPU (ml.c*, ml.m*, ml.r*) instance type"
        )
    if _GRAVITON_FAMILY.match(family):
        return (
            f"{instance_type!r} is a Graviton (arm64) instance type and the endpoint image is "
            "x86_64; choose an x86 type such as ml.c5.2xlarge or ml.g4dn.xlarge"
        )
    return None


def processor(instance_type: str) -> str:
    """``gpu`` for g*/p* families, ``cpu`` for the general-purpose, compute and memory families."""
    problem = unsupported_instance_type(instance_type)
    if problem:
        raise UnsupportedPlatformError(f"instance_type {problem}")
    return "gpu" if instance_family(instance_type).startswith(_GPU_FAMILY_LETTERS) else "cpu"


def has_instance_storage(instance_type: str) -> bool:
    return instance_family(instance_type) in _INSTANCE_STORAGE_FAMILIES


def dlc_registry(region: str) -> str:
    """The DLC registry host of a region, e.g. ``763104351884.dkr.ecr.eu-west-1.amazonaws.com``."""
    account = DLC_ACCOUNTS.get(region)
    if account is None:
        raise UnsupportedPlatformError(
            f"region {region!r} has no AWS Deep Learning Containers PyTorch inference image; "
            f"deploy to one of: {', '.join(sorted(DLC_ACCOUNTS))}"
        )
    domain = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    return f"{account}.dkr.ecr.{region}.{domain}"


def base_image_uri(region: str, instance_type: str, digest: str | None = None) -> str:
    """The SageMaker PyTorch inference image the container extends, for this region.

    With ``digest`` (``sha256:...``) the image is pinned to exactly that build; otherwise the
    tag, which AWS republishes with security patches, is used.
    """
    repository = f"{dlc_registry(region)}/{PYTORCH_INFERENCE_REPOSITORY}"
    if digest:
        return f"{repository}@{digest}"
    return f"{repository}:{PYTORCH_VERSION}-{processor(instance_type)}-{PYTHON_TAG}"
