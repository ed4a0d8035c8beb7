"""The lambdas/ folder works as a Lambda code asset on its own: top-level modules, boto3 only."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

LAMBDAS = Path(__file__).resolve().parents[3] / "lambdas"
ALLOWED_THIRD_PARTY = {"boto3", "botocore"}


def _imported_roots(path: Path) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("module", sorted(p.name for p in LAMBDAS.glob("*.py")))
def test_modules_import_only_stdlib_boto3_and_siblings(module: str) -> None:
    siblings = {p.stem for p in LAMBDAS.glob("*.py")}
    foreign = {
        root
        for root in _imported_roots(LAMBDAS / module)
        if root not in sys.stdlib_module_names and root not in siblings | ALLOWED_THIRD_PARTY
    }
    assert foreign == set(), f"{module} imports {foreign}; the Lambda asset has only boto3"


def test_handlers_load_as_top_level_modules_like_the_lambda_runtime(tmp_path: Path) -> None:
    script = (
        "import sys; sys.path.insert(0, sys.argv[1]);"
        "import submit, complete, jobs, job_core;"
        "assert callable(submit.handler) and callable(complete.handler);"
        "assert job_core.job_id_for is jobs.job_id_for;"
        "assert 'lambdas' not in sys.modules;"
        "print(jobs.job_id_for('b', 'videos/x.mp4', 'e'))"
    )
    # -I: isolated mode, so neither the repository root nor PYTHONPATH is importable.
    result = subprocess.run(
        [sys.executable, "-I", "-c", script, str(LAMBDAS)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().startswith("x-")


def _relative_imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            names.update(alias.name for alias in node.names)
    return names


def test_handlers_never_import_each_other() -> None:
    """Issue 21 (shape): shared code lives in modules both use (the sweeper imported
    complete.apply_result and notifier.send)."""
    handlers = {
        path.stem
        for path in LAMBDAS.glob("*.py")
        if any(
            isinstance(node, ast.FunctionDef) and node.name == "handler"
            for node in ast.parse(path.read_text(encoding="utf-8")).body
        )
    }
    assert {"submit", "complete", "sweeper", "notifier"} <= handlers
    for name in sorted(handlers):
        path = LAMBDAS / f"{name}.py"
        others = (_relative_imports(path) | _imported_roots(path)) & (handlers - {name})
        assert not others, f"the {name} handler imports the handler(s) {sorted(others)}"
