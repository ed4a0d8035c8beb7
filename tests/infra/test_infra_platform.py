"""The offline SageMaker instance facts: what the x86_64 image runs on and which torch it needs."""

from __future__ import annotations

import pytest

from stacks.sagemaker_platform import (
    UnsupportedPlatformError,
    has_instance_storage,
    processor,
    torch_build,
)


def test_gpu_instances_get_the_cuda_torch_and_cpu_instances_the_cpu_one() -> None:
    assert (processor("ml.g4dn.xlarge"), torch_build("ml.g4dn.xlarge")) == ("gpu", "cuda")
    assert (processor("ml.p3.2xlarge"), torch_build("ml.p3.2xlarge")) == ("gpu", "cuda")
    assert (processor("ml.c5.2xlarge"), torch_build("ml.c5.2xlarge")) == ("cpu", "cpu")
    assert (processor("ml.m5.xlarge"), torch_build("ml.m5.xlarge")) == ("cpu", "cpu")


def test_neuron_and_graviton_families_are_refused() -> None:
    with pytest.raises(UnsupportedPlatformError, match="Neuron"):
        processor("ml.inf2.xlarge")
    with pytest.raises(UnsupportedPlatformError, match="Graviton"):
        torch_build("ml.c7g.2xlarge")


def test_instance_storage_families() -> None:
    assert has_instance_storage("ml.g4dn.xlarge")
    assert has_instance_storage("ml.g5.2xlarge")
    assert not has_instance_storage("ml.c5.2xlarge")
    assert not has_instance_storage("ml.p3.2xlarge")
