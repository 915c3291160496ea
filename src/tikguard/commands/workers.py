"""``tikguard workers``: the workers of a cluster sharing this database.

Each ``tikguard serve`` registers itself with a heartbeat; a worker whose heartbeat is
older than the lease (``TIKGUARD_WORKER_LEASE``) is dead, and one survivor has taken
its pushes over (the last column says which).
"""

from __future__ import annotations

import asyncio

import typer
from rich.table import Table

from tikguard.commands._context import open_database, settings_from_env, user_errors
from tikguard.commands._ui import console


def register(app: typer.Typer) -> None:
    app.command("workers")(workers)


def workers() -> None:
    """List the workers: id, host, version, started, last heartbeat, pushes in flight."""
    from tikguard.ops import cluster
    from tikguard.ops import workers as fleet_workers

    settings = settings_from_env()
    with open_database(settings) as db, user_errors():
        rows = asyncio.run(fleet_workers.workers(settings, db, tenant_id=None))
    if not rows:
        console.print("no worker has joined yet (start one with `tikguard serve`)")
        return
    table = Table(title=f"workers (lease {cluster.lease(settings).total_seconds():g} s)")
    for col in ("id", "host", "pid", "version", "started", "heartbeat", "state", "pushes"):
        table.add_column(col)
    table.add_column("taken over by")
    for w in rows:
        state = "alive" if w.alive else ("stopped" if w.stopped else "dead")
        style = "green" if w.alive else ("dim" if w.stopped else "bold red")
        table.add_row(
            w.id,
            w.host,
            str(w.pid),
            w.version,
            f"{w.started_at:%Y-%m-%d %H:%M:%S}",
            f"{w.heartbeat_age:.1f} s ago",
            f"[{style}]{state}[/]",
            str(w.pushes_in_flight),
            w.taken_over_by or "",
        )
    console.print(table)
