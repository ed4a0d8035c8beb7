"""Where a torch detector runs: device, precision and CPU backend, decided once at build time."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from model_code.detectors.base import DetectorError

LOG = logging.getLogger(__name__)
CPU_BACKENDS = ("onnxruntime", "torch")
# SageMaker sets SM_NUM_GPUS in its containers; MOTFLOW_EXPECT_GPU=1 says the same elsewhere.
GPU_ENV_VARS = ("SM_NUM_GPUS", "MOTFLOW_EXPECT_GPU")
# The NVIDIA driver's files exist on a GPU machine even when torch cannot use the GPU.
NVIDIA_DRIVER_FILE = Path("/proc/driver/nvidia/version")


@dataclass(frozen=True)
class DevicePlan:
    device: str  # "cpu" or "cuda:N"
    precision: str  # "fp32" or "fp16"
    backend: str  # "torch" or "onnxruntime"
    warning: str | None = None

    @property
    def cuda(self) -> bool:
        return self.device.startswith("cuda")


def gpu_expected(
    environ: Mapping[str, str] | None = None, driver_file: Path | None = NVIDIA_DRIVER_FILE
) -> bool:
    """True on a machine provisioned with a GPU: the NVIDIA driver is loaded, or the
    environment says so (SM_NUM_GPUS > 0 or MOTFLOW_EXPECT_GPU=1)."""
    if driver_file is not None and driver_file.exists():
        return True
    env = os.environ if environ is None else environ
    for name in GPU_ENV_VARS:
        try:
            if int(env.get(name, "0") or "0") > 0:
                return True
        except ValueError:
            continue
    return False


def plan_device(
    requested: str | None,
    *,
    cuda_available: bool,
    cpu_backend: str = "onnxruntime",
    half: bool | None = None,
    environ: Mapping[str, str] | None = None,
    driver_file: Path | None = NVIDIA_DRIVER_FILE,
) -> DevicePlan:
    """Pick the device: "auto"/None means CUDA when torch sees one, else the CPU.

    On CUDA the module runs in torch, fp16 unless `half=False`. On the CPU it runs in fp32 on
    `cpu_backend`. A machine provisioned with a GPU that still ends up on the CPU gets a warning,
    logged here and carried in the plan so the summary can say so.
    """
    if cpu_backend not in CPU_BACKENDS:
        raise DetectorError(f"unknown backend {cpu_backend!r}; use {' or '.join(CPU_BACKENDS)}")
    choice = (requested or "auto").strip().lower()
    if choice == "auto":
        choice = "cuda:0" if cuda_available else "cpu"
    elif choice == "cuda":
        choice = "cuda:0"
    if choice.startswith("cuda"):
        index = choice.removeprefix("cuda:")
        if not index.isdigit():
            raise DetectorError(f"unknown device {requested!r}; use auto, cpu or cuda[:N]")
        if not cuda_available:
            raise DetectorError(
                f"device={requested!r} asked for, but torch sees no CUDA device; use "
                "device='auto' or 'cpu'"
            )
        return DevicePlan(choice, "fp32" if half is False else "fp16", "torch")
    if choice != "cpu":
        raise DetectorError(f"unknown device {requested!r}; use auto, cpu or cuda[:N]")
    if half:
        raise DetectorError("fp16 (half=True) needs a CUDA device; the CPU runs fp32")
    warning = None
    if gpu_expected(environ, driver_file):
        warning = (
            "this machine was provisioned with a GPU but the detector runs on the CPU "
            f"(device={requested or 'auto'!r}, torch CUDA available: {cuda_available})"
        )
        LOG.warning(warning)
    return DevicePlan("cpu", "fp32", cpu_backend, warning)
