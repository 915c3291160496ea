"""Cluster benchmark: 1, 2 and 3 ``tikguard serve`` workers on one PostgreSQL, then a
worker killed mid-run, in one run.

The simulated routers run in their own process; the workers are real ``tikguard
serve`` processes (tests/ops/cluster_worker.py, which is that command) sharing one
fresh database; this process only submits (it is never a worker) and reads back. For
each cluster size, the same pushes (``--pushes`` over ``--routers``, two per router, so
pushes also queue behind each other):

* wall time from the first submit to the last outcome;
* spread: pushes run by each worker (from DBOS's record of who ran each workflow);
* controller CPU per push: CPU seconds of all worker processes together / pushes;
* outcomes (every push must be ``committed``).

Failover: three workers, one SIGKILLed once a third of the pushes ended; the time from
the kill to the last of the pushes it held finishing (taken over by a survivor after
the lease), and whether every push still ends ``committed``.

On a 2-core machine scaling itself cannot show; the spread, the failover time and the
absence of duplicate work can. Needs ``TIKGUARD_TEST_POSTGRES_URL`` (a role that may
create databases).

Usage: ``python bench/bench_cluster.py [--routers 100] [--pushes 200] [--time-scale 20]``
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "ops"))

from clusterkit import (
    Cluster,
    WorkerProc,
    cluster,
    entry_script,
    fresh_database,
    overlapping,
    records,
    register,
    simulator,
    tuning,
)
from dbos import DBOSClient
from sqlalchemy import func, select

from tikguard.ops import push as push_ops
from tikguard.store.db import Database
from tikguard.store.models import Operation
from tikguard.store.vault import MasterKey

#: Real seconds: generous on a loaded machine.
LEASE = 5.0


def cpu_seconds(w: WorkerProc) -> float:
    """User + system CPU of a live worker process (from /proc)."""
    fields = Path(f"/proc/{w.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def finished(db: Database, ids: list[str]) -> int:
    with db.session() as s:
        return int(
            s.scalar(
                select(func.count()).where(Operation.id.in_(ids), Operation.outcome.is_not(None))
            )
            or 0
        )


async def run_pushes(
    c: Cluster,
    db: Database,
    tenant_id: int,
    names: list[str],
    pushes: int,
    first: int,
    kill_after: WorkerProc | None = None,
) -> dict[str, Any]:
    settings = c.settings()
    t0 = time.perf_counter()
    # two rounds over the routers, each with a change of its own (the same entry pushed
    # twice would fail its dry run); ``first`` numbers them apart from the other runs'
    subs = []
    for r in range(2):
        group = [names[i % len(names)] for i in range(r * pushes // 2, (r + 1) * pushes // 2)]
        req = push_ops.PushRequest(group, script=entry_script(first + r, pause=False))
        subs += await push_ops.submit(db, settings, tenant_id, req)
    ids = [s.op_id for s in subs]
    killed: dict[str, Any] = {}
    if kill_after is not None:
        client = DBOSClient(system_database_url=settings.dbos_database_url())
        victim_id = (kill_after.data_dir / "executor-id").read_text().strip()
        while True:
            if await asyncio.to_thread(finished, db, ids) >= pushes // 3:
                break
            await asyncio.sleep(0.2)
        held = [
            w.workflow_id
            for w in client.list_workflows(
                status="PENDING", executor_id=victim_id, load_input=False, load_output=False
            )
        ]
        kill_after.proc.send_signal(signal.SIGKILL)
        killed = {"at": time.perf_counter(), "held": held, "id": victim_id}
        client.destroy()
    ops = await push_ops.wait(db, tenant_id, ids, poll=0.2)
    took = time.perf_counter() - t0
    recs = records(db, ids)
    client = DBOSClient(system_database_url=settings.dbos_database_url())
    ran_by = Counter(
        w.executor_id
        for w in client.list_workflows(workflow_ids=ids, load_input=False, load_output=False)
    )
    client.destroy()
    result: dict[str, Any] = {
        "wall": took,
        "outcomes": Counter(o.outcome for o in ops),
        "spread": sorted(ran_by.values(), reverse=True),
        "ids": ids,
        "recs": recs,
    }
    if killed:
        ends = [recs[i].span[1] for i in killed["held"] if i in recs]
        last = max(ends) if ends else time.time()
        result["failover"] = last - (time.time() - (time.perf_counter() - killed["at"]))
        result["held"] = len(killed["held"])
        result["taken"] = sum(1 for r in recs.values() for e in r.events if e.stage == "takeover")
    return result


def check(result: dict[str, Any]) -> list[str]:
    """Duplicate work: events or versions written twice, a router in two pushes."""
    problems = []
    by_device: dict[int, list[Any]] = {}
    for rec in result["recs"].values():
        by_device.setdefault(rec.op.device_id or 0, []).append(rec)
        stages = Counter(e.stage for e in rec.events)
        if any(k > 1 for k in stages.values()):
            problems.append(f"{rec.op.id}: events twice {stages}")
        if any(k > 1 for k in Counter(t for t, _ in rec.versions).values()):
            problems.append(f"{rec.op.id}: versions twice")
    problems += [f"overlap {a} {b}" for a, b in overlapping(by_device)]
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--routers", type=int, default=100)
    parser.add_argument("--pushes", type=int, default=200)
    parser.add_argument("--time-scale", type=float, default=20.0)
    args = parser.parse_args()
    base = os.environ.get("TIKGUARD_TEST_POSTGRES_URL")
    if not base:
        print("skipped: a cluster needs PostgreSQL; set TIKGUARD_TEST_POSTGRES_URL")
        return
    scale = args.time_scale
    os.environ["TIKGUARD_TIME_SCALE"] = str(scale)
    tmp = Path(tempfile.mkdtemp(prefix="tikguard-bench-cluster-"))
    values = tuning(scale, LEASE, 600.0)
    values["push_window"] = 600.0
    table = []
    try:
        with (
            fresh_database("tg_bench_cluster", base) as url,
            simulator(tmp / "sim", args.routers, scale) as rows,
        ):
            key = MasterKey.generate().encoded()
            c0 = Cluster(tmp, url, key, values)
            db = Database.open(c0.settings())
            tenant_id = asyncio.run(register(db, c0.settings(), rows))
            names = [r["name"] for r in rows]
            sizes = ((1, False), (2, False), (3, False), (3, True))
            for run, (size, kill) in enumerate(sizes):
                with cluster(tmp, url, key, values) as c:
                    ws = [c.start(f"w{i}") for i in range(size)]
                    c.wait_ready(*ws, within=900)  # a loaded machine starts slowly
                    cpu0 = sum(cpu_seconds(w) for w in ws)
                    victim = ws[-1] if kill else None
                    result = asyncio.run(
                        run_pushes(c, db, tenant_id, names, args.pushes, 2 * run, victim)
                    )
                    alive = [w for w in ws if w.proc.poll() is None]
                    cpu = sum(cpu_seconds(w) for w in alive) - cpu0
                    label = f"{size} worker(s)" + (", one killed" if kill else "")
                    table.append((label, result, cpu / args.pushes, check(result)))
            db.dispose()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(
        f"\ncluster: {args.pushes} guarded pushes to {args.routers} routers, window 600 s "
        f"(device), time scale x{scale:g}, PostgreSQL, lease {LEASE:g} s"
    )
    print(f"{'run':<24} {'wall s':>7} {'CPU s/push':>11}  {'spread':<16} outcomes / duplicates")
    for label, r, cpu, problems in table:
        print(
            f"{label:<24} {r['wall']:7.2f} {cpu:11.3f}  {'/'.join(map(str, r['spread'])):<16} "
            f"{dict(r['outcomes'])} / {len(problems)} {problems[:2]}"
        )
        if "failover" in r:
            print(
                f"{'':<24} failover: {r['held']} pushes held by the killed worker, last "
                f"finished {r['failover']:.2f} s after the kill ({r['taken']} takeover events)"
            )
    print("(CPU s/push of the killed run counts only the surviving workers)")


if __name__ == "__main__":
    main()
