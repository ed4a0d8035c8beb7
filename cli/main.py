"""`motflow` entry point: argparse subcommands, each registered by its own module.

A subcommand module provides `register(subparsers)`, which adds its parser and sets `run` (a
function of the parsed arguments returning an exit code). Add a module to `COMMANDS` to add one.
Expected failures (bad input, missing files, AWS refusals) print one line and exit with code 2.

The job verbs need only boto3. `train` (torch, the training code) and `local` (the local stack:
moto, the model server) are imported only when their command is run or asked for help; when
their packages are missing they say so in one line.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import Any

from cli import __version__, jobs_commands, open_command

COMMANDS = (jobs_commands, open_command)
# Commands whose modules import heavy packages: name -> (module, one-line summary, what to install)
HEAVY_COMMANDS = {
    "train": (
        "cli.train",
        "fine-tune the detector on labelled footage",
        "the training packages (a repo checkout with `make setup`, requirements/model.txt)",
    ),
    "local": (
        "cli.local_commands",
        "the local stack (moto + the model server): `run VIDEO…` or `up`",
        "the local stack's packages (a repo checkout with `make setup`)",
    ),
}
EXIT_USAGE = 2


def parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The full parser; with `argv`, the heavy commands it does not name are placeholders."""
    wanted = _command_in(argv)
    root = argparse.ArgumentParser(prog="motflow", description="motflow: video in, tracks out")
    root.add_argument("--version", action="version", version=f"motflow {__version__}")
    commands = root.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module, summary, needs) in HEAVY_COMMANDS.items():
        if argv is not None and wanted != name:
            _placeholder(commands, name, summary, needs)
            continue
        try:
            importlib.import_module(module).register(commands)
        except ImportError as error:
            _placeholder(commands, name, summary, needs, error)
    for command in COMMANDS:
        command.register(commands)
    return root


def _command_in(argv: Sequence[str] | None) -> str | None:
    return next((arg for arg in argv or () if not arg.startswith("-")), None)


def _placeholder(
    commands: Any, name: str, summary: str, needs: str, error: ImportError | None = None
) -> None:
    """A command whose module is not loaded: it takes anything and runs only to say why."""
    command = commands.add_parser(name, help=summary, description=summary, add_help=False)

    def unavailable(args: argparse.Namespace) -> int:
        print(f"error: `motflow {name}` needs {needs}: {error}", file=sys.stderr)
        return EXIT_USAGE

    command.set_defaults(run=unavailable, takes_anything=True)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    root = parser(argv)
    args, extra = root.parse_known_args(argv)
    if extra and not getattr(args, "takes_anything", False):
        root.error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        return int(args.run(args))
    except (ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
