"""`motflow local run …` and `motflow local up`: the local stack, exactly as `python -m local`."""

from __future__ import annotations

from typing import Any

import local.__main__ as local_main


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "local",
        help="the local stack (moto + the model server): `run VIDEO…` or `up`",
        description="Runs `python -m local` with the same arguments and output.",
    )
    local_main.add_commands(parser)
    parser.set_defaults(run=local_main.run)
