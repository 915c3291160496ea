"""``tikguard schedule list|set|remove``: scheduled backups of a tenant.

Every tenant backs up daily at 03:00 unless told otherwise; a schedule per tag backs
up only the routers with that tag (``--tag core`` every hour, say). Schedules live in
the engine's database, so a change made here reaches a running ``tikguard serve``
within its polling interval.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from rich.table import Table

from tikguard.commands._context import Context, store_context, user_errors
from tikguard.commands._ui import JsonOut, console, fail, print_json
from tikguard.store.errors import NotFound

schedule_app = typer.Typer(
    help="Scheduled backups: the tenant's daily one and one per tag.", no_args_is_help=True
)

TagOpt = Annotated[
    str | None,
    typer.Option("--tag", help="Only the routers with this tag (default: the whole tenant)."),
]
TenantOpt = Annotated[
    str | None, typer.Option("--tenant", help="Tenant name (default: the default tenant).")
]


def register(app: typer.Typer) -> None:
    app.add_typer(schedule_app, name="schedule")


def _tenant(ctx: Context, name: str | None) -> int:
    from tikguard.ops import accounts

    if name is None:
        return ctx.tenant_id
    try:
        return accounts.tenant_id(ctx.db, name)
    except NotFound:
        fail(f"tenant {name!r} does not exist", "see `tikguard tenant list`")


@schedule_app.command("list")
def schedule_list(tenant: TenantOpt = None, as_json: JsonOut = False) -> None:
    """The backup schedules of a tenant (``--json``: the API's list of schedules)."""
    from tikguard.ops import backup as backup_ops

    with store_context() as ctx, user_errors():
        tenant_id = _tenant(ctx, tenant)
        found = asyncio.run(backup_ops.tenant_schedules(ctx.settings, tenant_id))
    if as_json:
        from tikguard.api.schemas import ScheduleOut

        print_json([ScheduleOut.model_validate(s, from_attributes=True) for s in found])
        return
    if not found:
        console.print(
            "no backup schedule: nothing is backed up on its own "
            "(`tikguard schedule set` adds the daily one)"
        )
        return
    table = Table()
    for col in ("routers", "cron", "time zone"):
        table.add_column(col)
    for s in found:
        table.add_row(f"tag {s.tag}" if s.tag else "all", s.cron, s.time_zone or "UTC")
    console.print(table)


@schedule_app.command("set")
def schedule_set(
    cron: Annotated[
        str | None,
        typer.Argument(
            help="Cron expression: minute hour day month weekday (default daily 03:00).",
            show_default=False,
        ),
    ] = None,
    tag: TagOpt = None,
    time_zone: Annotated[
        str | None, typer.Option("--time-zone", help="IANA time zone of the expression (UTC).")
    ] = None,
    tenant: TenantOpt = None,
) -> None:
    """Create or change a backup schedule (``tikguard schedule set '0 * * * *' --tag core``)."""
    from tikguard.ops import backup as backup_ops

    with store_context() as ctx, user_errors():
        tenant_id = _tenant(ctx, tenant)
        found = asyncio.run(
            backup_ops.change_schedule(
                ctx.db,
                ctx.settings,
                tenant_id,
                tag=tag,
                cron=cron or backup_ops.DAILY,
                time_zone=time_zone,
                actor=ctx.actor,
            )
        )
    what = f"routers tagged [bold]{found.tag}[/]" if found.tag else "every router"
    console.print(
        f"backing up {what} at [bold]{found.cron}[/] ({found.time_zone or 'UTC'})",
        highlight=False,
    )


@schedule_app.command("remove")
def schedule_remove(tag: TagOpt = None, tenant: TenantOpt = None) -> None:
    """Remove the schedule of a tag, or (without --tag) the tenant's own."""
    from tikguard.ops import backup as backup_ops

    with store_context() as ctx:
        with user_errors():
            tenant_id = _tenant(ctx, tenant)
        try:
            asyncio.run(
                backup_ops.drop_schedule(ctx.db, ctx.settings, tenant_id, tag=tag, actor=ctx.actor)
            )
        except NotFound as exc:
            fail(str(exc), "see `tikguard schedule list`")
    console.print("schedule removed", highlight=False)
