"""The `motflow` console script (pyproject ``[project.scripts]``): `cli.main.main`."""

from __future__ import annotations

from motflow import use_repository_names


def main() -> int:
    use_repository_names()
    from cli.main import main as run

    return run()
