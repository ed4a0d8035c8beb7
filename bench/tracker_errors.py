"""Where the errors are: FP / FN / ID switches, DetA and AssA per tracker_accuracy row.

Ours (the defaults, or with `TrackerConfig` overrides given as JSON) and the six anchors on the
rows of bench/tracker_accuracy.py (row c with NanoDet-g only), scored by `trackers`' evaluation.
MOTA counts FP + FN + IDsw against the gt boxes; IDF1 and HOTA's AssA reward long, pure
identities. The diagnosis of issue 22's open gaps (docs/BENCHMARKS.md) is read off this.

Run: `PYTHONPATH=$PWD:$PWD/.cache/bench-site .venv/bin/python -m bench.tracker_errors
[--rows ade] [--overrides '{"coast_s": 0}']`.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from bench import peers
from bench.track_eval import Evaluator, pooled
from bench.track_eval import scores as score_of
from bench.tracker_accuracy import bench_rows, run_row
from model_code.tracking import GENERIC, preset


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="abcde", help="row letters to run")
    parser.add_argument("--overrides", default="{}", help="TrackerConfig overrides (JSON)")
    args = parser.parse_args(argv)
    anchors, missing = peers.available_anchors()
    rows, skipped = bench_rows()
    for note in missing + skipped:
        print(f"skipped {note}", file=sys.stderr)
    ours = peers.ours(preset().with_overrides(json.loads(args.overrides)), "ours")
    print(f"{'row':<28} {'tracker':<20} {'FP':>6} {'FN':>6} {'IDsw':>5} {'DetA':>5} {'AssA':>5}")
    with Evaluator() as evaluator:
        for row in rows:
            if row.name[0] not in args.rows or row.detector not in (GENERIC, "nanodet-g"):
                continue
            for runner in [ours, *anchors]:
                result = pooled(run_row(runner, row, runner is not ours, evaluator).values())
                s = score_of(result)
                print(
                    f"{row.name:<28} {runner.name[:20]:<20} {int(result.CLEAR.CLR_FP):6d} "
                    f"{int(result.CLEAR.CLR_FN):6d} {s.idsw:5d} {100 * s.deta:5.1f} "
                    f"{100 * s.assa:5.1f}",
                    flush=True,
                )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
