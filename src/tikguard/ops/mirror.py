"""The git mirror follows the database: each tenant's new versions, committed in the
background after they are recorded, so the mirror never holds up a backup or a push.

One job: run :func:`tikguard.store.mirror.sync_tenant` off the caller's path, at most
one run per (database, tenant) at a time, once more when asked during a run. The
runs are tracked in one registry (the lock, the threads, the again-set below).
"""

from __future__ import annotations

import threading
import time

from tikguard.logs import get_logger
from tikguard.store import mirror
from tikguard.store.db import Database

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


_mirror_lock = threading.Lock()
#: One mirror thread per (database, tenant) at a time, and whether it must run again.
_mirror_threads: dict[tuple[int, int], threading.Thread] = {}
_mirror_again: set[tuple[int, int]] = set()


def mirror_in_background(db: Database, tenant_id: int) -> None:
    """Mirror the tenant's new versions in a background thread, after the backups'
    results are recorded, so the mirror never holds up a backup.

    The versions are in the database already; the mirror catches up from there
    (requests during a run make it run once more). The thread is not a daemon: a
    process that ends waits for it. :func:`wait_for_mirror` waits explicitly.
    """
    key = (id(db), tenant_id)

    def run() -> None:
        while True:
            with _mirror_lock:
                if key not in _mirror_again:
                    del _mirror_threads[key]
                    return
                _mirror_again.discard(key)
            mirror_changes(db, tenant_id)

    with _mirror_lock:
        _mirror_again.add(key)
        if key in _mirror_threads:
            return
        thread = threading.Thread(target=run, name=f"tikguard-mirror-{tenant_id}")
        _mirror_threads[key] = thread
        thread.start()


def wait_for_mirror(timeout: float | None = None) -> bool:
    """Wait until no background mirror run is left; False if ``timeout`` passed first."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        with _mirror_lock:
            running = list(_mirror_threads.values())
        if not running:
            return True
        for thread in running:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            thread.join(left)
            if thread.is_alive():
                return False
