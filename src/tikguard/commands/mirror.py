"""``tikguard mirror``: the git mirror of the config history (status, sync now).

Backups update the mirror by themselves; these commands show where it stands, what
went wrong last, and bring it up to date (and push it) on demand.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from tikguard.commands._context import open_database, user_errors
from tikguard.commands._ui import console, fail

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
    from sqlalchemy import func, select

    from tikguard.store import mirror
    from tikguard.store.models import ConfigVersion, MirrorState, Tenant

    with open_database() as db, db.session() as session:
        pending = dict(
            session.execute(
                select(ConfigVersion.tenant_id, func.count())
                .where(ConfigVersion.mirror_commit.is_(None))
                .group_by(ConfigVersion.tenant_id)
            ).all()
        )
        table = Table("tenant", "repository", "head", "behind", "last run", "problem")
        for tenant, state in session.execute(
            select(Tenant, MirrorState)
            .outerjoin(MirrorState, MirrorState.tenant_id == Tenant.id)
            .order_by(Tenant.name)
        ).all():
            problem = "-"
            if state is not None and (state.last_error or state.push_error):
                problem = f"[red]{state.last_error or state.push_error}[/]"
            table.add_row(
                tenant.name,
                str(mirror.repo_path(db.settings.data_dir, tenant.name)),
                (state.head_commit or "-")[:12] if state is not None else "-",
                str(pending.get(tenant.id, 0)),
                _when(state.last_run_at if state is not None else None),
                problem,
            )
        console.print(table)


@mirror_app.command("sync")
def sync(
    tenant: Annotated[str | None, typer.Option("--tenant", help="Only this tenant.")] = None,
    push: Annotated[bool, typer.Option("--push/--no-push", help="Push to the remote.")] = True,
) -> None:
    """Mirror every version not yet in git now (and push, if a remote is configured)."""
    from tikguard.store import mirror
    from tikguard.store.tenants import get_tenant_by_name

    with open_database() as db:
        if tenant is not None:
            with user_errors(), db.session() as session:
                reports = [
                    mirror.sync_tenant(db, get_tenant_by_name(session, tenant).id, push=push)
                ]
        else:
            reports = mirror.sync_all(db, push=push)
        table = Table("tenant", "commits", "removed", "pushed", "problem")
        for r in reports:
            problem = r.error or r.push_error or r.skipped or "-"
            table.add_row(
                r.tenant, str(r.committed), str(r.removed), "yes" if r.pushed else "no", problem
            )
        console.print(table)
        if any(r.error or r.push_error for r in reports):
            fail("the mirror is behind", "fix the problem shown; the next run retries")
