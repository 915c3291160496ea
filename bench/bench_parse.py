"""Parse + normalise throughput over the RouterOS corpus, in MB/s.

Baseline, measured in the same run on the same bytes: ``str.splitlines`` plus one
regex pass that finds every ``key=value`` word (the least any export reader does).
The table shows each stage's MB/s and its ratio to that baseline. Goal: parse +
normalise >= 10 MB/s. Times are the process's CPU time (best of N), so other work on a
shared machine does not show up as slowness; ``--wall`` measures elapsed time instead.

Run: ``python bench/bench_parse.py [--repeat N]``.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path

from tikguard.routeros.normalise import normalise
from tikguard.routeros.parse import parse
from tikguard.routeros.serialise import serialise

REPO = Path(__file__).resolve().parents[1]
CORPUS = Path(os.environ.get("TIKGUARD_CORPUS", REPO.parent / "shared" / "corpus")) / "exports"
_PROP = re.compile(r'(\S+?)=("(?:[^"\\]|\\.)*"|\S*)')


def baseline(texts: list[str]) -> None:
    for text in texts:
        for line in text.splitlines():
            _PROP.findall(line)


def run_normalise(texts: list[str]) -> None:
    for text in texts:
        normalise(text)


def run_parse(texts: list[str]) -> None:
    for text in texts:
        parse(text)


def run_both(texts: list[str]) -> None:
    for text in texts:
        parse(normalise(text))


def best_of(
    fn: Callable[[list[str]], None],
    texts: list[str],
    repeat: int,
    clock: Callable[[], float] = time.process_time,
) -> float:
    times = []
    for _ in range(repeat):
        start = clock()
        fn(texts)
        times.append(clock() - start)
    return min(times)


def main() -> int:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--repeat", type=int, default=5)
    args.add_argument("--wall", action="store_true", help="measure elapsed, not CPU, time")
    opts = args.parse_args()
    clock = time.perf_counter if opts.wall else time.process_time
    files = sorted(CORPUS.glob("*.rsc"))
    if not files:
        print(f"corpus not found at {CORPUS} (set TIKGUARD_CORPUS)", file=sys.stderr)
        return 1
    texts = [f.read_bytes().decode("utf-8", "surrogateescape") for f in files]
    megabytes = sum(len(f.read_bytes()) for f in files) / 1e6
    configs = [parse(t) for t in texts]

    def run_serialise(_: list[str]) -> None:
        for config in configs:
            serialise(config)

    stages: list[tuple[str, Callable[[list[str]], None]]] = [
        ("baseline: splitlines + key=value regex", baseline),
        ("normalise", run_normalise),
        ("parse", run_parse),
        ("parse + normalise", run_both),
        ("serialise (compact)", run_serialise),
    ]
    base = best_of(baseline, texts, opts.repeat, clock)
    kind = "elapsed" if opts.wall else "CPU"
    print(f"corpus: {len(files)} exports, {megabytes:.2f} MB; {kind} time, best of {opts.repeat}")
    print(f"{'stage':<40} {'seconds':>9} {'MB/s':>8} {'vs baseline':>12}")
    for name, fn in stages:
        seconds = base if fn is baseline else best_of(fn, texts, opts.repeat, clock)
        print(f"{name:<40} {seconds:>9.4f} {megabytes / seconds:>8.1f} {base / seconds:>11.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
