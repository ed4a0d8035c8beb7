"""The image's build-time check (a RUN step of container/Dockerfile); any failure fails the build.

1. Every ``name==version`` pin of the lock is what is installed (a local build label such as
   ``+cpu`` aside), and ``cv2`` comes from opencv-python-headless alone.
2. The torch build is the one asked for: CUDA for GPU instances, CPU otherwise.
3. ``model_code`` imports from the model directory's ``code/`` (as ``serve`` puts it on the
   path), and the model directory's detector is built from its weights, runs on one blank frame,
   and uses its intended CPU backend (onnxruntime for the torch detectors), in int8 when the
   model directory ships a calibration clip for a detector that runs int8 on the CPU.

It writes what it found as JSON (``--out``); the image keeps that file. The tests run this script
against the local environment (tests/infra/test_infra_image.py).

    python build_check.py --lock requirements.txt --model-dir /opt/ml/model --torch-build cuda
"""

from __future__ import annotations

import argparse
import importlib.metadata as metadata
import json
import re
import sys
from pathlib import Path
from typing import Any

_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;#]+)")
CV2_PROVIDER = "opencv-python-headless"


class CheckFailed(RuntimeError):
    pass


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def lock_pins(lock: Path) -> dict[str, str]:
    """``name==version`` lines of a pip requirements file, following ``-r`` includes."""
    pins: dict[str, str] = {}
    for raw in lock.read_text(encoding="utf-8").splitlines():
        line = raw.split(" #", 1)[0].strip()
        if line.startswith(("-r ", "--requirement ")):
            pins.update(lock_pins(lock.parent / line.split(None, 1)[1]))
            continue
        match = _PIN.match(line)
        if match:
            pins[canonical(match.group(1))] = match.group(2)
    return pins


def check_versions(pins: dict[str, str]) -> dict[str, str]:
    installed = {canonical(d.metadata["Name"]): d.version for d in metadata.distributions()}
    wrong = []
    for name, version in sorted(pins.items()):
        found = installed.get(name)
        if found is None or found.split("+", 1)[0] != version:
            wrong.append(f"{name}=={version} (installed: {found or 'nothing'})")
    if wrong:
        raise CheckFailed(f"the image does not have the locked versions: {', '.join(wrong)}")
    providers = sorted(set(metadata.packages_distributions().get("cv2", [])))
    if providers != [CV2_PROVIDER]:
        raise CheckFailed(f"cv2 must come from {CV2_PROVIDER} alone; it comes from {providers}")
    return {name: installed[name] for name in sorted(pins)}


def check_torch_build(torch_build: str) -> str | None:
    import torch

    cuda = torch.version.cuda
    if torch_build == "cuda" and not cuda:
        raise CheckFailed(f"torch {torch.__version__} is a CPU build; the image needs CUDA")
    if torch_build == "cpu" and cuda:
        raise CheckFailed(f"torch {torch.__version__} is a CUDA {cuda} build; expected CPU")
    return cuda


def check_detector(model_dir: Path) -> dict[str, Any]:
    code = model_dir / "code"
    if not (code / "model_code" / "__init__.py").is_file():
        raise CheckFailed(f"no engine code at {code / 'model_code'}")
    sys.path.insert(0, str(code))
    import numpy as np

    import model_code
    from model_code.detectors import DEFAULT_DETECTOR, build_detector

    config_file = model_dir / "config.json"
    config = json.loads(config_file.read_text(encoding="utf-8")) if config_file.is_file() else {}
    name = config.get("detector") or DEFAULT_DETECTOR
    weights = model_dir / config["weights"] if config.get("weights") else None
    detector = build_detector(name, weights=weights, device="cpu")
    frame = np.zeros((480, 640, 3), dtype=np.uint8)
    results = detector.detect([frame])
    if len(results) != 1:
        raise CheckFailed(f"{name}: one frame in, {len(results)} results out")
    runtime = detector.runtime()
    # The torch detectors run on the CPU through their ONNX export; without the exporter's
    # packages they fall back to plain torch (about 2x slower) with only a warning.
    expected = getattr(type(detector), "cpu_backend", None)
    if expected and runtime.get("backend") != expected:
        raise CheckFailed(
            f"{name} runs on the CPU with backend {runtime.get('backend')!r}, not {expected!r}: "
            "does the lock have what the ONNX export needs (onnx)?"
        )
    # A model directory that ships a calibration clip runs int8 on the CPU; a failed quantization
    # would fall back to fp32 (about 2x slower) with only a warning.
    clip = Path(weights) / "calibration.mp4" if weights is not None else None
    wants_int8 = getattr(type(detector), "cpu_int8", False) and clip is not None and clip.is_file()
    if wants_int8 and runtime.get("precision") != "int8":
        raise CheckFailed(
            f"{name} ships a calibration clip but runs {runtime.get('precision')!r} on the CPU, "
            f"not int8: {runtime.get('warning', 'no reason given')}"
        )
    return {
        "model_code": str(Path(model_code.__file__).parent),
        "engine_version": getattr(model_code, "__version__", None),
        "detector": name,
        "cpu_runtime": runtime,
        "blank_frame_detections": len(results[0]),
    }


def run(lock: Path, model_dir: Path, torch_build: str) -> dict[str, Any]:
    versions = check_versions(lock_pins(lock))
    cuda = check_torch_build(torch_build)
    return {
        "python": sys.version.split()[0],
        "torch_build": torch_build,
        "cuda": cuda,
        "locked_versions": versions,
        **check_detector(model_dir),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--lock", type=Path, required=True)
    parser.add_argument("--model-dir", type=Path, required=True)
    parser.add_argument("--torch-build", choices=("cuda", "cpu"), required=True)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    try:
        report = run(args.lock, args.model_dir, args.torch_build)
    except CheckFailed as error:
        print(f"motflow build check failed: {error}", file=sys.stderr)
        return 1
    text = json.dumps(report, indent=2, sort_keys=True)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n", encoding="utf-8")
    print(f"motflow build check ok: {text}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
