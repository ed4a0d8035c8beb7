"""docs/ARCHITECTURE.md, Import rules, for `cli/`: read off the code's imports (ast), not run."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[3]
CLI = REPO_ROOT / "cli"
REPOSITORY_PACKAGES = {"cli", "lambdas", "local", "model_code", "stacks"}
THIRD_PARTY = {"boto3", "botocore"}


def imported_modules(path: Path) -> set[str]:
    """Every absolute module `path` imports, in functions too (``from a import b`` -> a.b)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _is_module(name: str) -> bool:
    parts = name.split(".")
    return (REPO_ROOT.joinpath(*parts).with_suffix(".py")).is_file() or (
        REPO_ROOT.joinpath(*parts) / "__init__.py"
    ).is_file()


def _repository_modules(path: Path) -> set[str]:
    return {
        name
        for name in imported_modules(path)
        if name.split(".")[0] in REPOSITORY_PACKAGES and _is_module(name)
    }


CLI_FILES = sorted(p.name for p in CLI.glob("*.py"))


@pytest.mark.parametrize("module", CLI_FILES)
def test_the_cli_reaches_the_lambdas_only_through_the_job_core(module: str) -> None:
    lambdas = {
        name
        for name in _repository_modules(CLI / module)
        if name.split(".")[0] == "lambdas" and name != "lambdas"
    }
    assert lambdas <= {"lambdas.job_core"}, (
        f"cli/{module} imports {sorted(lambdas - {'lambdas.job_core'})}; import what the CLI"
        " shares with the Lambdas from lambdas/job_core.py"
    )


@pytest.mark.parametrize("module", CLI_FILES)
def test_the_cli_imports_the_stdlib_boto3_and_the_repository_only(module: str) -> None:
    roots = {name.split(".")[0] for name in imported_modules(CLI / module)}
    foreign = roots - set(sys.stdlib_module_names) - THIRD_PARTY - REPOSITORY_PACKAGES
    assert foreign == set(), f"cli/{module} imports {foreign}"


def test_the_stacks_modules_the_cli_imports_are_pure() -> None:
    """`stacks/` modules without aws_cdk only: the CLI never loads the CDK."""
    used = {
        name
        for path in CLI.glob("*.py")
        for name in _repository_modules(path)
        if name.startswith("stacks.")
    }
    assert "stacks.contract" in used
    for name in sorted(used):
        source = REPO_ROOT.joinpath(*name.split(".")).with_suffix(".py")
        roots = {module.split(".")[0] for module in imported_modules(source)}
        assert "aws_cdk" not in roots and "constructs" not in roots, f"{name} imports the CDK"


def test_the_rule_catches_a_second_lambdas_import(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "from lambdas import job_core, jobs\n"
        "def later():\n    import lambdas.notify\n    from lambdas.s3_events import split_s3_uri\n"
    )
    lambdas = {n for n in _repository_modules(sample) if n.startswith("lambdas.")}
    assert lambdas == {"lambdas.job_core", "lambdas.jobs", "lambdas.notify", "lambdas.s3_events"}


# What docs/ARCHITECTURE.md (Import rules) says `cli/` imports from the other packages: the job
# verbs' modules, then those `train` and `local` load only for their own commands.
JOB_VERBS = {"lambdas.job_core", "stacks.contract", "model_code", "model_code.progress"}
JOB_VERBS |= {"local.discovery"}
OWN_COMMANDS = {
    "local.__main__",
    "stacks.model_artifact",
    "model_code.detectors.nanodet",
    "model_code.training.command",
    "model_code.training.sagemaker_job",
}


def _other_packages_modules(path: Path) -> set[str]:
    """The modules of other repository packages `path` imports (a bare ``lambdas`` from
    ``from lambdas import job_core`` is not one; ``model_code`` itself, for the version, is)."""
    return {
        name
        for name in _repository_modules(path)
        if name.split(".")[0] != "cli" and (name not in REPOSITORY_PACKAGES or name == "model_code")
    }


def test_the_cli_imports_what_the_architecture_page_lists() -> None:
    own_commands = {"train.py", "sagemaker_training.py", "local_commands.py"}
    verbs = set().union(
        *(_other_packages_modules(p) for p in CLI.glob("*.py") if p.name not in own_commands)
    )
    every = set().union(*(_other_packages_modules(p) for p in CLI.glob("*.py")))
    assert verbs == JOB_VERBS
    assert every == JOB_VERBS | OWN_COMMANDS
