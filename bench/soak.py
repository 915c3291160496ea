"""The soak at a larger size: more routers, more actions, more faults.

The same run as ``tests/ops/test_soak.py`` (see ``tests/ops/soak.py`` for what it does
and the invariants it checks): a simulated fleet in its own process, ``tikguard serve``
with scheduled backups, pushes through the API and the CLI, CLI backups and listings,
and random faults (kill -9 of the server, router power cuts, dropped connections,
random disconnects); then every operation ends and the invariants are checked.

Reported: actions, faults injected, operations by outcome, invariant checks made and
violations (the goal: zero). Exit status 1 when there is a violation.

Usage: ``python bench/soak.py [--routers 10] [--actions 200] [--seed 1] [--keep DIR]``
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.ops.soak import SoakConfig, run_soak


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--routers", type=int, default=10)
    parser.add_argument("--actions", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--time-scale", type=float, default=50.0)
    parser.add_argument("--pause", type=float, default=1.0, help="max real seconds between actions")
    parser.add_argument("--keep", type=Path, help="run in DIR and keep it (logs, data)")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="tikguard-soak-"))
    work.mkdir(parents=True, exist_ok=True)
    cfg = SoakConfig(
        routers=args.routers,
        actions=args.actions,
        seed=args.seed,
        scale=args.time_scale,
        pause=args.pause,
    )
    try:
        report = run_soak(work, cfg)
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    print(report.summary())
    return 1 if report.violations else 0


if __name__ == "__main__":
    raise SystemExit(main())
