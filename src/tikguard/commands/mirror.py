"""``tikguard mirror``: the git mirror of the config history (status, sync now).

Backups update the mirror by themselves; these commands show where it stands, what
went wrong last, and bring it up to date (and push it) on demand.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from tikguard.commands._context import open_database, user_errors
from tikguard.commands._ui import cell, console, fail

mirror_app = typer.Typer(
    name="mirror",
    help="The git mirror of every tenant's config history: status and sync.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(mirror_app, name="mirror")


def _when(value: object) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if hasattr(value, "strftime") else "-"


@mirror_app.command("status")
def status() -> None:
    """Each tenant's mirror: repository, head, versions not yet mirrored, last errors."""
    from tikguard.ops import mirror as mirror_ops

    with open_database() as db:
        table = Table("tenant", "repository", "head", "behind", "last run", "problem")
        for row in mirror_ops.status(db):
            problem = Text(row.problem, style="red") if row.problem else "-"
            table.add_row(
                cell(row.tenant),
                str(row.repository),
                (row.head or "-")[:12],
                str(row.behind),
                _when(row.last_run_at),
                problem,
            )
        console.print(table)


@mirror_app.command("sync")
def sync(
    tenant: Annotated[str | None, typer.Option("--tenant", help="Only this tenant.")] = None,
    push: Annotated[bool, typer.Option("--push/--no-push", help="Push to the remote.")] = True,
) -> None:
    """Mirror every version not yet in git now (and push, if a remote is configured)."""
    from tikguard.ops import mirror as mirror_ops

    with open_database() as db:
        with user_errors():
            reports = mirror_ops.sync(db, tenant=tenant, push=push)
        table = Table("tenant", "commits", "removed", "pushed", "problem")
        for r in reports:
            problem = r.error or r.push_error or r.skipped or "-"
            table.add_row(
                cell(r.tenant),
                str(r.committed),
                str(r.removed),
                "yes" if r.pushed else "no",
                cell(problem),
            )
        console.print(table)
        if any(r.error or r.push_error for r in reports):
            fail("the mirror is behind", "fix the problem shown; the next run retries")
