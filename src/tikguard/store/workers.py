"""Cluster membership rows: which ``tikguard serve`` workers share this database.

A worker's identity is its DBOS executor id: the workflows it runs are recorded under
it, and whoever starts with that id resumes them. So two live processes must never
hold one id: :func:`join` refuses while the holder's heartbeat is fresh. Times come
from the database's clock on PostgreSQL (workers on several machines agree on "how
old is that heartbeat" whatever their own clocks say).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from tikguard.settings import Settings
from tikguard.store.errors import StoreError
from tikguard.store.models import Worker, utcnow

#: Executor id of the embedded default (SQLite, one worker): workflows recorded by
#: earlier tikguards under it keep resuming.
EMBEDDED_ID = "local"
ID_FILE = "executor-id"
#: Serialises joins across workers (PostgreSQL advisory lock key, "tgwj").
_JOIN_LOCK = 0x7467776A


class WorkerIdTaken(StoreError):
    """A live worker already holds the executor id this process was to use."""


def shared(settings: Settings) -> bool:
    """True when the workflows live in PostgreSQL, where several workers may share them."""
    return make_url(settings.dbos_database_url()).get_backend_name() == "postgresql"


def executor_id(settings: Settings) -> str:
    """This process's executor id: the setting, else ``local`` on the embedded default,
    else a generated ``<host>-<random>`` kept in the data directory (so a restarted
    worker resumes its own workflows and two data directories never share one)."""
    if settings.executor_id:
        return settings.executor_id
    if not shared(settings):
        return EMBEDDED_ID
    path = Path(settings.data_dir) / ID_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        host = socket.gethostname().split(".")[0][:40] or "worker"
        with contextlib.suppress(FileExistsError):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            try:
                os.write(fd, f"{host}-{secrets.token_hex(4)}\n".encode())
            finally:
                os.close(fd)
    value = path.read_text(encoding="utf-8").strip()
    if not value:
        raise StoreError(f"{path} is empty: remove it (a new id is generated) or write one")
    return value


def db_now(session: Session) -> datetime:
    """The database's current time (PostgreSQL), else this machine's (SQLite)."""
    if session.get_bind().dialect.name == "postgresql":
        value = session.scalar(text("SELECT clock_timestamp()"))
        assert isinstance(value, datetime)
        return value
    return utcnow()


@dataclass(frozen=True)
class Me:
    """What a worker says about itself when it joins."""

    id: str
    host: str
    pid: int
    data_dir: str
    version: str
    incarnation: str

    @classmethod
    def here(cls, worker_id: str, data_dir: Path, version: str) -> Me:
        return cls(
            worker_id,
            socket.gethostname(),
            os.getpid(),
            str(Path(data_dir).resolve()),
            version,
            secrets.token_hex(8),
        )


def alive(worker: Worker, now: datetime, lease: timedelta) -> bool:
    """Stopped cleanly, or no heartbeat for longer than the lease: not alive."""
    return worker.stopped_at is None and now - worker.heartbeat_at <= lease


def _process_gone(worker: Worker) -> bool:
    """Whether the holder was a process on this machine that no longer exists (a
    worker restarted right after a kill need not wait out its own lease)."""
    if worker.host != socket.gethostname() or worker.pid == os.getpid():
        return False
    try:
        os.kill(worker.pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def check_free(
    session: Session, worker_id: str, lease: timedelta, *, lock: bool = False
) -> Worker | None:
    """Raise :class:`WorkerIdTaken` when a live worker holds ``worker_id``; return its
    row (dead, stopped, or a process of this machine that is gone) or None."""
    now = db_now(session)
    row = session.get(Worker, worker_id, with_for_update=lock)
    if row is not None and alive(row, now, lease) and not _process_gone(row):
        age = (now - row.heartbeat_at).total_seconds()
        raise WorkerIdTaken(
            f"worker {worker_id!r} is already running on {row.host} (pid {row.pid}, data "
            f"directory {row.data_dir}, last heartbeat {age:.1f} s ago): set "
            "TIKGUARD_EXECUTOR_ID to an id of its own on every worker (or leave it unset: "
            "each data directory then gets a generated one), or stop that worker first"
        )
    return row


def join(session: Session, me: Me, lease: timedelta) -> None:
    """Register ``me`` (insert or take over its own dead row); refuse a live holder."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _JOIN_LOCK})
    now = db_now(session)
    row = check_free(session, me.id, lease, lock=True)
    if row is None:
        row = Worker(id=me.id)
        session.add(row)
    row.host, row.pid, row.data_dir = me.host, me.pid, me.data_dir
    row.version, row.incarnation = me.version, me.incarnation
    row.started_at = row.heartbeat_at = now
    row.stopped_at = None
    session.flush()


def beat(session: Session, me: Me) -> bool:
    """Refresh the heartbeat; False when the row no longer belongs to this start."""
    result = session.execute(
        update(Worker)
        .where(Worker.id == me.id, Worker.incarnation == me.incarnation)
        .values(heartbeat_at=db_now(session), stopped_at=None)
    )
    return bool(getattr(result, "rowcount", 0))


def leave(session: Session, me: Me) -> None:
    """A clean stop: the row stays (for the list) but is no longer alive."""
    session.execute(
        update(Worker)
        .where(Worker.id == me.id, Worker.incarnation == me.incarnation)
        .values(stopped_at=db_now(session))
    )


def list_workers(session: Session) -> list[Worker]:
    return list(session.scalars(select(Worker).order_by(Worker.started_at, Worker.id)))


def get_worker(session: Session, worker_id: str) -> Worker | None:
    return session.get(Worker, worker_id)


def mark_taken_over(session: Session, worker_id: str, by: str, at: datetime) -> None:
    session.execute(
        update(Worker).where(Worker.id == worker_id).values(taken_over_by=by, taken_over_at=at)
    )


def oldest_alive(session: Session, lease: timedelta) -> str | None:
    """The live worker that has run longest (the cluster's git-mirror writer), if any."""
    now = db_now(session)
    for row in list_workers(session):
        if alive(row, now, lease):
            return row.id
    return None
