"""Guarded push benchmark: 100 routers pushed at once against one router alone.

The simulated routers run in their own process (``tikguard sim run``, clock scaled by
``--time-scale`` on both sides); this process is the controller (engine, store, DBOS
on SQLite, the embedded default). In the same run, with the same window and change:

* baseline: one guarded push to one router, start to outcome;
* fleet: one guarded push to each of N other routers, all submitted at once.

Reported: wall time of each, the ratio fleet/baseline (goal: at most 1.3), controller
CPU seconds per push (process time, all threads: SSH, database, engine), and the
outcomes (every push must be ``committed``).

Two fleets, one table each (``--fleets tiny,corpus``): blank routers, and routers
seeded with the test corpus's real exports in turn (``tikguard sim run --config-from``),
whose pre-push backup, verify export and post-push backup move tens of kilobytes.

Usage: ``python bench/bench_push.py [--routers 100] [--time-scale 20] [--fleets tiny,corpus]``

``--before REV`` compares the controller's CPU per push of another git revision (its
``src/``, exported to a temporary folder) with this checkout's (or ``--after REV``'s),
in one run: each fleet is benchmarked with the older code, then with the newer, and a
last table gives the ratio after/before per run (below 1: the newer costs less).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from simfleet import FLEETS, start_simulator
from tikguard.ops import push as push_ops
from tikguard.ops import runtime
from tikguard.ops.backup import backup
from tikguard.settings import Settings
from tikguard.store import devices as store_devices
from tikguard.store.db import Database
from tikguard.store.tenants import ensure_tenant

SCRIPT = (
    '/ip firewall address-list add list=bench address=192.0.2.1 comment="bench $1 [x]"\n'
    "/ip dns set servers=9.9.9.9\n"
)


async def run(
    fleet: str, routers: int, scale: float, data: Path, rows: list[dict[str, str]]
) -> None:
    wall = 10.0  # network limits in real seconds
    settings = Settings(
        data_dir=data,
        time_scale=scale,
        engine_polling_interval=0.1,
        connect_timeout=wall * scale,
        command_timeout=wall * scale,
        backup_timeout=3 * wall * scale,
        push_window=300.0,
        push_settle=10.0,
        push_boot_wait=120.0,
        push_concurrency=max(100, routers),
        backup_concurrency=max(50, routers),
    )
    db = Database.open(settings)

    def setup(session: Any) -> int:
        tenant = ensure_tenant(session)
        for row in rows:
            store_devices.add_device(
                session,
                tenant.id,
                name=row["name"],
                host=row["host"],
                port=int(row["port"]),
                username=row["username"],
                password=row["password"],
            )
        return tenant.id

    tenant_id = await db.run_async(setup)
    results = await backup(db, settings, tenant_id)
    assert all(r.ok for r in results), [r for r in results if not r.ok][:3]
    names = [row["name"] for row in rows]
    table = []
    async with runtime.running(settings):
        for label, group in (
            ("baseline: 1 router", names[:1]),
            (f"fleet: {routers} routers", names[1:]),
        ):
            req = push_ops.PushRequest(group, script=SCRIPT, window=300.0)
            cpu0, t0 = time.process_time(), time.perf_counter()
            subs = await push_ops.submit(db, settings, tenant_id, req)
            ops = await push_ops.wait(db, tenant_id, [s.op_id for s in subs])
            took, cpu = time.perf_counter() - t0, time.process_time() - cpu0
            table.append((label, took, cpu / len(group), Counter(o.outcome for o in ops)))
            for op in [o for o in ops if o.outcome != "committed"][:3]:
                print(f"   {op.outcome}: {str(op.evidence.get('reason'))[:300]}")
            if os.environ.get("BENCH_TRACE"):
                trace(db, tenant_id, [s.op_id for s in subs], t0)
    db.dispose()
    base = table[0][1]
    print(
        f"\nguarded push, {fleet} fleet, window 300 s (device), time scale x{scale:g}, SQLite,"
        " one process"
    )
    print(f"{'run':<22} {'wall s':>8} {'ratio':>6} {'CPU s/push':>11}  outcomes")
    for label, took, cpu, outcomes in table:
        print(f"{label:<22} {took:8.2f} {took / base:6.2f} {cpu:11.3f}  {dict(outcomes)}")
    out = os.environ.get("BENCH_PUSH_JSON")
    if out:  # for --before: one line per run
        lines = [
            json.dumps({"fleet": fleet, "run": label, "wall": took, "cpu": cpu})
            for label, took, cpu, _outcomes in table
        ]
        with Path(out).open("a") as handle:  # noqa: ASYNC230 (after the run, a few bytes)
            handle.write("\n".join(lines) + "\n")


def trace(db: Database, tenant_id: int, op_ids: list[str], t0: float) -> None:
    """Per stage: when the first and the last push reached it (seconds since submit)."""
    from tikguard.store import operations as store_ops

    wall0 = time.time() - (time.perf_counter() - t0)
    stages: dict[str, list[float]] = {}
    with db.session() as s:
        for op_id in op_ids:
            for e in store_ops.list_events(s, tenant_id, op_id):
                stages.setdefault(e.stage, []).append(e.at.timestamp() - wall0)
    for stage, times in stages.items():
        print(f"   {stage:<16} first {min(times):6.2f}  last {max(times):6.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--routers", type=int, default=100)
    parser.add_argument("--time-scale", type=float, default=20.0)
    parser.add_argument("--fleets", default=",".join(FLEETS))
    parser.add_argument("--before", metavar="REV", help="Also run a git revision's code; compare.")
    parser.add_argument("--after", metavar="REV", help="With --before: this revision, not src/.")
    args = parser.parse_args()
    if args.before:
        compare(args.before, args.after, args.routers, args.time_scale, args.fleets)
        return
    os.environ["TIKGUARD_TIME_SCALE"] = str(args.time_scale)
    for fleet in args.fleets.split(","):
        tmp = Path(tempfile.mkdtemp(prefix=f"tikguard-bench-push-{fleet}-"))
        proc, rows = start_simulator(
            args.routers + 1, tmp / "sim", scale=args.time_scale, fleet=fleet
        )
        try:
            asyncio.run(run(fleet, args.routers, args.time_scale, tmp / "data", rows))
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(10)
            shutil.rmtree(tmp, ignore_errors=True)


def _export_src(repo: Path, rev: str, into: Path) -> Path:
    """``rev``'s ``src/`` in ``into`` (a fresh folder)."""
    into.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(repo), "archive", rev, "src"], check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into / "src"


def compare(rev: str, after_rev: str | None, routers: int, scale: float, fleets: str) -> None:
    """This benchmark with ``rev``'s code, then with ``after_rev``'s (default: this
    checkout's); the CPU ratio."""
    repo = Path(__file__).resolve().parents[1]
    tmp = Path(tempfile.mkdtemp(prefix="tikguard-bench-before-"))
    try:
        before = _export_src(repo, rev, tmp / "before")
        after = _export_src(repo, after_rev, tmp / "after") if after_rev else repo / "src"
        found: dict[str, list[dict[str, Any]]] = {}
        for label, src in (("before", before), ("after", after)):
            out = tmp / f"{label}.jsonl"
            env = {
                **os.environ,
                "PYTHONPATH": f"{src}{os.pathsep}{repo / 'bench'}",
                "BENCH_PUSH_JSON": str(out),
            }
            print(f"== {label}: {src}", flush=True)
            command = [sys.executable, __file__, "--routers", str(routers)]
            command += ["--time-scale", str(scale), "--fleets", fleets]
            subprocess.run(
                command,
                env=env,
                check=True,
            )
            found[label] = [json.loads(line) for line in out.read_text().splitlines()]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    newer = after_rev or "this checkout"
    print(f"\ncontroller CPU per push, {rev} (before) and {newer} (after), one run")
    print(f"{'fleet':<8} {'run':<22} {'before s':>9} {'after s':>9} {'after/before':>13}")
    for old, new in zip(found["before"], found["after"], strict=True):
        ratio = new["cpu"] / old["cpu"] if old["cpu"] else float("nan")
        print(
            f"{old['fleet']:<8} {old['run']:<22} {old['cpu']:9.3f} {new['cpu']:9.3f} {ratio:13.2f}"
        )


if __name__ == "__main__":
    main()
