"""Three real ``tikguard serve`` workers on one PostgreSQL, simulated routers in their
own process, and workers killed (SIGKILL) at points of a push: every push ends with an
outcome the router agrees with, a survivor takes the dead worker's pushes over within
the lease plus a small bound, no router is in two pushes at once, and no event or
version is written twice. Also: workers started at the same moment on an empty
database all come up; a second worker with a live worker's id, and a worker without
the cluster's master key, are refused with a message that says what to set.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from tests.pgtemp import fresh_database

from tikguard.ops import push as push_ops
from tikguard.store.db import Database
from tikguard.store.vault import MasterKey

from .clusterkit import (
    cluster,
    entry_script,
    overlapping,
    records,
    register,
    router_state,
    simulator,
    tuning,
)

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(900)]

SCALE = 50.0
#: Heartbeat lease in real seconds: generous for a loaded machine (a worker that gets
#: no CPU for longer would be taken over while alive; 4 s was too short at a load
#: average of 60 on 2 cores).
LEASE = 10.0
#: 60 s of a test: a push taken over after the lease still commits before its margin.
WINDOW = 3000.0
#: How far past the lease a takeover may start: one watch interval, the election and
#: a loaded machine.
BOUND = 10.0


@pytest.fixture
def pg() -> str:
    import os

    if not os.environ.get("TIKGUARD_TEST_POSTGRES_URL"):
        pytest.skip("PostgreSQL not configured: set TIKGUARD_TEST_POSTGRES_URL")
    return os.environ["TIKGUARD_TEST_POSTGRES_URL"]


def _run_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tikguard.cli", *args],
        env={**env, "COLUMNS": "250"},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_workers_start_together_and_refuse_duplicates(tmp_path: Path, pg: str) -> None:
    key = MasterKey.generate().encoded()
    with (
        fresh_database("tg_cluster", pg) as url,
        cluster(tmp_path, url, key, tuning(SCALE, LEASE, WINDOW)) as c,
    ):
        trio = [c.start(f"w{i}") for i in range(3)]  # same moment, empty database
        c.wait_ready(*trio)
        first = [w for w in trio if "Created the first admin" in w.output()]
        assert len(first) == 1, "exactly one worker creates the first admin"

        listed = _run_cli(c.env("client"), "workers")
        assert listed.returncode == 0, listed.stderr
        ids = [(w.data_dir / "executor-id").read_text().strip() for w in trio]
        for worker_id in ids:
            assert worker_id in listed.stdout
        assert listed.stdout.count("alive") >= 3

        twin = c.start("twin", TIKGUARD_EXECUTOR_ID=ids[0])
        keyless = c.start("keyless", TIKGUARD_MASTER_KEY="")
        other = c.start("other", TIKGUARD_MASTER_KEY=MasterKey.generate().encoded())
        assert twin.proc.wait(600) != 0
        assert "TIKGUARD_EXECUTOR_ID" in twin.output() and ids[0] in twin.output()
        assert keyless.proc.wait(600) != 0
        assert "TIKGUARD_MASTER_KEY" in keyless.output()
        assert not (keyless.data_dir / "master.key").exists(), "it must not make its own"
        assert other.proc.wait(600) != 0
        assert "same master key" in other.output()
        assert all(w.proc.poll() is None for w in trio), "the live workers are unharmed"


#: Two victims per run, each SIGKILLed at its point by the first of its pushes that
#: gets there; whatever else each held at that moment is taken over too.
KILLS = [
    pytest.param(("after-arming", "during-commit"), id="arming+commit"),
    pytest.param(("during-import", "during-verify"), id="import+verify", marks=pytest.mark.slow),
]


@pytest.mark.parametrize("points", KILLS)
def test_dead_workers_pushes_are_taken_over(
    tmp_path: Path, pg: str, points: tuple[str, str]
) -> None:
    routers, pushes = 6, 12
    key = MasterKey.generate().encoded()
    values = tuning(SCALE, LEASE, WINDOW)
    with (
        fresh_database("tg_cluster", pg) as url,
        simulator(tmp_path / "sim", routers, SCALE) as rows,
        cluster(tmp_path, url, key, values) as c,
    ):
        settings = c.settings()
        db = Database.open(settings)
        try:
            tenant_id = asyncio.run(register(db, settings, rows))
            victims = [c.start(f"victim-{p}", crash=p) for p in points]
            c.wait_ready(*victims)

            async def submit_all() -> list[str]:
                ids = []
                for n in range(pushes):
                    req = push_ops.PushRequest([rows[n % routers]["name"]], script=entry_script(n))
                    subs = await push_ops.submit(db, settings, tenant_id, req)
                    ids.append(subs[0].op_id)
                return ids

            async def wait_all(ids: list[str]) -> None:
                async with asyncio.timeout(300):
                    await push_ops.wait(db, tenant_id, ids, poll=0.2)

            op_ids = asyncio.run(submit_all())
            # The survivor starts only once both victims are dead: started beside them,
            # it could finish every push before a victim reached its point. The first
            # victim to die is taken over by the other, which then dies at its own point.
            for v in victims:
                code = v.proc.wait(300)
                assert code == -9, f"{v.name} was meant to die:\n{v.output()[-2000:]}"
            survivor = c.start("survivor")
            c.wait_ready(survivor)
            survivor_up = time.time()
            asyncio.run(wait_all(op_ids))
            recs = records(db, op_ids)
        finally:
            db.dispose()

        # every push ends, and the router agrees with its outcome
        outcomes = Counter(r.op.outcome for r in recs.values())
        assert None not in outcomes
        states = {row["name"]: asyncio.run(router_state(row)) for row in rows}
        for n, op_id in enumerate(op_ids):
            rec = recs[op_id]
            sched, config = states[rows[n % routers]["name"]]
            assert "tikguard" not in sched, "a revert timer was left on a router"
            present = f"comment=push{n}" in config
            if rec.op.outcome == "committed":
                assert present, f"push {n} committed but its change is not on the router"
            elif rec.op.outcome in ("reverted", "failed"):
                assert not present, f"push {n} {rec.op.outcome} but its change is on the router"
            else:
                assert rec.op.evidence.get("outcome_unknowns"), rec.op.evidence

        # one push per router at a time; no event or version written twice
        by_device: dict[int, list] = {}
        for rec in recs.values():
            by_device.setdefault(rec.op.device_id or 0, []).append(rec)
        assert not overlapping(by_device)
        for rec in recs.values():
            stages = Counter(e.stage for e in rec.events)
            twice = {s: k for s, k in stages.items() if k > 1 and s != "takeover"}
            assert not twice, f"{rec.op.id}: events written twice: {twice}\n" + "\n".join(
                f"{e.seq} {e.at:%H:%M:%S.%f} {e.stage} {e.message[:100]} {e.data}"
                for e in rec.events
            )
            versions = Counter(trigger for trigger, _ in rec.versions)
            assert all(k == 1 for k in versions.values()), versions

        # a survivor took the victims' pushes over, within the lease plus a small bound
        taken = [e for r in recs.values() for e in r.events if e.stage == "takeover"]
        assert taken, "no push was taken over"
        death = {(v.data_dir / "executor-id").read_text().strip(): v.died_at() for v in victims}
        assert set(death) >= {e.data["from"] for e in taken}, "a live worker was taken over"
        assert all(t is not None for t in death.values()), death
        survivor_id = (survivor.data_dir / "executor-id").read_text().strip()
        assert any(e.data["by"] == survivor_id for e in taken), "the survivor took nothing over"
        for e in taken:
            # from the death it answers, or from when the survivor (started late) was up
            base = death[e.data["from"]] or 0.0
            if e.data["by"] == survivor_id:
                base = max(base, survivor_up)
            since = e.at.timestamp() - base
            assert since <= LEASE + BOUND, f"takeover {since:.1f} s after the kill"
            assert "stopped heartbeating" in e.message
