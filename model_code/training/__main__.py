"""`python -m model_code.training --data DIR --out DIR --epochs N`: fine-tune NanoDet-g locally.

Writes OUT/model/ (config.json, weights/nanodet-g.pt, training.json). `motflow train` does the
same and also builds OUT/model.tar.gz. Expected failures print one line and exit with code 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from model_code.training.command import add_train_arguments, train_locally

EXIT_USAGE = 2


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m model_code.training", description=__doc__)
    add_train_arguments(parser)
    args = parser.parse_args(argv)
    try:
        model_dir = train_locally(args)
    except (ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    print(f"model_dir={model_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
