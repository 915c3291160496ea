"""``tikguard inventory``: routers from RANCID, Oxidized's CSV source or an HTTP JSON
API (NetBox), imported and kept in sync (``source add|list|remove``, ``sync``).

A sync prints its plan (``--dry-run`` stops there) as a table or ``--json``; a row
that is wrong is listed with its line and nothing is changed. Tokens and passwords go
in through stdin or ``--header`` and are stored encrypted, never printed.
"""

from __future__ import annotations

import asyncio
import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from tikguard.commands._context import store_context, user_errors
from tikguard.commands._ui import JsonOut, cell, console, fail, print_json

if TYPE_CHECKING:  # the ops layer (store, DBOS) is imported by the commands that run
    from tikguard.ops import inventory as inv

inventory_app = typer.Typer(
    help="Inventory sources (RANCID router.db, Oxidized CSV, HTTP JSON / NetBox) and sync.",
    no_args_is_help=True,
)
source_app = typer.Typer(help="The tenant's inventory sources.", no_args_is_help=True)
inventory_app.add_typer(source_app, name="source")


def register(app: typer.Typer) -> None:
    app.add_typer(inventory_app, name="inventory")


def _pairs(items: list[str] | None, what: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            fail(f"bad {what} {item!r}", f"write it as FIELD=POSITION, e.g. {what} name=0")
        out[key.strip()] = value.strip()
    return out


def _header(line: str) -> tuple[str, str]:
    name, sep, value = line.partition(":")
    if not sep or not name.strip() or not value.strip():
        fail("bad header (its value is not shown)", "write it as 'Name: value'")
    return name.strip(), value.strip()


@source_app.command("add")
def source_add(
    name: Annotated[str, typer.Argument(help="A name for the source (tag source:NAME).")],
    kind: Annotated[str, typer.Option("--kind", help="rancid, oxidized-csv or http.")],
    path: Annotated[str | None, typer.Option(help="The file (rancid, oxidized-csv).")] = None,
    url: Annotated[str | None, typer.Option(help="The URL (http).")] = None,
    delimiter: Annotated[
        str | None, typer.Option(help="Field delimiter (oxidized-csv: a regex, default ':').")
    ] = None,
    map_: Annotated[
        list[str] | None,
        typer.Option("--map", help="FIELD=COLUMN (csv) or FIELD=PATH (http); repeatable."),
    ] = None,
    var_map: Annotated[
        list[str] | None, typer.Option("--var-map", help="VAR=COLUMN|PATH: a template variable.")
    ] = None,
    model: Annotated[
        list[str] | None,
        typer.Option("--model", help="Accepted model values (default routeros, mikrotik)."),
    ] = None,
    any_model: Annotated[
        bool, typer.Option("--any-model", help="Accept every row, whatever its model.")
    ] = False,
    type_: Annotated[
        list[str] | None, typer.Option("--type", help="RANCID types to import (mikrotik).")
    ] = None,
    hosts_location: Annotated[
        str | None, typer.Option(help="Dotted path to the list of hosts (NetBox: results).")
    ] = None,
    pagination: Annotated[bool, typer.Option(help="Follow the answer's next link.")] = False,
    pagination_key: Annotated[str, typer.Option(help="The next link's key.")] = "next",
    header: Annotated[
        list[str] | None,
        typer.Option("--header", help="'Name: value' sent with each request (stored encrypted)."),
    ] = None,
    header_stdin: Annotated[
        bool, typer.Option("--header-stdin", help="Read 'Name: value' header lines from stdin.")
    ] = False,
    insecure: Annotated[bool, typer.Option(help="Do not verify the TLS certificate.")] = False,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for each answer.")] = 60.0,
    username: Annotated[
        str | None, typer.Option("--user", help="SSH user of rows without one (admin).")
    ] = None,
    port: Annotated[int | None, typer.Option(help="SSH port of rows without one (22).")] = None,
    site: Annotated[str | None, typer.Option(help="Site of rows without one.")] = None,
    tag: Annotated[list[str] | None, typer.Option("--tag", help="A tag for every router.")] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the routers' default password.")
    ] = False,
    remove_missing: Annotated[
        bool,
        typer.Option(
            "--remove-missing", help="Remove routers it added once it no longer lists them."
        ),
    ] = False,
    every: Annotated[
        str | None, typer.Option("--every", help="Cron expression: sync on this schedule.")
    ] = None,
    time_zone: Annotated[str | None, typer.Option(help="Time zone of --every (UTC).")] = None,
) -> None:
    """Add an inventory source (sync it with `tikguard inventory sync NAME`)."""
    from tikguard.ops import inventory as inv

    if header_stdin and password_stdin:
        fail("--header-stdin and --password-stdin both read stdin", "use one of them")
    password: str | None = None
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n") or None
        if password is None:
            fail("no password on standard input", 'pipe it in: echo "$PW" | tikguard ...')
    lines = list(header or [])
    if header_stdin:
        lines += [ln.rstrip("\r\n") for ln in sys.stdin if ln.strip()]
    headers = dict(_header(h) for h in lines)
    with store_context() as ctx, user_errors():
        config = inv.build_config(
            kind,
            path=path,
            url=url,
            delimiter=delimiter,
            mapping=_pairs(map_, "--map") or None,
            vars_map=_pairs(var_map, "--var-map"),
            models=[] if any_model else model,
            types=type_,
            hosts_location=hosts_location,
            pagination=pagination,
            pagination_key=pagination_key,
            insecure=insecure,
            timeout=timeout,
            header_names=list(headers),
            username=username,
            port=port,
            site=site,
            tags=tag,
            remove=remove_missing,
            has_password=password is not None,
        )
        view = asyncio.run(
            inv.create_source(
                ctx.db,
                ctx.settings,
                ctx.tenant_id,
                actor=ctx.actor,
                name=name,
                kind=kind,
                config=config,
                headers=headers,
                password=password,
                every=every,
                time_zone=time_zone,
            )
        )
    console.print(cell(f"added source {view.name} ({view.kind}, {view.location})"))
    if every:
        console.print(cell(f"syncs on {every!r} ({time_zone or 'UTC'})"))
    console.print(cell(f"see what it would change: tikguard inventory sync {name} --dry-run"))


def _source_json(v: inv.SourceView, cron: str | None) -> dict[str, Any]:
    return {
        "name": v.name,
        "kind": v.kind,
        "location": v.location,
        "config": {k: val for k, val in v.config.items() if k not in ("url",)},
        "schedule": cron,
        "last_sync_at": v.last_sync_at,
        "last_sync": v.last_sync,
    }


@source_app.command("list")
def source_list(as_json: JsonOut = False) -> None:
    """The tenant's sources, their schedules and last sync (never a secret)."""
    from tikguard.ops import inventory as inv

    with store_context() as ctx, user_errors():
        views = inv.list_sources(ctx.db, ctx.tenant_id)
        crons = asyncio.run(inv.sync_schedules(ctx.settings, ctx.tenant_id)) if views else {}
    if as_json:
        print_json([_source_json(v, crons.get(v.name)) for v in views])
        return
    if not views:
        console.print("no inventory source (tikguard inventory source add NAME --kind ...)")
        return
    table = Table()
    for col in ("name", "kind", "location", "schedule", "last sync"):
        table.add_column(col)
    for v in views:
        last = "-"
        if v.last_sync_at is not None and v.last_sync is not None:
            outcome = (
                v.last_sync.get("error")
                or ", ".join(f"{k} {n}" for k, n in v.last_sync.items() if k != "ok" and n)
                or "no change"
            )
            last = f"{v.last_sync_at:%Y-%m-%d %H:%M} {outcome}"
        table.add_row(
            cell(v.name), cell(v.kind), cell(v.location), cell(crons.get(v.name, "-")), cell(last)
        )
    console.print(table)


@source_app.command("remove")
def source_remove(
    name: Annotated[str, typer.Argument(help="Source name.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask.")] = False,
) -> None:
    """Forget a source and its schedule; the routers it added stay."""
    from tikguard.ops import inventory as inv

    if not yes and not typer.confirm(f"Remove source {name}? (its routers stay)"):
        raise typer.Exit(1)
    with store_context() as ctx, user_errors():
        asyncio.run(inv.delete_source(ctx.db, ctx.settings, ctx.tenant_id, name, actor=ctx.actor))
    console.print(cell(f"removed source {name}; the routers it added keep the tag source:{name}"))


def _what(change: inv.Change) -> str:
    if change.reason:
        return change.reason

    def show(value: Any) -> str:
        if value is None:
            return "-"
        if isinstance(value, list | tuple):
            return ",".join(map(str, value)) or "-"
        if isinstance(value, dict):
            return ",".join(f"{k}={v}" for k, v in value.items()) or "-"
        return str(value)

    if change.action == "add":
        return " ".join(f"{k}={show(n)}" for k, (_, n) in change.fields.items() if n)
    return "; ".join(f"{k} {show(o)} -> {show(n)}" for k, (o, n) in change.fields.items())


def print_plan(plan: inv.Plan, *, dry_run: bool) -> None:
    """The plan as tables: changes, then errors (by row), then a one-line summary."""
    if plan.changes:
        table = Table(title=None)
        for col in ("action", "device", "row", "what"):
            table.add_column(col)
        for c in plan.changes:
            table.add_row(cell(c.action), cell(c.device), cell(c.ref or "-"), cell(_what(c)))
        console.print(table)
    if plan.errors:
        table = Table()
        for col in ("row", "device", "error"):
            table.add_column(col)
        for e in plan.errors:
            table.add_row(cell(e.ref), cell(e.name or "-"), cell(e.reason))
        console.print(table)
    counts = plan.counts()
    verb = "would" if dry_run or plan.errors else "did"
    console.print(
        cell(
            f"{plan.source}: {verb} add {counts['add']}, update {counts['update']}, remove "
            f"{counts['remove']}; {counts['unchanged']} unchanged, {counts['ignored']} ignored, "
            f"{counts['conflict'] + counts['stale'] + counts['hold']} left alone, "
            f"{counts['errors']} errors"
        )
    )


@inventory_app.command("sync")
def sync(
    name: Annotated[str, typer.Argument(help="Source name.")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would change; change nothing.")
    ] = False,
    as_json: JsonOut = False,
) -> None:
    """Read the source and bring the inventory in line (add, update, remove)."""
    from tikguard.ops import inventory as inv

    with store_context() as ctx, user_errors():
        try:
            plan = asyncio.run(
                inv.sync(
                    ctx.db,
                    ctx.settings,
                    ctx.tenant_id,
                    name,
                    actor=ctx.actor,
                    dry_run=dry_run,
                    as_operator=True,
                )
            )
        except inv.SyncRefused as exc:
            plan = exc.plan
    applied = not dry_run and not plan.errors
    if as_json:
        print_json({**plan.as_json(), "dry_run": dry_run, "applied": applied})
    else:
        print_plan(plan, dry_run=dry_run)
    if plan.errors:
        fail(
            f"{len(plan.errors)} row(s) of {name} are wrong: nothing was changed",
            "fix them in the source and sync again",
        )
