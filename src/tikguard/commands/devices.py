"""``tikguard device``: the inventory (add, import, list, show, remove, accept-hostkey).

Passwords are prompted without echo (or read from stdin), stored encrypted, and never
printed back.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich import box
from rich.table import Table

from tikguard.commands._context import store_context, user_errors
from tikguard.commands._input import read_secret, read_user_file
from tikguard.commands._ui import JsonOut, cell, console, fail, labelled, print_json
from tikguard.device.errors import DeviceError

if TYPE_CHECKING:
    from tikguard.ops import devices as svc

device_app = typer.Typer(
    name="device",
    help="The router inventory: add, import, list, show, remove, accept a new host key.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(device_app, name="device")


def _when(value: object) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if hasattr(value, "strftime") else "-"


@device_app.command("add")
def add(
    name: Annotated[
        str,
        typer.Argument(help="A unique name: letters, digits, '.', '-' and '_'."),
    ],
    host: Annotated[str, typer.Argument(help="Management address or DNS name.")],
    username: Annotated[str, typer.Option("--user", "-u", help="SSH user.")] = "admin",
    port: Annotated[int, typer.Option("--port", "-p", help="SSH port.")] = 22,
    tag: Annotated[
        list[str] | None, typer.Option("--tag", "-t", help="A tag (repeatable).")
    ] = None,
    site: Annotated[str | None, typer.Option(help="Site name.")] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from stdin.")
    ] = False,
    no_probe: Annotated[
        bool,
        typer.Option(
            "--no-probe",
            help="Store it without contacting the router (its host key is then pinned on "
            "the first connection).",
        ),
    ] = False,
) -> None:
    """Add a router: connect, log in and read what it is first (its host key pinned from
    this contact); a router that does not answer is not stored. The password is asked for
    (not echoed) and stored encrypted."""
    from tikguard.ops import devices as svc
    from tikguard.store.devices import check_device_name

    with user_errors():
        check_device_name(name)  # before asking for a password it would not use
    password = read_secret(f"Password for {username}@{host}", password_stdin)
    new = svc.NewDevice(name, host, username, password, port, tag or [], site)
    # The controller's operator (the CLI) is not bound by tenant networks.
    with store_context() as ctx, user_errors():
        if no_probe:
            view = svc.add(
                ctx.db,
                ctx.tenant_id,
                actor=ctx.actor,
                name=name,
                host=host,
                username=username,
                password=password,
                port=port,
                tags=tag or [],
                site=site,
                as_operator=True,
            )
        else:
            try:
                view, facts = asyncio.run(
                    svc.add_probed(
                        ctx.db, ctx.settings, ctx.tenant_id, new, actor=ctx.actor, as_operator=True
                    )
                )
            except DeviceError as exc:
                fail(
                    f"{exc.message}; {name} was not added",
                    "check the address, port, user and password; --no-probe stores it "
                    "without contacting it",
                )
    where = f"{view.username}@{view.host}:{view.port}"
    if no_probe:
        console.print(
            labelled(
                "added",
                "bold",
                f"{view.name} ({where}), not contacted: its host key is "
                "pinned on the first connection",
            ),
            highlight=False,
        )
        return
    what = f"RouterOS {facts.version}" + (
        f" on {facts.resource.board}" if facts.resource.board else ""
    )
    console.print(
        labelled(
            "added",
            "bold",
            f"{view.name} ({where}): {what}, identity {facts.identity or '?'}; "
            f"host key {view.host_key_fingerprint} pinned",
        ),
        highlight=False,
    )


@device_app.command("import")
def import_(
    path: Annotated[Path, typer.Argument(help="CSV: name,host,port,username,password,tags,site.")],
    update: Annotated[bool, typer.Option(help="Update devices that already exist.")] = False,
    same_password: Annotated[
        bool,
        typer.Option(help="Ask once for a password used by every row that has none."),
    ] = False,
) -> None:
    """Import routers from a CSV (e.g. the inventory.csv `tikguard sim run` writes)."""
    from tikguard.ops import devices as svc

    text = read_user_file(path)
    with user_errors():
        rows = svc.parse_inventory(text, source=str(path))
    if not rows:
        fail(f"{path} has no devices", "the first line names the columns, one router per line")
    shared: str | None = None
    completed: list[svc.InventoryRow] = []
    for row in rows:
        if row.password is None:
            if same_password:
                if shared is None:
                    shared = typer.prompt("Password for the devices without one", hide_input=True)
                password = shared
            else:
                password = typer.prompt(
                    f"Password for {row.name} ({row.username}@{row.host})", hide_input=True
                )
            row = svc.InventoryRow(
                row.name,
                row.host,
                row.port,
                row.username,
                password,
                row.tags,
                row.site,
                row.line,
                row.vars,
            )
        completed.append(row)
    with store_context() as ctx, user_errors():
        report = svc.import_rows(
            ctx.db, ctx.tenant_id, completed, actor=ctx.actor, update=update, as_operator=True
        )
    console.print(
        f"imported {len(report.added)} device(s)"
        + (f", updated {len(report.updated)}" if report.updated else "")
        + (
            f", skipped {len(report.skipped)} that already exist (use --update to change them)"
            if report.skipped
            else ""
        )
    )


def _var(item: str) -> tuple[str, str]:
    key, sep, value = item.partition("=")
    if not sep or not key.strip():
        fail(f"bad --var {item!r}", "write it as KEY=VALUE")
    return key.strip(), value


@device_app.command("set")
def set_(
    name: Annotated[str, typer.Argument(help="Device name.")],
    site: Annotated[str | None, typer.Option(help="Site name ('' clears it).")] = None,
    tag: Annotated[
        list[str] | None, typer.Option("--tag", "-t", help="Tags: replace them (repeatable).")
    ] = None,
    var: Annotated[
        list[str] | None,
        typer.Option("--var", help="A template variable KEY=VALUE (repeatable)."),
    ] = None,
    unset_var: Annotated[
        list[str] | None, typer.Option("--unset-var", help="Remove a variable (repeatable).")
    ] = None,
    host: Annotated[str | None, typer.Option("--host", help="New management address.")] = None,
    port: Annotated[int | None, typer.Option("--port", "-p", help="New SSH port.")] = None,
    username: Annotated[str | None, typer.Option("--user", "-u", help="New SSH user.")] = None,
    password: Annotated[
        bool, typer.Option("--password", help="Ask for a new password (not echoed).")
    ] = False,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read a new password from stdin.")
    ] = False,
) -> None:
    """Change a router's address, port, user, password, site, tags or template variables
    (`rollout --template` uses them); each change is in the audit log."""
    from tikguard.ops import devices as svc

    access: dict[str, Any] = {
        k: v for k, v in (("host", host), ("port", port), ("username", username)) if v is not None
    }
    fields = site is not None or bool(tag or var or unset_var)
    if not access and not fields and not (password or password_stdin):
        fail(
            "nothing to change",
            "give --host, --port, --user, --password, --site, --tag, --var KEY=VALUE or "
            "--unset-var KEY",
        )
    if password or password_stdin:
        access["password"] = read_secret(f"New password for {name}", password_stdin)
    values = dict(_var(item) for item in var or [])
    with store_context() as ctx, user_errors():
        device_id = svc.id_of(ctx.db, ctx.tenant_id, name)
        view = svc.get(ctx.db, ctx.tenant_id, device_id)
        changes: dict[str, Any] = dict(access)
        if site is not None:
            changes["site"] = site or None
        if tag:
            changes["tags"] = tag
        if access or fields:
            view = svc.update(
                ctx.db,
                ctx.tenant_id,
                device_id,
                actor=ctx.actor,
                set_vars=values,
                unset_vars=unset_var,
                as_operator=True,
                **changes,
            )
    shown = ", ".join(f"{k}={v}" for k, v in sorted(view.vars.items())) or "(none)"
    console.print(
        cell(
            f"{view.name}: {view.username}@{view.host}:{view.port}, site {view.site or '-'}, "
            f"tags {','.join(view.tags) or '-'}, variables {shown}"
        ),
        highlight=False,
    )


@device_app.command("list")
def list_(
    tag: Annotated[
        str | None, typer.Option("--tag", "-t", help="Only devices with this tag.")
    ] = None,
    site: Annotated[str | None, typer.Option("--site", help="Only devices at this site.")] = None,
    as_json: JsonOut = False,
) -> None:
    """List the routers with their version and last backup (``--json``: the API's fleet)."""
    from tikguard.ops import fleet as fleet_ops

    with store_context() as ctx, user_errors():
        rows = fleet_ops.fleet(ctx.db, ctx.tenant_id, tag=tag, site=site)
    if as_json:
        print_json([r.fields() for r in rows])
        return
    if not rows:
        if tag is not None or site is not None:
            console.print("no device matches", highlight=False)
        else:
            console.print("no devices yet: add one with `tikguard device add` or `device import`")
        return
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    for column in ("name", "address", "site", "RouterOS", "last backup", "status"):
        table.add_column(column, no_wrap=True)
    table.add_column("tags", overflow="fold")
    for r in rows:
        status = r.last_backup_status or "-"
        if r.host_key_pending:
            status += " (host key changed)"
        table.add_row(
            cell(r.name),
            cell(f"{r.host}:{r.port}"),
            cell(r.site or "-"),
            cell(r.ros_version or "-"),
            _when(r.last_backup_at),
            cell(status),
            cell(",".join(r.tags)),
        )
    console.print(table)


@device_app.command("show")
def show(
    name: Annotated[str, typer.Argument(help="Device name.")], as_json: JsonOut = False
) -> None:
    """Show one router: address, host key, what the last probe and backup saw."""
    from tikguard.ops import devices as svc

    with store_context() as ctx, user_errors():
        v = svc.get(ctx.db, ctx.tenant_id, svc.id_of(ctx.db, ctx.tenant_id, name))
    if as_json:
        from tikguard.api.schemas import DeviceDetail

        print_json(DeviceDetail.model_validate(v, from_attributes=True).model_dump(mode="json"))
        return
    table = Table(show_header=False, box=None)
    rows: list[tuple[str, str]] = [
        ("name", v.name),
        ("address", f"{v.host}:{v.port}"),
        ("user", v.username),
        ("password", "stored (encrypted)" if v.has_password else "none"),
        ("tags", ", ".join(v.tags) or "-"),
        ("site", v.site or "-"),
        ("variables", ", ".join(f"{k}={val}" for k, val in sorted(v.vars.items())) or "-"),
        ("host key", v.host_key_fingerprint or "not pinned yet (pinned on first connection)"),
        ("pinned since", _when(v.host_key_first_seen)),
        ("last verified", _when(v.host_key_last_verified)),
        ("RouterOS", v.ros_version or "-"),
        ("model", v.model or "-"),
        ("last backup", f"{_when(v.last_backup_at)} {v.last_backup_status or ''}".strip()),
    ]
    if v.last_backup_error:
        rows.append(("last error", v.last_backup_error))
    if v.pending_host_key_fingerprint:
        rows.append(("NEW host key", f"{v.pending_host_key_fingerprint} (not accepted)"))
    for key, value in rows:
        table.add_row(cell(key, "bold"), cell(value))
    console.print(table)
    if v.pending_host_key_fingerprint:
        console.print(
            f"[yellow]operations on {v.name} are refused until the new key is accepted: "
            f"tikguard device accept-hostkey {v.name}[/]"
        )


@device_app.command("probe")
def probe(name: Annotated[str, typer.Argument(help="Device name.")]) -> None:
    """Connect and read what the router is: version, board, storage, clock, policies."""
    from tikguard.ops import devices as svc

    with store_context() as ctx, user_errors():
        device_id = svc.id_of(ctx.db, ctx.tenant_id, name)
        facts = asyncio.run(svc.probe_device(ctx.db, ctx.settings, ctx.tenant_id, device_id))
    res = facts.resource
    table = Table(show_header=False, box=None)
    free = f"{res.free_bytes / 1048576:.1f} MiB" if res.free_bytes is not None else "?"
    rows = [
        ("identity", facts.identity or "?"),
        ("RouterOS", f"{res.version} ({res.channel or '?'})"),
        ("board", f"{res.board or '?'} ({res.architecture or '?'})"),
        ("free space", free + (" (flash/)" if facts.has_flash else "")),
        ("uptime", f"{res.uptime_seconds or 0:.0f} s"),
        ("clock", str(facts.clock or "?") + (f" {facts.time_zone}" if facts.time_zone else "")),
        ("device-mode", str(facts.device_mode) if facts.device_mode is not None else "-"),
        ("user group", facts.user_group or "?"),
        ("policies", ",".join(sorted(facts.policies)) if facts.policies else "unknown"),
    ]
    for key, value in rows:
        table.add_row(cell(key, "bold"), cell(value))
    console.print(table)


@device_app.command("remove")
def remove(
    name: Annotated[str, typer.Argument(help="Device name.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask.")] = False,
) -> None:
    """Remove a router and its stored versions (the git mirror keeps their history)."""
    from tikguard.ops import devices as svc

    if not yes and not typer.confirm(f"Remove {name} and its stored versions?"):
        raise typer.Exit(1)
    with store_context() as ctx, user_errors():
        svc.remove(ctx.db, ctx.tenant_id, svc.id_of(ctx.db, ctx.tenant_id, name), actor=ctx.actor)
    console.print(f"removed {name}")


@device_app.command("accept-hostkey")
def accept_hostkey(
    name: Annotated[str, typer.Argument(help="Device name.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask.")] = False,
) -> None:
    """Pin the router's new host key, after showing its fingerprint."""
    from tikguard.ops import devices as svc

    with store_context() as ctx, user_errors():
        device_id = svc.id_of(ctx.db, ctx.tenant_id, name)
        offer = asyncio.run(svc.host_key_offer(ctx.db, ctx.settings, ctx.tenant_id, device_id))
        console.print(f"device:       {offer.device}")
        console.print(f"pinned key:   {offer.old_fingerprint or '(none)'}")
        source = "presented during an operation" if offer.recorded else "presented just now"
        console.print(f"new key:      {offer.new_fingerprint} ({source})")
        if offer.old_fingerprint == offer.new_fingerprint:
            console.print("the router presents the pinned key: nothing to accept")
            return
        if not yes and not typer.confirm("Trust the new key?"):
            raise typer.Exit(1)
        asyncio.run(
            svc.accept_host_key(
                ctx.db,
                ctx.settings,
                ctx.tenant_id,
                device_id,
                offer.new_fingerprint,
                actor=ctx.actor,
            )
        )
    console.print(f"pinned {offer.new_fingerprint} for {name}")
