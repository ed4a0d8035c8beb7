"""`motflow local run …` and `motflow local up`: the local stack, exactly as `python -m local`."""

from __future__ import annotations

import argparse
from typing import Any

import local.__main__ as local_main


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "local",
        help="the local stack (moto + the model server): `run VIDEO…` or `up`",
        description="Runs `python -m local` with the same arguments and output.",
        add_help=False,
    )
    parser.add_argument("arguments", nargs=argparse.REMAINDER, help="see `motflow local run -h`")
    parser.set_defaults(run=run_local)


def run_local(args: argparse.Namespace) -> int:
    return local_main.main(list(args.arguments))
