"""Cluster membership rows: one live worker per executor id, heartbeats, the leader."""

from __future__ import annotations

import secrets
from datetime import timedelta

import pytest
from sqlalchemy import update

from tikguard.store import workers
from tikguard.store.db import Database
from tikguard.store.mirror import cluster_writer
from tikguard.store.models import Worker

LEASE = timedelta(seconds=10)


def _me(worker_id: str, host: str = "host-a") -> workers.Me:
    """A worker on another machine (its process cannot be looked up from here)."""
    return workers.Me(worker_id, host, 4242, "/srv/tikguard", "1.0", secrets.token_hex(8))


def _age(db: Database, worker_id: str, seconds: float) -> None:
    """Make a worker's last heartbeat ``seconds`` old (as if it stopped beating)."""
    with db.transaction() as s:
        now = workers.db_now(s)
        s.execute(
            update(Worker)
            .where(Worker.id == worker_id)
            .values(heartbeat_at=now - timedelta(seconds=seconds))
        )


def test_one_live_worker_per_id(db: Database) -> None:
    first = _me("w1")
    db.run(lambda s: workers.join(s, first, LEASE))
    twin = _me("w1", host="host-b")
    with pytest.raises(workers.WorkerIdTaken, match="TIKGUARD_EXECUTOR_ID"):
        db.run(lambda s: workers.join(s, twin, LEASE))
    assert db.run(lambda s: workers.beat(s, first))

    _age(db, "w1", 60)  # the first stopped heartbeating: its id may be taken again
    db.run(lambda s: workers.join(s, twin, LEASE))
    assert not db.run(lambda s: workers.beat(s, first)), "the old start lost its row"
    assert db.run(lambda s: workers.beat(s, twin))


def test_leader_is_the_oldest_live_worker(db: Database) -> None:
    for worker_id in ("w1", "w2"):
        me = _me(worker_id)
        db.run(lambda s, me=me: workers.join(s, me, LEASE))
    with db.session() as s:
        assert workers.oldest_alive(s, LEASE) == "w1"
    db.run(lambda s: workers.leave(s, _me("w1")))  # another incarnation: no effect
    _age(db, "w1", 60)
    with db.session() as s:
        assert workers.oldest_alive(s, LEASE) == "w2"
        rows = {w.id: w for w in workers.list_workers(s)}
        now = workers.db_now(s)
    assert not workers.alive(rows["w1"], now, LEASE) and workers.alive(rows["w2"], now, LEASE)


@pytest.mark.postgres
def test_one_mirror_writer_per_cluster(db: Database) -> None:
    if not workers.shared(db.settings):
        pytest.skip("one mirror writer matters where workers share a database")
    for worker_id in ("w1", "w2"):
        me = _me(worker_id)
        db.run(lambda s, me=me: workers.join(s, me, LEASE))
    db.settings = db.settings.with_(executor_id="w2", worker_lease=10.0)
    assert cluster_writer(db) == "w1"
    db.settings = db.settings.with_(executor_id="w1")
    assert cluster_writer(db) is None
