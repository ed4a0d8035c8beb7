"""SageMaker facts the stacks need offline: the instance types the x86_64 image can run on,
whether an instance has a GPU (which torch build the image installs), and which instance families
carry local NVMe storage.

The image's base and its support window are in ``stacks/base_images.py``.
"""

from __future__ import annotations

import re

# The torch build the image installs per processor: the PyPI wheel (CUDA, with the nvidia-*
# runtime wheels) for GPU instances, the CPU wheel of the same version for CPU instances.
TORCH_BUILDS = {"gpu": "cuda", "cpu": "cpu"}

# Instance families with local NVMe instance storage: CreateEndpointConfig rejects a volume
# KmsKeyId for them (their storage is hardware-encrypted instead).
_INSTANCE_STORAGE_FAMILIES = frozenset(
    {"g4dn", "g5", "g6", "g6e", "p3dn", "p4d", "p4de", "p5", "p5e", "m5d", "c5d", "r5d"}
)
_GPU_FAMILY_LETTERS = ("g", "p")
# Graviton (arm64) families carry a ``g`` right after the generation digit: c6g, c7gn, m6gd, g5g.
_GRAVITON_FAMILY = re.compile(r"^[a-z]+\d+g[a-z]*$")


class UnsupportedPlatformError(ValueError):
    """The instance family has no image this project knows how to build for."""


def instance_family(instance_type: str) -> str:
    """``g4dn`` for ``ml.g4dn.xlarge``."""
    return instance_type.split(".")[1]


def unsupported_instance_type(instance_type: str) -> str | None:
    """Why the x86_64 endpoint image cannot run on this instance type, or None."""
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
    """Whether the instance family has local NVMe storage (no volume KMS key then)."""
    return instance_family(instance_type) in _INSTANCE_STORAGE_FAMILIES


def torch_build(instance_type: str) -> str:
    """``cuda`` or ``cpu``: the image's ``TORCH_BUILD`` build argument for this instance type."""
    return TORCH_BUILDS[processor(instance_type)]
