"""``tikguard push|restore|replace|confirm`` and ``tikguard ops list|show``: guarded change.

On the embedded default, when no ``tikguard serve`` is running for this data directory,
the command itself is the worker: it launches the engine (resuming any push an earlier,
killed command left behind), runs the pushes and stays until each has its outcome.
Otherwise it hands the pushes to the running server through the queue and follows
their events. On a shared PostgreSQL the command never becomes a worker unless asked
(``--worker``): it submits to the cluster's queues and follows.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text

from tikguard.commands._context import Context, cli_actor, store_context, user_errors
from tikguard.commands._input import read_user_file
from tikguard.commands._ui import (
    JsonOut,
    cell,
    console,
    err_console,
    fail,
    labelled,
    print_json,
    rule,
)
from tikguard.store.errors import NotFound

if TYPE_CHECKING:
    from tikguard.ops import push as push_ops
    from tikguard.ops import runtime
    from tikguard.store.models import Operation, OperationEvent

T = TypeVar("T")
#: Operation kinds that are guarded pushes (backups are not resumed here).
PUSH_KINDS = ("push", "restore", "replace")

ops_app = typer.Typer(help="Guarded-push operations: list them, show one, follow it live.")

OUTCOME_STYLE = {
    "committed": "bold green",
    "reverted": "bold yellow",
    "failed": "bold red",
    "uncertain": "bold magenta",
}

Window = Annotated[
    float | None, typer.Option("--window", help="Revert window in seconds (default 120).")
]
Confirm = Annotated[
    str, typer.Option("--confirm", help="auto (default) or manual: wait for `tikguard confirm`.")
]
Check = Annotated[
    list[str] | None,
    typer.Option("--check", help="Health check 'COMMAND => REGEX' run after the push (repeat)."),
]
DryRun = Annotated[bool, typer.Option("--dry-run", help="Show diff, script, risk; write nothing.")]
Yes = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask before pushing.")]
Key = Annotated[
    str | None,
    typer.Option("--idempotency-key", help="Same key, same push: never runs twice."),
]
AsWorker = Annotated[
    bool,
    typer.Option(
        "--worker",
        help="On a shared PostgreSQL: run the pushes in this process as a worker of the "
        "cluster instead of handing them to its workers.",
    ),
]


def register(app: typer.Typer) -> None:
    app.command("push")(push)
    app.command("restore")(restore)
    app.command("replace")(replace)
    app.command("confirm")(confirm)
    app.add_typer(ops_app, name="ops")


def _checks(raw: list[str] | None) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for item in raw or []:
        command, sep, pattern = item.partition("=>")
        if not sep or not command.strip() or not pattern.strip():
            fail(f"bad --check {item!r}", "write it as 'COMMAND => REGEX'")
        out.append((command.strip(), pattern.strip()))
    return out


def _read_file(path: Path) -> str:
    return read_user_file(path)


def push(
    names: Annotated[list[str], typer.Argument(help="Devices to push to.")],
    file: Annotated[Path, typer.Option("--file", "-f", help="RouterOS script ('-': stdin).")],
    window: Window = None,
    confirm_mode: Confirm = "auto",
    check: Check = None,
    dry_run: DryRun = False,
    yes: Yes = False,
    idempotency_key: Key = None,
    worker: AsWorker = False,
) -> None:
    """Merge a RouterOS script into routers, guarded by an on-device revert timer."""
    _run(
        _request("merge", names, window, confirm_mode, check, idempotency_key, _read_file(file)),
        dry_run=dry_run,
        yes=yes,
        worker=worker,
    )


def restore(
    name: Annotated[str, typer.Argument(help="Device to restore.")],
    version: Annotated[int, typer.Option("--version", "-V", help="Version number to restore.")],
    window: Window = None,
    confirm_mode: Confirm = "auto",
    check: Check = None,
    dry_run: DryRun = False,
    yes: Yes = False,
    idempotency_key: Key = None,
    worker: AsWorker = False,
) -> None:
    """Make a router's running config equal to a stored version (secrets put back)."""
    req = _request("restore", [name], window, confirm_mode, check, idempotency_key, version=version)
    _run(req, dry_run=dry_run, yes=yes, worker=worker)


def replace(
    name: Annotated[str, typer.Argument(help="Device whose whole config to replace.")],
    file: Annotated[Path, typer.Option("--file", "-f", help="Full RouterOS export to run.")],
    window: Window = None,
    confirm_mode: Confirm = "auto",
    check: Check = None,
    dry_run: DryRun = False,
    yes: Yes = False,
    idempotency_key: Key = None,
    worker: AsWorker = False,
) -> None:
    """Replace a router's whole config (reset-configuration + the file), guarded."""
    _run(
        _request("replace", [name], window, confirm_mode, check, idempotency_key, _read_file(file)),
        dry_run=dry_run,
        yes=yes,
        worker=worker,
    )


def _request(
    mode: str,
    devices: list[str],
    window: float | None,
    confirm_mode: str,
    check: list[str] | None,
    idempotency_key: str | None,
    script: str | None = None,
    version: int | None = None,
) -> push_ops.PushRequest:
    """The push request the three guarded commands share (options as typed)."""
    from tikguard.ops import push as push_ops

    return push_ops.PushRequest(
        devices=devices,
        mode=mode,
        script=script,
        version=version,
        window=window,
        confirm=confirm_mode,
        checks=_checks(check),
        idempotency_key=idempotency_key,
        requested_by=cli_actor(),
    )


def confirm(
    op: Annotated[str, typer.Argument(help="Operation id (see `tikguard ops list`).")],
) -> None:
    """Confirm a manual-confirm push so it commits (before its margin runs out)."""
    from tikguard.ops import operations as operations_ops

    with store_context() as ctx, user_errors():
        found = _find_op(ctx, op)
        asyncio.run(operations_ops.confirm(ctx.db, ctx.settings, ctx, found.id))
        console.print(f"confirm sent to {found.id}")


def _run(req: push_ops.PushRequest, *, dry_run: bool, yes: bool, worker: bool = False) -> None:
    from tikguard.ops import push as push_ops

    with store_context() as ctx, user_errors():
        push_ops.check_request(req, ctx.settings)
        if dry_run:
            refused = False
            for name in req.devices:
                found = asyncio.run(
                    push_ops.preview(ctx.db, ctx.settings, ctx.tenant_id, req, name)
                )
                _print_preview(found)
                refused = refused or found.refused is not None
            if refused:  # as the real push would end: failed, nothing written
                raise typer.Exit(2)
            return
        if not yes and not typer.confirm(
            f"{req.mode} to {len(req.devices)} device(s), guarded by a revert timer?"
        ):
            raise typer.Exit(1)
        ops = asyncio.run(_submit_and_follow(ctx, req, worker))
        _print_summary(ops)
        if any(op.outcome != "committed" for op in ops):
            raise typer.Exit(2)


async def _become_worker(ctx: Context, worker: bool) -> runtime.Engine | None:
    """Launch the engine here when this command is to be the worker; None when it
    hands its work to others (a server on this data directory, or the cluster)."""
    from tikguard.ops import cluster, runtime
    from tikguard.store import workers as store_workers

    if store_workers.shared(ctx.settings) and not worker:
        await _announce_cluster(ctx)
        return None
    try:
        return await runtime.launch(ctx.settings)
    except runtime.EngineBusy:
        err_console.print("[dim]a tikguard server runs the pushes; following its progress[/]")
        return None
    except cluster.ClusterError as exc:
        fail(str(exc))


async def _announce_cluster(ctx: Context) -> None:
    from tikguard.ops import cluster

    live = [w for w in await cluster.workers(ctx.settings, ctx.db) if w.alive]
    if live:
        err_console.print(
            f"[dim]handed to the cluster ({len(live)} live worker(s)); following its progress[/]"
        )
    else:
        err_console.print(
            "[yellow]no live worker in the cluster: the pushes wait in its queue until one "
            "starts (`tikguard serve`), or run this command with --worker[/]"
        )


async def _submit_and_follow(
    ctx: Context, req: push_ops.PushRequest, worker: bool = False
) -> list[Operation]:
    from tikguard.ops import operations as operations_ops
    from tikguard.ops import runtime

    eng = await _become_worker(ctx, worker)
    try:
        subs = await operations_ops.submit_push(ctx.db, ctx.settings, ctx, req)
        for sub in subs:
            if not sub.created:
                err_console.print(
                    f"{sub.device}: same request as operation {sub.op_id}; not run again"
                )
        ops = await _follow(ctx, [s.op_id for s in subs])
        if eng is not None:
            await eng.wait_idle()
        return ops
    finally:
        if eng is not None:
            await runtime.shutdown()


async def _follow(ctx: Context, op_ids: list[str]) -> list[Operation]:
    """Print every event of the operations as it lands; return them when all ended."""
    from tikguard.store import operations as store_ops

    seen = dict.fromkeys(op_ids, 0)
    names: dict[str, str] = {}
    while True:

        def read(s: Any) -> tuple[list[Operation], list[tuple[str, OperationEvent]]]:
            ops = [store_ops.get_operation(s, ctx.tenant_id, i) for i in op_ids]
            events = [
                (i, e)
                for i in op_ids
                for e in store_ops.list_events(s, ctx.tenant_id, i, after_seq=seen[i])
            ]
            return ops, events

        ops, events = await asyncio.to_thread(_read_only, ctx, read)
        for op in ops:
            names.setdefault(op.id, _device_name(ctx, op))
        for op_id, event in events:
            seen[op_id] = event.seq
            _print_event(names.get(op_id, op_id[:8]), event)
        if all(op.outcome is not None for op in ops):
            return ops
        await asyncio.sleep(0.2)


def _read_only(ctx: Context, fn: Callable[[Any], T]) -> T:
    """Run ``fn(session)`` in a read transaction (never the pushes' write lock)."""
    with ctx.db.session() as session:
        return fn(session)


def _device_name(ctx: Context, op: Operation) -> str:
    from tikguard.store import devices as store_devices

    if op.device_id is None:
        return op.id[:8]
    with ctx.db.session() as s:
        return store_devices.get_device(s, ctx.tenant_id, op.device_id).name


def _print_event(device: str, event: OperationEvent) -> None:
    style = {"error": "red", "warning": "yellow"}.get(event.level, "cyan")
    first = event.message.splitlines()[0] if event.message else ""
    err_console.print(
        Text.assemble(
            (f"{event.at:%H:%M:%S}", "dim"),
            " ",
            (device, "bold"),
            " ",
            (event.stage, style),
            " ",
            first,
        ),
        highlight=False,
    )


def _print_summary(ops: list[Operation]) -> None:
    table = Table(title="guarded push")
    for col in ("operation", "kind", "outcome", "reason"):
        table.add_column(col)
    for op in ops:
        outcome = op.outcome or "running"
        table.add_row(
            op.id[:12],
            op.kind,
            outcome_cell(outcome),
            cell(op.evidence.get("reason", op.error or "")),
        )
    console.print(table)


def _print_preview(preview: push_ops.Preview) -> None:
    plan = preview.plan
    rule(f"{preview.device} ({plan.mode}, dry run: nothing is written)")
    console.print(cell(plan.diff_text or "(no change)"), highlight=False)
    console.print("[bold]script[/]")
    console.print(Syntax(plan.shown_script or "# (empty)\n", "bash", word_wrap=True))
    if plan.risk:
        for tag in plan.risk:
            console.print(
                labelled("risk", "yellow", f"{tag['tag']}: {tag['title']}"), highlight=False
            )
    else:
        console.print("[green]no management-access risk tags[/]")
    for problem in plan.unsupported:
        console.print(labelled("cannot express", "red", f"{problem} (use `tikguard replace`)"))
    console.print(_preflight_table(preview.preflight))
    if preview.refused:
        console.print(labelled("the push would be refused", "red", preview.refused))


def _preflight_table(preflight: dict[str, Any]) -> Table:
    """What the read-only preflight found, one fact a row (lists joined, so policies fit)."""
    table = Table(title="preflight (read-only)", title_justify="left", show_header=False)
    table.add_column("fact", style="bold")
    table.add_column("value", overflow="fold")
    for key, value in preflight.items():
        shown = ", ".join(map(str, value)) if isinstance(value, list | tuple) else str(value)
        table.add_row(key.replace("_", " "), shown)
    return table


def _find_op(ctx: Context, op: str) -> Operation:
    from tikguard.store import operations as store_ops

    with ctx.db.session() as s:
        try:
            return store_ops.get_operation(s, ctx.tenant_id, op)
        except NotFound:
            matches = [
                o
                for o in store_ops.list_operations(s, ctx.tenant_id, limit=500)
                if o.id.startswith(op)
            ]
    if len(matches) != 1:
        fail(f"no single operation matches {op!r}", "see `tikguard ops list`")
    return matches[0]


@ops_app.command("list")
def ops_list(
    limit: Annotated[int, typer.Option(help="How many, newest first.")] = 30,
    device: Annotated[str | None, typer.Option("--device", "-d", help="Only this device.")] = None,
    kind: Annotated[
        str | None, typer.Option(help="Only this kind: push, restore, replace or backup.")
    ] = None,
    outcome: Annotated[
        str | None,
        typer.Option(help="Only this outcome (committed, reverted, failed, uncertain, ...)."),
    ] = None,
    unfinished: Annotated[
        bool, typer.Option("--unfinished", help="Only what is running or waiting now.")
    ] = False,
    as_json: JsonOut = False,
) -> None:
    """Recent operations with their outcome (``--json``: the API's list of operations)."""
    from tikguard.ops import devices as devices_ops
    from tikguard.ops import operations as operations_ops

    with store_context() as ctx, user_errors():
        device_id = devices_ops.id_of(ctx.db, ctx.tenant_id, device) if device else None
        ops = operations_ops.list_ops(
            ctx.db,
            ctx.tenant_id,
            device=device_id,
            kind=kind,
            outcome=outcome,
            unfinished=unfinished,
            limit=limit,
        )
    if as_json:
        print_json([operation_json(o) for o in ops])
        return
    if not ops:
        console.print(
            "no operations match"
            if device or kind or outcome or unfinished
            else "no operations yet"
        )
        return
    table = Table()
    for col in ("operation", "device", "kind", "state", "outcome", "created", "reason"):
        table.add_column(col)
    for op in ops:
        table.add_row(
            op.id[:12],
            cell(op.device or "-"),
            op.kind,
            op.state,
            outcome_cell(op.outcome or ""),
            f"{op.created_at:%Y-%m-%d %H:%M:%S}",
            cell(str(op.evidence.get("reason", op.error or ""))[:80]),
        )
    console.print(table)


def outcome_cell(outcome: str) -> Text:
    """An outcome in its colour (any text, even one no style is known for)."""
    return cell(outcome, OUTCOME_STYLE.get(outcome, ""))


def operation_json(op: Any) -> dict[str, Any]:
    """An operation as ``GET /api/v1/operations/{id}`` returns it."""
    from tikguard.api.schemas import OperationOut

    return OperationOut.model_validate(op, from_attributes=True).model_dump(mode="json")


@ops_app.command("show")
def ops_show(
    op: Annotated[str, typer.Argument(help="Operation id (a unique prefix is enough).")],
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Stream events live.")] = False,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help='Print the operation as the API does, its events under "events".',
        ),
    ] = False,
) -> None:
    """One operation: every stage as a durable event, then its outcome and evidence."""
    from tikguard.ops import operations as operations_ops
    from tikguard.store import operations as store_ops

    with store_context() as ctx, user_errors():
        found = _find_op(ctx, op)
        if as_json:
            from tikguard.api.schemas import EventOut

            doc = operation_json(operations_ops.get_op(ctx.db, ctx.tenant_id, found.id))
            doc["events"] = [
                EventOut.model_validate(e, from_attributes=True).model_dump(mode="json")
                for e in operations_ops.events(ctx.db, ctx.tenant_id, found.id)
            ]
            print_json(doc)
            return
        name = _device_name(ctx, found)
        if follow:
            asyncio.run(_follow(ctx, [found.id]))
        else:
            with ctx.db.session() as s:
                for event in store_ops.list_events(s, ctx.tenant_id, found.id):
                    _print_event(name, event)
        with ctx.db.session() as s:
            found = store_ops.get_operation(s, ctx.tenant_id, found.id)
        _print_summary([found])
        _print_evidence(found)


@ops_app.command("resume")
def ops_resume(worker: AsWorker = False) -> None:
    """Finish pushes a stopped tikguard left behind (each ends with its proven outcome)."""
    from tikguard.store import operations as store_ops

    with store_context() as ctx, user_errors():
        with ctx.db.session() as s:
            open_ops = [
                op
                for op in store_ops.list_operations(s, ctx.tenant_id, unfinished_only=True)
                if op.kind in PUSH_KINDS
            ]
        if not open_ops:
            console.print("no unfinished operations")
            return
        ops = asyncio.run(_resume(ctx, [op.id for op in open_ops], worker))
        _print_summary(ops)


async def _resume(ctx: Context, op_ids: list[str], worker: bool = False) -> list[Operation]:
    from tikguard.ops import cluster, runtime
    from tikguard.ops import push as push_ops
    from tikguard.store import workers as store_workers

    if store_workers.shared(ctx.settings):
        # say who holds each push and whether that worker is alive
        for holder in await cluster.holders(ctx.settings, ctx.db, op_ids):
            err_console.print(f"{holder.op_id[:12]}: {holder.describe()}", highlight=False)
    eng = await _become_worker(ctx, worker)
    if eng is None:
        return await _follow(ctx, op_ids)
    try:
        for op_id in await push_ops.close_orphans(ctx.db, ctx.tenant_id, op_ids):
            err_console.print(f"{op_id[:12]}: never started; closed as failed")
        ops = await _follow(ctx, op_ids)
        await eng.wait_idle()
        return ops
    finally:
        await runtime.shutdown()


def _print_evidence(op: Operation) -> None:
    keys = (
        "pre_hash",
        "after_hash",
        "uptime_before",
        "uptime_after",
        "rebooted",
        "timer_present",
        "timer_removed_by_us",
        "reachable_fresh",
        "converged",
        "checks_ok",
        "outcome_unknowns",
    )
    if not any(key in op.evidence for key in keys):
        return
    table = Table(title="evidence", show_header=False)
    table.add_column("what")
    table.add_column("value")
    for key in keys:
        if key in op.evidence:
            table.add_row(key, cell(evidence_text(op.evidence[key])))
    console.print(table)


def evidence_text(value: Any) -> str:
    """An evidence value as JSON (``true``, ``null``, ``["a"]``), as the API shows it."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)
