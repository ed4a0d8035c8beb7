"""`motflow` entry point: argparse subcommands, each registered by its own module.

A subcommand module provides `register(subparsers)`, which adds its parser and sets `run` (a
function of the parsed arguments returning an exit code). Add a module to `COMMANDS` to add one.
Expected failures (bad input, missing files, AWS refusals) print one line and exit with code 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from cli import __version__, jobs_commands, local_commands, train

COMMANDS = (train, jobs_commands, local_commands)
EXIT_USAGE = 2


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="motflow", description="motflow: video in, tracks out")
    root.add_argument("--version", action="version", version=f"motflow {__version__}")
    commands = root.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.register(commands)
    return root


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return int(args.run(args))
    except (ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
