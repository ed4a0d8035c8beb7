"""SageMaker facts the stacks need offline: the PyTorch inference base image per region, and
which instance families carry local NVMe storage.

A small map instead of the ~1 GB ``sagemaker`` SDK. The accounts are the AWS Deep Learning
Containers registries (https://github.com/aws/deep-learning-containers/blob/master/available_images.md).
"""

from __future__ import annotations

PYTORCH_INFERENCE_REPOSITORY = "pytorch-inference"
PYTORCH_VERSION = "2.6.0"
PYTHON_TAG = "py312"

_DEFAULT_DLC_ACCOUNT = "763104351884"
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
    "ap-northeast-3": "364406365360",
    "eu-south-1": "692866216735",
    "me-south-1": "217643126080",
    "cn-north-1": "727897471807",
    "cn-northwest-1": "727897471807",
    "us-gov-west-1": "442386744353",
}  # fmt: skip

# Instance families with local NVMe instance storage: CreateEndpointConfig rejects a volume
# KmsKeyId for them (their storage is hardware-encrypted instead).
_INSTANCE_STORAGE_FAMILIES = frozenset(
    {"g4dn", "g5", "g6", "g6e", "p3dn", "p4d", "p4de", "p5", "p5e", "m5d", "c5d", "r5d"}
)
_GPU_FAMILY_LETTERS = ("g", "p")


class UnsupportedPlatformError(ValueError):
    """The region or instance family has no image this project knows how to build on."""


def instance_family(instance_type: str) -> str:
    return instance_type.split(".")[1]


def processor(instance_type: str) -> str:
    """``gpu`` for g*/p* families, ``cpu`` for the general-purpose, compute and memory families."""
    family = instance_family(instance_type)
    if family.startswith(("inf", "trn")):
        raise UnsupportedPlatformError(
            f"instance_type {instance_type!r}: Inferentia/Trainium need a Neuron image; "
            "use a GPU (ml.g*, ml.p*) or CPU (ml.c*, ml.m*, ml.r*) instance type"
        )
    return "gpu" if family.startswith(_GPU_FAMILY_LETTERS) else "cpu"


def has_instance_storage(instance_type: str) -> bool:
    return instance_family(instance_type) in _INSTANCE_STORAGE_FAMILIES


def base_image_uri(region: str, instance_type: str) -> str:
    """The SageMaker PyTorch inference image the container extends, for this region."""
    account = DLC_ACCOUNTS.get(region)
    if account is None:
        raise UnsupportedPlatformError(
            f"region {region!r} has no known SageMaker PyTorch image; known: "
            f"{', '.join(sorted(DLC_ACCOUNTS))}"
        )
    domain = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    tag = f"{PYTORCH_VERSION}-{processor(instance_type)}-{PYTHON_TAG}"
    return f"{account}.dkr.ecr.{region}.{domain}/{PYTORCH_INFERENCE_REPOSITORY}:{tag}"
