"""The endpoint/training image (issue 19, item 2): one lock for the tests and the image, a base
inside its support window, a build check that loads the detector, and the `serve`/`train` entry
points SageMaker starts. Nothing here runs Docker: the Dockerfile and the locks are parsed, and the
scripts the image runs are run here with this environment's interpreter."""

from __future__ import annotations

import importlib.metadata as metadata
import io
import json
import os
import subprocess
import sys
import tarfile
from datetime import date, timedelta
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Annotations, Match

from stacks.base_images import BASE_IMAGES, DEFAULT_BASE_IMAGE, WARNING_DAYS, support_status
from stacks.container_image import (
    CONTAINER_FILES,
    MODEL_REQUIREMENTS,
    check_base_image_support,
    stage_context,
)
from stacks.settings import Settings
from tests.infra.image_lock import (
    WATCHED,
    canonical,
    image_pins,
    instructions,
    lock_problems,
)

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "container" / "Dockerfile"
DEV_LOCK = "requirements/dev.txt"
BASE = BASE_IMAGES[DEFAULT_BASE_IMAGE]
TORCH_FROM_LOCK = "\"$(grep -E '^torch==' /opt/motflow/requirements/model.txt)\""


def read_repo(path: str) -> str:
    return (REPO / path).read_text(encoding="utf-8")


def environment_versions() -> dict[str, str]:
    return {canonical(d.metadata["Name"]): d.version for d in metadata.distributions()}


def stages(dockerfile: str) -> dict[str, list[tuple[str, str]]]:
    """Instructions per build stage, keyed by the stage's name (the last one: "final")."""
    found: dict[str, list[tuple[str, str]]] = {}
    current = None
    for keyword, rest in instructions(dockerfile):
        if keyword == "FROM":
            parts = rest.split()
            current = parts[2] if len(parts) == 3 and parts[1].upper() == "AS" else "final"
            found[current] = []
        elif current is not None:
            found[current].append((keyword, rest))
    return found


# --- One lock: the image installs the versions the tests run ----------------------------------


def test_the_image_installs_the_versions_the_tests_run() -> None:
    problems = lock_problems(DOCKERFILE.read_text(), read_repo, DEV_LOCK, environment_versions())
    assert problems == []
    installs = image_pins(DOCKERFILE.read_text(), read_repo)
    assert set(WATCHED) <= set(installs.pins)


def _mutated_files(path: str, old: str, new: str):
    original = read_repo(path)
    assert old in original, f"{old!r} not in {path}"

    def read(wanted: str) -> str:
        return original.replace(old, new) if wanted == path else read_repo(wanted)

    return read


@pytest.mark.parametrize(
    ("mutation", "expected"),
    [
        (  # an extra pin in the Dockerfile
            ("dockerfile", "python -m pip check", "python -m pip install numpy==1.26.4; pip check"),
            "numpy: the image installs ['1.26.4', ",
        ),
        (  # the CPU build of another torch version
            ("dockerfile", TORCH_FROM_LOCK, "torch==2.6.0"),
            "torch: the image installs ['2.13.0', '2.6.0']",
        ),
        (  # the GUI OpenCV next to the headless one
            ("dockerfile", "python -m pip check", "python -m pip install opencv-python==5.0.0.93"),
            "opencv-python: a second cv2 provider",
        ),
        (  # an unpinned install
            ("dockerfile", "python -m pip check", "python -m pip install --upgrade onnxruntime"),
            "onnxruntime: the image installs it unpinned",
        ),
        (  # the lock changes, the tests' environment does not
            ("requirements/model.txt", "\nav==", "\nav==17.0.0\n#"),
            "av: the tests run 18.1.0, their lock says 17.0.0",
        ),
        (  # the dev lock pins torch itself, to another version than the image's lock
            ("requirements/dev.txt", "-r model.txt", "-r model.txt\ntorch==2.12.0"),
            "requirements/dev.txt: torch is pinned to 2.13.0 and 2.12.0",
        ),
    ],
)
def test_the_lock_check_fails_when_the_image_would_differ(
    mutation: tuple[str, str, str], expected: str
) -> None:
    where, old, new = mutation
    dockerfile = DOCKERFILE.read_text()
    read = read_repo
    if where == "dockerfile":
        assert old in dockerfile
        dockerfile = dockerfile.replace(old, new, 1)
    else:
        read = _mutated_files(where, old, new)
    try:
        problems = lock_problems(dockerfile, read, DEV_LOCK, environment_versions())
    except ValueError as error:
        problems = [str(error)]
    assert any(expected in problem for problem in problems), problems


def test_the_dockerfile_installs_the_engine_lock_and_torch_from_it() -> None:
    dockerfile = DOCKERFILE.read_text()
    runtime = stages(dockerfile)["runtime"]
    assert ("COPY", "requirements/model.txt /opt/motflow/requirements/model.txt") in runtime
    (install,) = [rest for keyword, rest in runtime if keyword == "RUN" and "pip install" in rest]
    assert "pip install -r /opt/motflow/requirements/model.txt" in install
    # The CPU build comes from the PyTorch CPU index, at the version the lock pins.
    assert "--index-url https://download.pytorch.org/whl/cpu" in install
    assert TORCH_FROM_LOCK in install
    assert install.index("whl/cpu") < install.index("-r /opt/motflow/requirements/model.txt")
    assert install.rstrip().endswith("python -m pip check")


# --- The base image: data, in support, same Python as the tests --------------------------------


def test_the_dockerfile_default_base_is_the_table_default() -> None:
    steps = instructions(DOCKERFILE.read_text())
    assert steps[0] == ("ARG", f"BASE_IMAGE={BASE.uri()}")
    assert steps[1] == ("FROM", "${BASE_IMAGE} AS runtime")


def test_the_base_has_the_test_interpreters_python() -> None:
    assert BASE.python == f"{sys.version_info.major}.{sys.version_info.minor}"
    assert BASE.tag.startswith(BASE.python)


def test_the_base_is_supported_today() -> None:
    # Fails from the day the base leaves support: move to a newer one in stacks/base_images.py.
    assert support_status(BASE, date.today()).level in ("ok", "warning")


def test_support_is_the_earliest_part_and_warns_within_the_window() -> None:
    end = BASE.end_of_support
    assert end == min(part.end_of_support for part in BASE.parts) == date(2027, 10, 31)
    assert BASE.first_to_end.name == "CPython 3.11"
    assert support_status(BASE, end - timedelta(days=WARNING_DAYS + 1)).level == "ok"
    assert support_status(BASE, end - timedelta(days=WARNING_DAYS)).level == "warning"
    assert support_status(BASE, end).level == "warning"
    past = support_status(BASE, end + timedelta(days=1))
    assert past.level == "error" and "CPython 3.11 support ends 2027-10-31" in past.message


@pytest.mark.parametrize(
    ("today", "errors", "warnings"),
    [
        (date(2027, 11, 1), 1, 0),  # past its end: cdk synth/deploy fail on the error
        (date(2027, 9, 15), 0, 1),  # 46 days left: a warning
        (date(2027, 6, 1), 0, 0),
    ],
)
def test_synth_annotates_the_base_image_support(today: date, errors: int, warnings: int) -> None:
    app = cdk.App()
    stack = cdk.Stack(app, "Probe")
    check_base_image_support(stack, BASE, today=today)
    annotations = Annotations.from_stack(stack)
    message = Match.string_like_regexp("base image .*python:3.11-slim-bookworm")
    assert len(annotations.find_error("*", message)) == errors
    assert len(annotations.find_warning("*", message)) == warnings


def test_a_digest_pins_the_base_image() -> None:
    digest = "sha256:" + "0f" * 32
    assert BASE.uri(digest) == f"public.ecr.aws/docker/library/python:3.11-slim-bookworm@{digest}"


# --- The build check: a stage that imports model_code and runs the detector -------------------


def test_the_build_check_runs_in_a_stage_the_image_depends_on() -> None:
    built = stages(DOCKERFILE.read_text())
    check = built["check"]
    assert ("COPY", "model/ /opt/ml/model/") in check
    (run,) = [rest for keyword, rest in check if keyword == "RUN"]
    assert run.startswith("python /opt/motflow/build_check.py")
    assert "--lock /opt/motflow/requirements/model.txt" in run
    assert "--model-dir /opt/ml/model" in run
    assert '--torch-build "${MOTFLOW_TORCH_BUILD}"' in run
    # BuildKit skips stages nothing depends on: the final image copies the check's report.
    assert (
        "COPY",
        "--from=check /opt/motflow/build-check.json /opt/motflow/build-check.json",
    ) in built["final"]
    assert ("COPY", "container/build_check.py /opt/motflow/build_check.py") in built["runtime"]


@pytest.fixture(scope="module")
def context_dir(tmp_path_factory) -> Path:
    return stage_context(tmp_path_factory.mktemp("image") / "context", Settings())


def _build_check(
    context: Path,
    lock: Path,
    torch_build: str,
    out: Path | None = None,
    pythonpath: Path | None = None,
    extra_env: dict[str, str] | None = None,
):
    command = [sys.executable, str(context / "container" / "build_check.py"), "--lock", str(lock)]
    command += ["--model-dir", str(context / "model"), "--torch-build", torch_build]
    command += ["--out", str(out)] if out else []
    # model_code must come from the model directory, not from the checkout.
    env = {**os.environ, "PYTHONPATH": str(pythonpath or ""), **(extra_env or {})}
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)


@pytest.mark.slow
def test_the_build_check_passes_here_and_fails_on_a_wrong_lock(context_dir, tmp_path) -> None:
    lock = context_dir / MODEL_REQUIREMENTS
    report_file = tmp_path / "build-check.json"
    done = _build_check(context_dir, lock, "cpu", report_file)
    assert done.returncode == 0, done.stderr
    report = json.loads(report_file.read_text())
    assert report["detector"] == Settings().detector == "nanodet-g"
    assert report["model_code"] == str(context_dir / "model" / "code" / "model_code")
    assert report["locked_versions"]["torch"].startswith("2.13.0")
    assert report["cpu_runtime"]["precision"] == "int8"  # calibrated on the clip it ships
    # A lock this environment does not match, and a CUDA build asked of a CPU torch, both fail.
    wrong = tmp_path / "model.txt"
    wrong.write_text(lock.read_text().replace("\nnumpy==", "\nnumpy==1.26.4\n#"))
    failed = _build_check(context_dir, wrong, "cpu")
    assert failed.returncode == 1 and "numpy==1.26.4 (installed: 2.4.6)" in failed.stderr
    cuda = _build_check(context_dir, lock, "cuda")
    assert cuda.returncode == 1 and "CPU build; the image needs CUDA" in cuda.stderr


@pytest.mark.slow
def test_the_build_check_fails_when_the_cpu_backend_would_fall_back(context_dir, tmp_path) -> None:
    # Without onnx the torch detectors still run, in plain torch: the build must not pass.
    shadow = tmp_path / "no-onnx"
    (shadow / "onnx").mkdir(parents=True)
    (shadow / "onnx" / "__init__.py").write_text("raise ImportError('onnx left out')\n")
    # A cached int8 model needs no onnx: start from an empty cache.
    empty_cache = {"MOTFLOW_CACHE_DIR": str(tmp_path / "cache")}
    lock = context_dir / MODEL_REQUIREMENTS
    done = _build_check(context_dir, lock, "cpu", pythonpath=shadow, extra_env=empty_cache)
    assert done.returncode == 1
    assert "backend 'torch', not 'onnxruntime'" in done.stderr


@pytest.mark.slow
def test_the_build_check_fails_when_int8_would_fall_back_to_fp32(context_dir, tmp_path) -> None:
    not_a_video = tmp_path / "clip.mp4"
    not_a_video.write_bytes(b"not a video")
    lock = context_dir / MODEL_REQUIREMENTS
    done = _build_check(
        context_dir, lock, "cpu", extra_env={"MOTFLOW_CALIBRATION_VIDEO": str(not_a_video)}
    )
    assert done.returncode == 1
    assert "ships a calibration clip but runs 'fp32'" in done.stderr
    assert "no readable frames" in done.stderr


def test_the_staged_context_is_what_the_dockerfile_copies(context_dir) -> None:
    for relative in (*CONTAINER_FILES, MODEL_REQUIREMENTS):
        assert (context_dir / relative).read_bytes() == (REPO / relative).read_bytes()
    config = json.loads((context_dir / "model" / "config.json").read_text())
    assert config == Settings().engine_config()
    copied = [
        rest.split()
        for keyword, rest in instructions(DOCKERFILE.read_text())
        if keyword == "COPY" and not rest.startswith("--from")
    ]
    for *sources, _ in copied:
        for source in sources:
            assert (context_dir / source).exists(), source


# --- serve and train: the commands SageMaker runs ---------------------------------------------


def _python_on_path(tmp_path: Path) -> dict[str, str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python").symlink_to(sys.executable)
    return {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "PYTHONPATH": ""}


def test_serve_runs_the_server_from_the_model_directory(tmp_path: Path) -> None:
    dockerfile = DOCKERFILE.read_text()
    assert ("COPY", "container/serve container/train /usr/local/bin/") in stages(dockerfile)[
        "runtime"
    ]
    assert 'CMD ["serve"]' in dockerfile and "EXPOSE 8080" in dockerfile
    model_dir = tmp_path / "model"
    server = model_dir / "code" / "model_code" / "serving"
    server.mkdir(parents=True)
    (server.parent / "__init__.py").write_text("")
    (server / "__init__.py").write_text("")
    (server / "__main__.py").write_text(
        "import json, os, sys\n"
        "print(json.dumps({'argv': sys.argv[1:], 'file': __file__,"
        " 'model_dir': os.environ['MOTFLOW_MODEL_DIR']}))\n"
    )
    env = {**_python_on_path(tmp_path), "MOTFLOW_MODEL_DIR": str(model_dir)}
    done = subprocess.run(
        [str(REPO / "container" / "serve"), "--probe"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    started = json.loads(done.stdout)
    assert started == {
        "argv": ["--probe"],
        "file": str(server / "__main__.py"),
        "model_dir": str(model_dir),
    }
    assert 'exec python -m model_code.serving "$@"' in (REPO / "container" / "serve").read_text()


def test_train_unpacks_the_code_channel_and_runs_the_entry(tmp_path: Path) -> None:
    root = tmp_path / "opt-ml"
    channel = root / "input" / "data" / "code"
    channel.mkdir(parents=True)
    (root / "output").mkdir()
    entry = b"import os, sys; print('entry ran in', os.getcwd()); sys.exit(3)\n"
    with tarfile.open(channel / "sourcedir.tar.gz", "w:gz") as tar:
        info = tarfile.TarInfo("train_entry.py")
        info.size = len(entry)
        tar.addfile(info, io.BytesIO(entry))
    env = {**_python_on_path(tmp_path), "MOTFLOW_SM_ROOT": str(root)}
    train = str(REPO / "container" / "train")
    done = subprocess.run([train], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 3, done.stderr  # the entry's own exit status
    assert f"entry ran in {root / 'code'}" in done.stdout
    (channel / "sourcedir.tar.gz").unlink()
    missing = subprocess.run([train], capture_output=True, text=True, env=env, timeout=60)
    assert missing.returncode == 1
    assert "no source archive" in (root / "output" / "failure").read_text()
