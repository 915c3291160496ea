"""CLI start-up: wall and CPU time of a ``tikguard`` process per command.

Every command pays for the modules it imports; the root and ``--help`` must stay cheap
(goal: under 1 s) because people type them and the test suite runs many ``tikguard``
subprocesses. Baseline, measured in the same run: ``python -c pass`` (the interpreter
alone). Each row is the best of N runs (wall, and the child's user+system CPU), with its
ratio to the baseline's.

Run: ``python bench/bench_cli_startup.py [--repeat N]``.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time

#: (label, argv after the interpreter). The listings read an empty store.
CASES: list[tuple[str, list[str]]] = [
    ("python -c pass (baseline)", ["-c", "pass"]),
    ("tikguard --help", ["-m", "tikguard.cli", "--help"]),
    ("tikguard version", ["-m", "tikguard.cli", "version"]),
    ("tikguard device --help", ["-m", "tikguard.cli", "device", "--help"]),
    ("tikguard push --help", ["-m", "tikguard.cli", "push", "--help"]),
    ("tikguard rollout --help", ["-m", "tikguard.cli", "rollout", "--help"]),
    ("tikguard device list", ["-m", "tikguard.cli", "device", "list"]),
    ("tikguard ops list", ["-m", "tikguard.cli", "ops", "list"]),
    ("tikguard user list", ["-m", "tikguard.cli", "user", "list"]),
    ("tikguard schedule list", ["-m", "tikguard.cli", "schedule", "list"]),
]


def run_once(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU seconds of one child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([sys.executable, *argv], env=env, check=True, capture_output=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs per command (best of)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tikguard-bench-cli-") as data:
        env = dict(os.environ, TIKGUARD_DATA_DIR=data, COLUMNS="120")
        env.pop("TIKGUARD_TENANT", None)
        run_once(["-m", "tikguard.cli", "device", "list"], env)  # create and migrate the store
        rows = []
        for label, argv in CASES:
            runs = [run_once(argv, env) for _ in range(args.repeat)]
            rows.append((label, min(w for w, _ in runs), min(c for _, c in runs)))
    base_wall, base_cpu = rows[0][1], rows[0][2]
    print(f"CLI start-up, best of {args.repeat} (load average {os.getloadavg()[0]:.1f})")
    print(f"{'command':<28} {'wall s':>7} {'x base':>7} {'CPU s':>7} {'x base':>7}")
    for label, wall, cpu in rows:
        print(
            f"{label:<28} {wall:7.3f} {wall / base_wall:7.1f} {cpu:7.3f} "
            f"{cpu / max(base_cpu, 1e-3):7.1f}"
        )


if __name__ == "__main__":
    main()
