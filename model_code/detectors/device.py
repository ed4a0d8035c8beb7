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
    precision: str  # "fp32" or "fp16" (the CPU's onnxruntime may switch to "int8")
    backend: str  # "torch" or "onnxruntime"
    warning: str | None = None

    @property
    def cuda(self) -> bool:
        return self.device.startswith("cuda")


def gpu_evidence(
    environ: Mapping[str, str] | None = None, driver_file: Path | None = NVIDIA_DRIVER_FILE
) -> str | None:
    """What says this machine was provisioned with a GPU (the NVIDIA driver is loaded, or
    SM_NUM_GPUS > 0 or MOTFLOW_EXPECT_GPU=1 in the environment), or None."""
    if driver_file is not None and driver_file.exists():
        return f"the NVIDIA driver is loaded ({driver_file} exists)"
    env = os.environ if environ is None else environ
    for name in GPU_ENV_VARS:
        try:
            if int(env.get(name, "0") or "0") > 0:
                return f"{name}={env[name]}"
        except ValueError:
            continue
    return None


def gpu_expected(
    environ: Mapping[str, str] | None = None, driver_file: Path | None = NVIDIA_DRIVER_FILE
) -> bool:
    """True on a machine provisioned with a GPU: the NVIDIA driver is loaded, or the
    environment says so (SM_NUM_GPUS > 0 or MOTFLOW_EXPECT_GPU=1)."""
    return gpu_evidence(environ, driver_file) is not None


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
    `cpu_backend`. On a machine provisioned with a GPU, "auto" without a CUDA device raises
    `DetectorError` (a broken CUDA must fail the model load, not run jobs 5-10x slower); an
    explicit device="cpu" there is allowed, with a warning logged here and carried in the plan
    so the summary can say so.
    """
    if cpu_backend not in CPU_BACKENDS:
        raise DetectorError(f"unknown backend {cpu_backend!r}; use {' or '.join(CPU_BACKENDS)}")
    choice = (requested or "auto").strip().lower()
    if choice == "auto":
        evidence = None if cuda_available else gpu_evidence(environ, driver_file)
        if evidence is not None:
            raise DetectorError(
                f"this machine was provisioned with a GPU ({evidence}) but torch sees no CUDA "
                "device: the image's torch CUDA build and the instance's NVIDIA driver do not "
                "work together; fix the image, or set device='cpu' to run on the CPU on purpose"
            )
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
            f"(device={requested!r} asked for, torch CUDA available: {cuda_available})"
        )
        LOG.warning(warning)
    return DevicePlan("cpu", "fp32", cpu_backend, warning)


def check_cuda(device: str) -> None:
    """Run a tiny real computation on `device` (a "cuda:N"), so that a CUDA that torch reports
    as available but cannot use fails the model load here, with a one-line cause and fix."""
    import torch

    try:
        x = torch.arange(16, dtype=torch.float32, device=device).view(4, 4)
        value = float((x @ x).sum().item())
        torch.cuda.synchronize(device)
    except Exception as exc:  # CUDA reports driver, kernel-image and memory errors as many types
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DetectorError(
            f"CUDA is not usable on {device} ({type(exc).__name__}: {first_line}); check that "
            "the image's torch CUDA build suits the instance's GPU and driver"
        ) from exc
    if abs(value - 3920.0) > 1e-3:  # the sum of x @ x for x = arange(16) as 4x4
        raise DetectorError(f"CUDA on {device} computed a wrong result ({value}): a faulty GPU")
