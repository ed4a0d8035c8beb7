"""The offline SageMaker image map."""

from __future__ import annotations

import pytest

from stacks.sagemaker_platform import (
    UnsupportedPlatformError,
    base_image_uri,
    has_instance_storage,
    processor,
)


def test_gpu_and_cpu_images_for_a_region() -> None:
    assert base_image_uri("eu-west-1", "ml.g4dn.xlarge") == (
        "763104351884.dkr.ecr.eu-west-1.amazonaws.com/pytorch-inference:2.6.0-gpu-py312"
    )
    assert base_image_uri("us-east-1", "ml.c5.2xlarge").endswith(":2.6.0-cpu-py312")
    assert ".amazonaws.com.cn/" in base_image_uri("cn-north-1", "ml.g4dn.xlarge")


def test_unknown_region_and_neuron_families_are_refused() -> None:
    with pytest.raises(UnsupportedPlatformError, match="mars-east-1"):
        base_image_uri("mars-east-1", "ml.g4dn.xlarge")
    with pytest.raises(UnsupportedPlatformError, match="Neuron"):
        processor("ml.inf2.xlarge")


def test_instance_storage_families() -> None:
    assert has_instance_storage("ml.g4dn.xlarge")
    assert has_instance_storage("ml.g5.2xlarge")
    assert not has_instance_storage("ml.c5.2xlarge")
    assert not has_instance_storage("ml.p3.2xlarge")
