"""Simulator brain benchmark: memory per idle router and console speed, in-process.

Rows, each beside a baseline measured in the same run:

* brain state per idle router (tracemalloc) for N routers, beside what one router's
  factory config costs when copied instead of shared (the copy-on-write saving);
* router creation time per router;
* ``/export`` of a real-size configuration, beside the shared serialiser alone on
  the same parsed config (the floor: the brain's cost is building the Config);
* ``/import`` of the same export into a fresh router, beside parsing its text (the
  floor for reading it; the import checks every line first, then runs it).

Usage: ``python bench/bench_brain.py [--routers 1000,5000,10000] [--export FILE]``
(the export defaults to the largest corpus file of a modelled version).
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import gc
import os
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

from tikguard.routeros.parse import parse
from tikguard.routeros.serialise import serialise
from tikguard.sim.clock import SimClock
from tikguard.sim.defaults import factory_config
from tikguard.sim.fidelity import matching_router, round_trip
from tikguard.sim.profiles import model_profile, profile_for
from tikguard.sim.router import SimRouter

CORPUS = Path(
    os.environ.get("TIKGUARD_CORPUS", Path(__file__).resolve().parents[2] / "shared" / "corpus")
)
DEFAULT_EXPORT = "ros7.18_ccr2004_terse_containers-wireguard_sanitized.rsc"


def _bytes_of(make: Callable[[], object], count: int) -> tuple[float, float, list[object]]:
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    start = time.perf_counter()
    keep = [make() for _ in range(count)]
    elapsed = time.perf_counter() - start
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return (after - before) / count, elapsed / count, keep


def memory_rows(counts: list[int]) -> list[tuple[str, str, str, str]]:
    rows = []
    base = factory_config(profile_for("7.16"), model_profile("CHR"), None)
    for count in counts:
        names = iter(range(count))

        def make(names: object = names) -> SimRouter:
            assert isinstance(names, type(iter(range(0))))
            return SimRouter(
                name=f"r{next(names):05d}",
                clock=SimClock(),
                admin_password="pw",
                management_address="127.0.0.1",
            )

        per, seconds, keep = _bytes_of(make, count)
        copied, _, keep2 = _bytes_of(lambda: copy.deepcopy(dict(base)), min(count, 1000))
        rows.append(
            (
                f"brain state per idle router, {count} routers",
                f"{per / 1024:.1f} KiB",
                f"{copied / 1024:.1f} KiB (unshared factory config)",
                f"{per / copied:.2f}",
            )
        )
        rows.append(
            (
                f"router creation, {count} routers",
                f"{seconds * 1e3:.3f} ms",
                "-",
                "-",
            )
        )
        del keep, keep2
    return rows


async def speed_rows(text: str, repeat: int) -> list[tuple[str, str, str, str]]:
    result = await round_trip(text)
    if not result.import_output.rstrip().endswith("successfully"):
        tail = result.import_output[-200:]
        raise SystemExit(f"the export does not import: {tail}")
    config = parse(text)

    def timed(fn: Callable[[], object]) -> float:
        start = time.perf_counter()
        for _ in range(repeat):
            fn()
        return (time.perf_counter() - start) / repeat

    floor_export = timed(lambda: serialise(config, style="compact"))
    floor_parse = timed(lambda: parse(text))

    router = matching_router(config)
    router.files.write("x.rsc", text.encode("utf-8", "surrogateescape"))
    await router.execute("/import x.rsc", user="admin")
    start = time.perf_counter()
    for _ in range(repeat):
        await router.execute("/export", user="admin")
    brain_export = (time.perf_counter() - start) / repeat

    start = time.perf_counter()
    for _ in range(repeat):
        fresh = matching_router(config)
        fresh.files.write("x.rsc", text.encode("utf-8", "surrogateescape"))
        await fresh.execute("/import x.rsc", user="admin")
    brain_import = (time.perf_counter() - start) / repeat
    lines = len(text.splitlines())
    return [
        (
            f"/export of {lines}-line config",
            f"{brain_export * 1e3:.1f} ms",
            f"{floor_export * 1e3:.1f} ms (serialise alone)",
            f"{brain_export / floor_export:.2f}",
        ),
        (
            "/import of it into a fresh router",
            f"{brain_import * 1e3:.1f} ms",
            f"{floor_parse * 1e3:.1f} ms (parse alone)",
            f"{brain_import / floor_parse:.2f}",
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--routers", default="1000,5000,10000")
    parser.add_argument("--export", type=Path, default=CORPUS / "exports" / DEFAULT_EXPORT)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    rows = memory_rows([int(c) for c in args.routers.split(",")])
    if args.export.is_file():
        text = args.export.read_bytes().decode("utf-8", "surrogateescape")
        rows += asyncio.run(speed_rows(text, args.repeat))
    else:
        print(f"(no export at {args.export}; set TIKGUARD_CORPUS for the speed rows)")
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    header = ("measurement", "simulator", "baseline (same run)", "ratio")
    widths = [max(w, len(h)) for w, h in zip(widths, header, strict=True)]
    print(" | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    print("-|-".join("-" * w for w in widths))
    for row in rows:
        print(" | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))


if __name__ == "__main__":
    main()
