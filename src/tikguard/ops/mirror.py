"""The git mirror follows the database: each tenant's new versions, committed in the
background after they are recorded, so the mirror never holds up a backup or a push.

Run :func:`tikguard.store.mirror.sync_tenant` off the caller's path, at most one run
per (database, tenant) at a time, once more when asked during a run (the runs are
tracked in one registry: the lock, the threads, the again-set below); and the status
and on-demand sync every caller (``tikguard mirror``) uses.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import func, select

from tikguard.logs import get_logger
from tikguard.process import STATE
from tikguard.store import mirror
from tikguard.store.db import Database
from tikguard.store.mirror import MirrorReport
from tikguard.store.models import ConfigVersion, MirrorState, Tenant
from tikguard.store.tenants import get_tenant_by_name

log = get_logger(__name__)


def mirror_changes(db: Database, tenant_id: int) -> None:
    """Bring the tenant's git mirror up to date; never fails a backup (errors are
    recorded in the mirror state and retried on the next run)."""
    try:
        report = mirror.sync_tenant(db, tenant_id)
    except Exception:
        log.exception("git mirror update failed for tenant %s", tenant_id)
        return
    if not report.ok:
        log.warning("git mirror of tenant %s is behind: %s", tenant_id, report)


@dataclass
class MirrorThreads:
    """One mirror thread per (database, tenant) at a time, and whether it must run
    again (held in :data:`tikguard.process.STATE`)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    threads: dict[tuple[int, int], threading.Thread] = field(default_factory=dict)
    again: set[tuple[int, int]] = field(default_factory=set)


def mirror_in_background(db: Database, tenant_id: int) -> None:
    """Mirror the tenant's new versions in a background thread, after the backups'
    results are recorded, so the mirror never holds up a backup.

    The versions are in the database already; the mirror catches up from there
    (requests during a run make it run once more). The thread is not a daemon: a
    process that ends waits for it. :func:`wait_for_mirror` waits explicitly.
    """
    key = (id(db), tenant_id)
    held = STATE.of(MirrorThreads)

    def run() -> None:
        while True:
            with held.lock:
                if key not in held.again:
                    del held.threads[key]
                    return
                held.again.discard(key)
            mirror_changes(db, tenant_id)

    with held.lock:
        held.again.add(key)
        if key in held.threads:
            return
        thread = threading.Thread(target=run, name=f"tikguard-mirror-{tenant_id}")
        held.threads[key] = thread
        thread.start()


def wait_for_mirror(timeout: float | None = None) -> bool:
    """Wait until no background mirror run is left; False if ``timeout`` passed first."""
    deadline = None if timeout is None else time.monotonic() + timeout
    held = STATE.of(MirrorThreads)
    while True:
        with held.lock:
            running = list(held.threads.values())
        if not running:
            return True
        for thread in running:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            thread.join(left)
            if thread.is_alive():
                return False


# -- status and sync for every caller ------------------------------------------------


@dataclass(frozen=True)
class MirrorStatus:
    """One tenant's mirror: where it is, its head, how far behind, its last problem."""

    tenant: str
    repository: Path
    head: str | None
    behind: int
    last_run_at: datetime | None
    problem: str | None


def status(db: Database) -> list[MirrorStatus]:
    """Every tenant's mirror, by tenant name."""
    out: list[MirrorStatus] = []
    with db.session() as session:
        pending = dict(
            session.execute(
                select(ConfigVersion.tenant_id, func.count())
                .where(ConfigVersion.mirror_commit.is_(None))
                .group_by(ConfigVersion.tenant_id)
            ).all()
        )
        for tenant, state in session.execute(
            select(Tenant, MirrorState)
            .outerjoin(MirrorState, MirrorState.tenant_id == Tenant.id)
            .order_by(Tenant.name)
        ).all():
            out.append(
                MirrorStatus(
                    tenant=tenant.name,
                    repository=mirror.repo_path(db.settings.data_dir, tenant.name),
                    head=state.head_commit if state is not None else None,
                    behind=int(pending.get(tenant.id, 0)),
                    last_run_at=state.last_run_at if state is not None else None,
                    problem=(state.last_error or state.push_error) if state is not None else None,
                )
            )
    return out


def sync(db: Database, *, tenant: str | None = None, push: bool = True) -> list[MirrorReport]:
    """Mirror every version not yet in git now (one tenant, or all), and push."""
    if tenant is None:
        return mirror.sync_all(db, push=push)
    with db.session() as session:
        tenant_id = get_tenant_by_name(session, tenant).id
    return [mirror.sync_tenant(db, tenant_id, push=push)]
