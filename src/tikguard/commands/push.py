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
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import MappingProxyType
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

OUTCOME_STYLE = MappingProxyType(
    {
        "committed": "bold green",
        "reverted": "bold yellow",
        "failed": "bold red",
        "uncertain": "bold magenta",
    }
)

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
Detach = Annotated[
    bool,
    typer.Option(
        "--detach",
        help="Return once every push is armed: a running `tikguard serve` (or the cluster) "
        "finishes them; prints how to confirm and follow.",
    ),
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
    detach: Detach = False,
) -> None:
    """Merge a RouterOS script into routers, guarded by an on-device revert timer."""
    _run(
        _request("merge", names, window, confirm_mode, check, idempotency_key, _read_file(file)),
        dry_run=dry_run,
        yes=yes,
        worker=worker,
        detach=detach,
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
    detach: Detach = False,
) -> None:
    """Make a router's running config equal to a stored version (secrets put back)."""
    req = _request("restore", [name], window, confirm_mode, check, idempotency_key, version=version)
    _run(req, dry_run=dry_run, yes=yes, worker=worker, detach=detach)


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
    detach: Detach = False,
) -> None:
    """Replace a router's whole config (reset-configuration + the file), guarded."""
    _run(
        _request("replace", [name], window, confirm_mode, check, idempotency_key, _read_file(file)),
        dry_run=dry_run,
        yes=yes,
        worker=worker,
        detach=detach,
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


def _run(
    req: push_ops.PushRequest,
    *,
    dry_run: bool,
    yes: bool,
    worker: bool = False,
    detach: bool = False,
) -> None:
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
        if not yes:
            for name in req.devices:
                preview = asyncio.run(
                    push_ops.preview(ctx.db, ctx.settings, ctx.tenant_id, req, name)
                )
                _print_change(preview)
            if not typer.confirm(
                f"{req.mode} to {len(req.devices)} device(s), guarded by a revert timer?"
            ):
                raise typer.Exit(1)
        run = _Run(detach=detach)
        try:
            ops = asyncio.run(_submit_and_follow(ctx, req, worker, run))
        except KeyboardInterrupt:
            # Nothing is lost: every step is recorded, and an unconfirmed router reverts
            # by itself at its deadline.
            err_console.print(Text("\ndetached (Ctrl-C): nothing was stopped on the routers"))
            _print_how_to_go_on(ctx, run)
            raise typer.Exit(130) from None
        if detach:
            _print_how_to_go_on(ctx, run)
            return
        _print_summary(ctx, ops)
        if any(op.outcome != "committed" for op in ops):
            raise typer.Exit(2)


@dataclass
class _Run:
    """What a push command followed, for what it prints when it stops following."""

    detach: bool = False
    op_ids: list[str] = field(default_factory=list)
    #: True when this command runs the pushes itself (no server or cluster does).
    here: bool = False


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
    from tikguard.ops import workers as fleet_workers

    live = [w for w in await fleet_workers.workers(ctx.settings, ctx.db, tenant_id=None) if w.alive]
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
    ctx: Context, req: push_ops.PushRequest, worker: bool, run: _Run
) -> list[Operation]:
    from tikguard.ops import operations as operations_ops
    from tikguard.ops import runtime

    eng = await _become_worker(ctx, worker)
    try:
        run.here = eng is not None
        if run.detach and run.here:
            fail(
                "--detach needs a running `tikguard serve` (or a cluster) to finish the "
                "pushes: without one this command runs them itself; nothing was pushed",
                "start `tikguard serve` for this data directory, or push without --detach",
            )
        subs = await operations_ops.submit_push(ctx.db, ctx.settings, ctx, req)
        run.op_ids = [s.op_id for s in subs]
        for sub in subs:
            if not sub.created:
                err_console.print(
                    f"{sub.device}: same request as operation {sub.op_id}; not run again"
                )
        ops = await _follow(ctx, run.op_ids, until_armed=run.detach)
        if eng is not None:
            await eng.wait_idle()
        return ops
    finally:
        if eng is not None:
            await runtime.shutdown()


async def _follow(ctx: Context, op_ids: list[str], *, until_armed: bool = False) -> list[Operation]:
    """Print every event of the operations as it lands, in time order across them, and
    return them when all ended (``until_armed``: once each is armed or ended). A push
    waiting for its manual confirm gets the confirm command, its deadline in local time
    and, on a terminal, a live countdown."""
    from tikguard.store import operations as store_ops

    seen = dict.fromkeys(op_ids, 0)
    names: dict[str, str] = {}
    armed: dict[str, dict[str, Any]] = {}
    waiting: dict[str, float] = {}  # op id -> commit-by (epoch seconds)
    countdown = _Countdown()
    try:
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
            for op_id, event in sorted(events, key=lambda pair: (pair[1].at, pair[1].seq)):
                seen[op_id] = event.seq
                name = names.get(op_id, op_id[:8])
                _print_event(name, event)
                if event.stage == "armed" and isinstance(event.data, dict):
                    armed[op_id] = event.data
                if event.stage == "waiting-confirm" and op_id in armed:
                    waiting[op_id] = float(armed[op_id]["commit_by"])
                    _print_confirm_how(name, op_id, armed[op_id])
            for op in ops:
                if op.outcome is not None or op.state != "waiting":
                    waiting.pop(op.id, None)
            if all(op.outcome is not None for op in ops):
                return ops
            if until_armed and all(op.outcome is not None or op.id in armed for op in ops):
                return ops
            countdown.show({names[i]: by for i, by in waiting.items()})
            await asyncio.sleep(0.2)
    finally:
        countdown.stop()


class _Countdown:
    """A live "waiting for confirm: r1 1m 52s left" line on a terminal (none in a pipe:
    a script reads the confirm command and the deadline printed once)."""

    def __init__(self) -> None:
        self._status: Any = None

    def show(self, commit_by: dict[str, float]) -> None:
        if not commit_by or not err_console.is_terminal:
            self.stop()
            return
        now = time.time()
        text = "waiting for confirm: " + ", ".join(
            f"{name} {_left(by - now)} left" for name, by in sorted(commit_by.items())
        )
        if self._status is None:
            self._status = err_console.status(Text(text))
            self._status.start()
        else:
            self._status.update(Text(text))

    def stop(self) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None


def _left(seconds: float) -> str:
    """``1m 52s`` (or ``0s`` once past)."""
    whole = max(0, int(seconds))
    return f"{whole // 60}m {whole % 60:02d}s" if whole >= 60 else f"{whole}s"


def _local(epoch: float) -> str:
    """A moment as local wall-clock time with its zone, as a person compares it with a
    clock: ``14:03:27 CET``."""
    return datetime.fromtimestamp(epoch).astimezone().strftime("%H:%M:%S %Z").strip()


def _print_confirm_how(device: str, op_id: str, armed: dict[str, Any]) -> None:
    """How to confirm one waiting push, and by when (printed once, on stderr)."""
    commit_by, deadline = float(armed["commit_by"]), float(armed["deadline"])
    err_console.print(
        Text.assemble(
            (device, "bold"),
            f": operation {op_id} waits for your confirm until {_local(commit_by)} "
            f"({_left(commit_by - time.time())} from now); without it the router reverts "
            f"by itself at {_local(deadline)}\n  ",
            (f"tikguard confirm {op_id}", "bold"),
        ),
        highlight=False,
        soft_wrap=True,
    )


def _print_how_to_go_on(ctx: Context, run: _Run) -> None:
    """After --detach or Ctrl-C: each push's id, state, deadline and the commands to
    confirm and follow it (or, when this command ran them, to carry them on)."""
    from tikguard.store import operations as store_ops

    with ctx.db.session() as s:
        rows = []
        for op_id in run.op_ids:
            op = store_ops.get_operation(s, ctx.tenant_id, op_id)
            armed = next(
                (
                    e.data
                    for e in store_ops.list_events(s, ctx.tenant_id, op_id)
                    if e.stage == "armed" and isinstance(e.data, dict)
                ),
                None,
            )
            rows.append((op, armed))
    for op, armed in rows:
        name = _device_name(ctx, op)
        if op.outcome is not None:
            line = f"{name}: operation {op.id} ended {op.outcome}"
        elif armed is None:
            line = f"{name}: operation {op.id} is {op.state}, not armed yet"
        else:
            line = (
                f"{name}: operation {op.id} is {op.state}; the router reverts by itself at "
                f"{_local(float(armed['deadline']))} unless it commits"
            )
            if op.parameters.get("confirm") == "manual":
                line += f" (confirm before {_local(float(armed['commit_by']))})"
        console.print(cell(line), highlight=False, soft_wrap=True)
        if op.outcome is None:
            if armed is not None and op.parameters.get("confirm") == "manual":
                console.print(cell(f"  tikguard confirm {op.id}"), highlight=False)
            console.print(cell(f"  tikguard ops show {op.id} --follow"), highlight=False)
    if run.here and any(op.outcome is None for op, _ in rows):
        console.print(
            cell(
                "this command was running the pushes: they carry on with `tikguard ops "
                "resume` (or `tikguard serve`), which waits for a manual confirm until its "
                "confirm-by time, or proves the revert"
            ),
            highlight=False,
            soft_wrap=True,
        )


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
    """One event line, the device on it (pushes to several routers interleave); a failed
    verification also lists each health check with what the router printed."""
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
    checks = event.data.get("checks") if isinstance(event.data, dict) else None
    if event.level == "error" and checks:
        for note in checks:
            err_console.print(Text(f"    check: {note}"), highlight=False, soft_wrap=True)


def _print_summary(ctx: Context, ops: list[Operation]) -> None:
    """The outcome of each operation, one row a device."""
    table = Table(title="guarded push")
    for col in ("device", "operation", "kind", "outcome", "reason"):
        table.add_column(col)
    for op in ops:
        outcome = op.outcome or "running"
        table.add_row(
            cell(_device_name(ctx, op)),
            op.id[:12],
            op.kind,
            outcome_cell(outcome),
            cell(op.evidence.get("reason", op.error or "")),
        )
    console.print(table)


def _print_preview(preview: push_ops.Preview) -> None:
    """The dry run: the change (as the confirmation prompt shows it), the script and
    what the read-only preflight found."""
    plan = preview.plan
    _print_change(preview, f"{plan.mode}, dry run: nothing is written")
    console.print("[bold]script[/]")
    console.print(Syntax(plan.shown_script or "# (empty)\n", "bash", word_wrap=True))
    console.print(_preflight_table(preview.preflight))


def _print_change(preview: push_ops.Preview, what: str | None = None) -> None:
    """What a push changes on one router: the semantic diff (with its counts) and the
    risk tags (shown by the dry run and before the ``[y/N]`` question)."""
    plan = preview.plan
    rule(f"{preview.device} ({what or plan.mode})")
    console.print(cell(plan.diff_text or "(no change)"), highlight=False)  # ends with counts
    if plan.risk:
        for tag in plan.risk:
            console.print(
                labelled("risk", "yellow", f"{tag['tag']}: {tag['title']}"), highlight=False
            )
    else:
        console.print("[green]no management-access risk tags[/]")
    for problem in plan.unsupported:
        console.print(labelled("cannot express", "red", f"{problem} (use `tikguard replace`)"))
    if preview.refused:
        console.print(labelled("the push would be refused", "red", preview.refused))


def _preflight_table(preflight: Mapping[str, object]) -> Table:
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
    tag: Annotated[
        str | None, typer.Option("--tag", "-t", help="Only devices with this tag.")
    ] = None,
    site: Annotated[str | None, typer.Option("--site", help="Only devices at this site.")] = None,
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
            tag=tag,
            site=site,
        )
    if as_json:
        print_json([operation_json(o) for o in ops])
        return
    if not ops:
        console.print(
            "no operations match"
            if device or kind or outcome or unfinished or tag or site
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
        _print_summary(ctx, [found])
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
        _print_summary(ctx, ops)


async def _resume(ctx: Context, op_ids: list[str], worker: bool = False) -> list[Operation]:
    from tikguard.ops import push as push_ops
    from tikguard.ops import runtime
    from tikguard.ops import workers as fleet_workers
    from tikguard.store import workers as store_workers

    if store_workers.shared(ctx.settings):
        # say who holds each push and whether that worker is alive
        for holder in await fleet_workers.holders(ctx.settings, ctx.db, op_ids):
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
