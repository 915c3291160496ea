"""``tikguard backup``, ``history``, ``show`` and ``diff``: versioned configuration history."""

from __future__ import annotations

import asyncio
from types import MappingProxyType
from typing import TYPE_CHECKING, Annotated

import typer
from rich import box
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text

from tikguard.commands._context import store_context, user_errors
from tikguard.commands._ui import JsonOut, cell, console, err_console, fail, print_json, rule

if TYPE_CHECKING:
    from tikguard.ops.backup import BackupResult

#: Above this many devices the summary lists only the failures.
FULL_TABLE_LIMIT = 100

#: Style of each BackupStatus (a StrEnum: its members look up by their value).
_STYLE = MappingProxyType({"changed": "green", "unchanged": "dim", "failed": "bold red"})


#: ``show r001 -1`` and ``diff r001 -2 -1``: a negative version is a version, not an option.
NEGATIVE_REFS = MappingProxyType({"ignore_unknown_options": True})

#: ``tikguard diff`` exits as diff(1) does.
DIFF_SAME, DIFF_DIFFERENT, DIFF_TROUBLE = 0, 1, 2


def register(app: typer.Typer) -> None:
    app.command("backup")(backup)
    app.command("history")(history)
    app.command("show", context_settings=dict(NEGATIVE_REFS))(show)
    app.command("diff", context_settings=dict(NEGATIVE_REFS))(diff)


def backup(
    names: Annotated[list[str] | None, typer.Argument(help="Devices to back up.")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Every device.")] = False,
    tag: Annotated[str | None, typer.Option("--tag", "-t", help="Devices with this tag.")] = None,
    site: Annotated[str | None, typer.Option("--site", help="Devices at this site.")] = None,
    binary: Annotated[
        bool, typer.Option(help="Also keep the binary /system backup (encrypted).")
    ] = False,
    checkpoint: Annotated[
        bool, typer.Option(help="Record as a checkpoint rather than a manual backup.")
    ] = False,
) -> None:
    """Back up routers: a new version only when the configuration changed."""
    from tikguard.ops import backup as backup_ops
    from tikguard.ops.backup import BackupStatus

    if not names and not all_ and tag is None and site is None:
        fail("say which devices to back up", "give names, --tag TAG, --site SITE or --all")
    if names and (all_ or tag or site):
        fail("give device names or --all/--tag/--site, not both")
    trigger = "checkpoint" if checkpoint else "manual"
    with store_context() as ctx, user_errors():
        jobs = backup_ops.load_jobs(ctx.db, ctx.tenant_id, names=names or None, tag=tag, site=site)
        if not jobs:
            fail("no devices match", "see `tikguard device list`")
        with Progress(
            TextColumn("[bold]backup"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[counts]}"),
            TimeElapsedColumn(),
            console=err_console,
            transient=True,
        ) as progress:
            task = progress.add_task("backup", total=len(jobs), counts="")
            counts = dict.fromkeys(BackupStatus, 0)

            def advance(result: BackupResult) -> None:
                counts[result.status] += 1
                text = "  ".join(f"{s.value} {n}" for s, n in counts.items() if n)
                progress.update(task, advance=1, counts=text)

            results = asyncio.run(
                backup_ops.run_backups(
                    ctx.db,
                    ctx.settings,
                    ctx.tenant_id,
                    jobs,
                    trigger=trigger,
                    origin=backup_ops.Origin(ctx.actor),
                    binary=binary,
                    on_result=advance,
                )
            )
        # The git mirror follows in the background; it is done before the command ends.
        with err_console.status("updating the git mirror"):
            backup_ops.wait_for_mirror()
    _summary(results)
    if any(r.status is BackupStatus.FAILED for r in results):
        raise typer.Exit(1)


def _summary(results: list[BackupResult]) -> None:
    from tikguard.ops import leftovers
    from tikguard.ops.backup import BackupStatus

    order = {BackupStatus.FAILED: 0, BackupStatus.CHANGED: 1, BackupStatus.UNCHANGED: 2}
    shown = sorted(results, key=lambda r: order[r.status])  # failures first, then by name
    if len(results) > FULL_TABLE_LIMIT:
        shown = [r for r in results if r.status is BackupStatus.FAILED]
    if shown:
        table = Table("device", "result", "version", "seconds", "reason")
        for r in shown:
            why = ""
            if r.status is BackupStatus.FAILED:
                message = (r.message or "").removeprefix(f"{r.device}: ")
                why = f"{r.reason}: {message}" + (f"\n[yellow]{r.hint}[/]" if r.hint else "")
            table.add_row(
                r.device,
                f"[{_STYLE[r.status]}]{r.status.value}[/]",
                str(r.version) if r.version is not None else "-",
                f"{r.seconds:.1f}",
                why,
            )
        console.print(table)
    for r in results:
        if r.removed:
            console.print(f"{r.device}: removed files of ended pushes: {', '.join(r.removed)}")
        if r.leftovers:
            console.print(
                f"[yellow]{r.device}: {leftovers.summary(list(r.leftovers))}[/] "
                f"(tikguard disarm {r.device} NAME removes a timer)"
            )
    total = {s: sum(1 for r in results if r.status is s) for s in BackupStatus}
    console.print(
        f"{len(results)} device(s): [green]{total[BackupStatus.CHANGED]} changed[/], "
        f"{total[BackupStatus.UNCHANGED]} unchanged, "
        f"[{'bold red' if total[BackupStatus.FAILED] else 'dim'}]"
        f"{total[BackupStatus.FAILED]} failed[/]"
    )


def history(
    name: Annotated[str, typer.Argument(help="Device name.")],
    limit: Annotated[int | None, typer.Option(help="Only the newest N versions.")] = None,
    as_json: JsonOut = False,
) -> None:
    """List a device's configuration versions, newest first."""
    from tikguard.ops import history as history_ops

    with store_context() as ctx, user_errors():
        versions = history_ops.list_history(ctx.db, ctx.tenant_id, name, limit=limit)
    if as_json:
        from tikguard.api.schemas import VersionOut

        print_json(
            [
                VersionOut.model_validate(v, from_attributes=True).model_dump(mode="json")
                for v in versions
            ]
        )
        return
    if not versions:
        console.print(f"{name} has no versions yet: run `tikguard backup {name}`")
        return
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    for column in ("v", "taken", "checked", "trigger", "RouterOS", "+/-", "hash"):
        table.add_column(column, no_wrap=column != "+/-")
    for v in versions:
        change = f"+{v.lines_added} -{v.lines_removed}"
        if v.secrets_changed_only:
            change += " (secrets only)"
        table.add_row(
            str(v.seq),
            v.created_at.strftime("%Y-%m-%d %H:%M"),
            v.last_checked_at.strftime("%m-%d %H:%M"),
            v.trigger,
            v.ros_version or "-",
            change,
            v.sha256[:8],
        )
    console.print(table)


def show(
    name: Annotated[str, typer.Argument(help="Device name.")],
    version: Annotated[str | None, typer.Argument(help="Version number (default: newest).")] = None,
    show_sensitive: Annotated[
        bool, typer.Option("--show-sensitive", help="Put the secrets back into the text.")
    ] = False,
) -> None:
    """Print a stored configuration (secrets redacted unless --show-sensitive)."""
    from tikguard.ops import history as history_ops

    with store_context() as ctx, user_errors():
        shown = history_ops.show_version(
            ctx.db, ctx.tenant_id, name, version, with_secrets=show_sensitive
        )
    err_console.print(
        f"# {name} version {shown.info.seq} ({shown.info.trigger}, "
        f"{shown.info.created_at:%Y-%m-%d %H:%M:%S}, RouterOS {shown.info.ros_version or '?'})"
        + ("" if show_sensitive else " - secrets redacted"),
        highlight=False,
    )
    console.out(shown.text, end="", highlight=False)


def diff(
    name: Annotated[str, typer.Argument(help="Device name.")],
    old: Annotated[str, typer.Argument(help="Old version number.")],
    new: Annotated[
        str | None, typer.Argument(help="New version number, or `live` (default: newest).")
    ] = None,
    unified_only: Annotated[bool, typer.Option("--unified", help="Only the line diff.")] = False,
    as_json: JsonOut = False,
) -> None:
    """Semantic and line diff between two versions, or a version and the live router.

    Exits as diff(1): 0 when they are the same, 1 when they differ, 2 on trouble (an
    unknown device or version, an unreachable router)."""
    from tikguard.ops import history as history_ops

    try:
        with store_context() as ctx, user_errors(code=DIFF_TROUBLE):
            result = asyncio.run(
                history_ops.diff_versions(ctx.db, ctx.settings, ctx.tenant_id, name, old, new)
            )
    except typer.Exit as exc:  # a bad setting or store: trouble too, not "different"
        raise typer.Exit(DIFF_TROUBLE) from exc
    if as_json:
        from tikguard.api.schemas import DiffOut

        print_json(DiffOut(**result.fields()).model_dump(mode="json"))
        raise typer.Exit(DIFF_SAME if result.empty else DIFF_DIFFERENT)
    if result.empty:
        console.print(cell(f"no differences between {result.old_label} and {result.new_label}"))
        raise typer.Exit(DIFF_SAME)
    if not unified_only:
        rule(f"{result.old_label} -> {result.new_label}")
        if result.semantic is not None:
            console.out(result.semantic.to_text(), end="", highlight=False)
        else:
            err_console.print(
                Text.assemble(("no semantic diff:", "yellow"), " ", result.semantic_error or "")
            )
        rule("lines")
    if console.is_terminal:
        console.print(Syntax(result.unified, "diff", theme="ansi_dark", word_wrap=True))
    else:
        console.out(result.unified, end="", highlight=False)
    raise typer.Exit(DIFF_DIFFERENT)
