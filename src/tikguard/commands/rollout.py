"""``tikguard rollout plan|start|list|show|continue|abort``: one change to many routers.

``plan`` renders the change for every router and groups them by identical diff
(writes nothing). ``start`` shows the routers it resolved, asks, and runs the canary
and the waves with a progress bar per wave. When no ``tikguard serve`` runs for this
data directory the command itself is the worker: it stays until the rollout ends or
waits at a gate (``--approve``, or a halt); ``tikguard rollout continue R`` picks it
up from there.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table
from rich.text import Text

from tikguard.commands._context import Context, cli_actor, store_context, user_errors
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
from tikguard.commands.push import OUTCOME_STYLE, Check, Window, _checks, _read_file

if TYPE_CHECKING:
    from tikguard.ops import runtime
    from tikguard.ops.rollout import service as rollouts
    from tikguard.ops.rollout.records import RolloutView

rollout_app = typer.Typer(
    name="rollout",
    help="Fleet rollouts: a change to many routers in canary and waves, halted at the first "
    "surprise.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(rollout_app, name="rollout")


Names = Annotated[list[str] | None, typer.Argument(help="Routers by name.")]
Tag = Annotated[str | None, typer.Option("--tag", "-t", help="Routers with this tag.")]
Site = Annotated[str | None, typer.Option("--site", help="Routers at this site.")]
All = Annotated[bool, typer.Option("--all", help="Every router.")]
Match = Annotated[
    str | None,
    typer.Option("--match", help="Only routers whose latest stored config matches this regex."),
]
File = Annotated[
    Path | None, typer.Option("--file", "-f", help="RouterOS script for every router ('-': stdin).")
]
Template = Annotated[
    Path | None,
    typer.Option("--template", help="Jinja2 template rendered per router (see docs/rollouts.md)."),
]
Canary = Annotated[int, typer.Option("--canary", help="Routers in the first wave.")]
Waves = Annotated[
    str, typer.Option("--waves", help="Routers changed by the end of each wave: 5,25%,100%.")
]


def _request(
    names: list[str] | None,
    tag: str | None,
    site: str | None,
    all_: bool,
    match: str | None,
    file: Path | None,
    template: Path | None,
    **policy: Any,
) -> rollouts.RolloutRequest:
    from tikguard.ops.rollout import service as rollouts
    from tikguard.ops.rollout.targets import Selector

    if (file is None) == (template is None):
        fail("give the change as --file SCRIPT or --template TEMPLATE (one of them)")
    source = _read_file(file or template)  # type: ignore[arg-type]
    selector = Selector(names=names or [], tag=tag, site=site, all=all_, match=match)
    return rollouts.RolloutRequest(
        selector=selector,
        source=source,
        template=template is not None,
        requested_by=cli_actor(),
        **policy,
    )


@rollout_app.command("plan")
def plan(
    names: Names = None,
    tag: Tag = None,
    site: Site = None,
    all_: All = False,
    match: Match = None,
    file: File = None,
    template: Template = None,
    canary: Canary = 1,
    waves: Waves = "100%",
    as_json: JsonOut = False,
) -> None:
    """Render and plan every router (against its stored config) and group them by diff."""
    from tikguard.ops.rollout import service as rollouts
    from tikguard.ops.rollout.waves import parse_waves

    with store_context() as ctx, user_errors():
        req = _request(
            names, tag, site, all_, match, file, template, canary=canary, waves=parse_waves(waves)
        )
        fleet = asyncio.run(rollouts.plan(ctx.db, ctx.settings, ctx.tenant_id, req))
    if as_json:
        print_json(fleet.as_json())
        return
    _print_plan(fleet)


def _print_plan(fleet: rollouts.FleetPlan) -> None:
    from tikguard.ops.rollout import service as rollouts
    from tikguard.ops.rollout.targets import describe

    console.print(Text(fleet.headline(), style="bold"))
    for i, group in enumerate(fleet.groups):
        rule(f"diff {rollouts.letter(i)}: {describe(group.routers)}")
        console.print(cell(group.diff or "(no change in the stored config)"), highlight=False)
        if group.risk:
            for risk in group.risk:
                console.print(
                    labelled("risk", "yellow", f"{risk['tag']}: {risk['title']}"), highlight=False
                )
        else:
            console.print("[green]no management-access risk tags[/]")
    if fleet.skipped:
        console.print(cell(f"nothing to do (empty change): {describe(fleet.skipped)}", "dim"))
    for name, why in fleet.refused:
        console.print(labelled("cannot be planned", "red", f"{name}: {why}"), highlight=False)
    console.print(f"waves: {' -> '.join(str(n) for n in fleet.waves) or '(none)'}")


@rollout_app.command("start")
def start(
    names: Names = None,
    tag: Tag = None,
    site: Site = None,
    all_: All = False,
    match: Match = None,
    file: File = None,
    template: Template = None,
    canary: Canary = 1,
    waves: Waves = "100%",
    soak: Annotated[
        str | None, typer.Option("--soak", help="Wait between waves: 90s, 10m, 1h.")
    ] = None,
    approve: Annotated[
        bool, typer.Option("--approve", help="Wait for `rollout continue` before each wave.")
    ] = False,
    max_failures: Annotated[
        int, typer.Option("--max-failures", help="Failures tolerated before halting.")
    ] = 0,
    max_failure_percent: Annotated[
        float | None,
        typer.Option("--max-failure-percent", help="Failures tolerated, percent of routers."),
    ] = None,
    window: Window = None,
    check: Check = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask.")] = False,
    as_json: JsonOut = False,
) -> None:
    """Push a change to many routers: canary, waves, halt at the first surprise."""
    from tikguard.ops.rollout import service as rollouts
    from tikguard.ops.rollout.targets import describe
    from tikguard.ops.rollout.waves import parse_duration, parse_waves

    with store_context() as ctx, user_errors():
        req = _request(
            names,
            tag,
            site,
            all_,
            match,
            file,
            template,
            canary=canary,
            waves=parse_waves(waves),
            soak=parse_duration(soak),
            approve=approve,
            max_failures=max_failures,
            max_failure_percent=max_failure_percent,
            window=window,
            checks=_checks(check),
        )
        fleet = asyncio.run(rollouts.plan(ctx.db, ctx.settings, ctx.tenant_id, req))
        pushed = sorted(r for g in fleet.groups for r in g.routers)
        err_console.print(f"resolved {describe(pushed)}", highlight=False)
        if fleet.skipped:
            err_console.print(f"nothing to do on {describe(fleet.skipped)}", highlight=False)
        if fleet.refused:
            _print_plan(fleet)
            fail(f"{len(fleet.refused)} router(s) cannot be planned; nothing was started")
        err_console.print(
            f"{len(fleet.groups)} distinct diff(s); waves: "
            + " -> ".join(str(n) for n in fleet.waves),
            highlight=False,
        )
        if not yes and not typer.confirm("Start the rollout, guarded by a revert timer each?"):
            raise typer.Exit(1)
        view = asyncio.run(_start_and_follow(ctx, req, quiet=as_json))
        _finish(view, as_json)


def _finish(view: RolloutView, as_json: bool) -> None:
    if as_json:
        print_json(view.as_json())
    else:
        _print_summary(view)
    if view.state != "completed":
        raise typer.Exit(2)


async def _start_and_follow(
    ctx: Context, req: rollouts.RolloutRequest, *, quiet: bool
) -> RolloutView:
    from tikguard.ops.rollout import service as rollouts

    eng = await _launch(ctx)
    try:
        rollout_id = await rollouts.start(ctx.db, ctx.settings, ctx.tenant_id, req)
        err_console.print(f"rollout {rollout_id}")
        return await _follow(ctx, rollout_id, quiet=quiet)
    finally:
        await _stop(eng)


async def _stop(eng: runtime.Engine | None) -> None:
    """Stop the engine this command launched. A rollout waiting at a gate stays pending
    (the next launch resumes it): DBOS's note that it cancelled its task is not news."""
    from tikguard.ops import runtime

    if eng is None:
        return
    logging.getLogger("dbos").setLevel(logging.ERROR)
    await runtime.shutdown()


async def _launch(ctx: Context) -> runtime.Engine | None:
    from tikguard.ops import runtime

    try:
        return await runtime.launch(ctx.settings)
    except runtime.EngineBusy:
        err_console.print("[dim]a tikguard server runs the rollout; following its progress[/]")
        return None


async def _follow(ctx: Context, rollout_id: str, *, quiet: bool = False) -> RolloutView:
    """A progress bar per wave until the rollout ends or waits at a gate."""
    from tikguard.ops.rollout import service as rollouts
    from tikguard.ops.rollout.records import FINISHED, GATES

    view = await asyncio.to_thread(rollouts.get, ctx.db, ctx.tenant_id, rollout_id)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[note]}"),
        console=err_console,
        disable=quiet or not sys.stderr.isatty(),
    ) as progress:
        tasks = [
            progress.add_task(
                "canary" if i == 0 and view.policy.get("canary") else f"wave {i}",
                total=size,
                note="",
            )
            for i, size in enumerate(view.waves)
        ]
        while True:
            for i, task in enumerate(tasks):
                mine = [t for t in view.targets if t.wave == i]
                done = [t for t in mine if t.status == "done"]
                bad = sum(1 for t in done if t.outcome != "committed")
                note = f"[red]{bad} not committed[/]" if bad else ""
                progress.update(task, completed=len(done), note=note)
            if view.state in FINISHED or view.state in GATES:
                break
            await asyncio.sleep(0.3)
            view = await asyncio.to_thread(rollouts.get, ctx.db, ctx.tenant_id, rollout_id)
    return view


def _print_summary(view: RolloutView) -> None:
    from tikguard.ops.rollout.records import GATES

    table = Table(title=f"rollout {view.id[:12]}: {view.state}")
    for col in ("router", "wave", "outcome", "evidence", "health checks", "operation"):
        table.add_column(col, overflow="fold")
    for t in view.targets:
        shown = t.outcome or t.status
        table.add_row(
            Text(t.name),
            "-" if t.wave is None else str(t.wave),
            Text(shown, style=OUTCOME_STYLE.get(shown, "")),
            Text((t.reason or "")[:160]),
            Text("; ".join(t.checks)[:160]),
            (t.op_id or "")[:12],
        )
    console.print(table)
    counts = ", ".join(f"{n} {k}" for k, n in sorted(view.counts().items()))
    console.print(f"{counts}", highlight=False)
    if view.reason:
        console.print(cell(view.reason, "yellow"), highlight=False)
    if view.state in GATES:
        console.print(
            f"next: tikguard rollout continue {view.id[:12]}   or   "
            f"tikguard rollout abort {view.id[:12]}",
            highlight=False,
        )


@rollout_app.command("list")
def list_(as_json: JsonOut = False) -> None:
    """Recent rollouts, newest first."""
    from tikguard.ops.rollout import service as rollouts

    with store_context() as ctx, user_errors():
        views = rollouts.list_all(ctx.db, ctx.tenant_id)
    if as_json:
        print_json([v.as_json() for v in views])
        return
    table = Table()
    for col in ("rollout", "state", "wave", "routers", "outcomes", "created"):
        table.add_column(col)
    for v in views:
        counts = ", ".join(f"{n} {k}" for k, n in sorted(v.counts().items()))
        table.add_row(
            v.id[:12],
            v.state,
            f"{v.current_wave + 1}/{len(v.waves)}",
            str(len(v.targets)),
            counts,
            f"{v.created_at:%Y-%m-%d %H:%M:%S}",
        )
    console.print(table)


@rollout_app.command("show")
def show(
    rollout: Annotated[str, typer.Argument(help="Rollout id (a unique prefix is enough).")],
    as_json: JsonOut = False,
) -> None:
    """One rollout: every router's wave, outcome, evidence and health checks."""
    from tikguard.ops.rollout import service as rollouts

    with store_context() as ctx, user_errors():
        view = rollouts.get(ctx.db, ctx.tenant_id, rollout)
    if as_json:
        print_json(view.as_json())
    else:
        _print_summary(view)


@rollout_app.command("continue")
def continue_(
    rollout: Annotated[str, typer.Argument(help="Rollout id (a unique prefix is enough).")],
    as_json: JsonOut = False,
) -> None:
    """Let a waiting or halted rollout go on with its next routers."""
    with store_context() as ctx, user_errors():
        view = asyncio.run(_gate(ctx, rollout, "continue", quiet=as_json))
    _finish(view, as_json)


@rollout_app.command("abort")
def abort(
    rollout: Annotated[str, typer.Argument(help="Rollout id (a unique prefix is enough).")],
    as_json: JsonOut = False,
) -> None:
    """Start no new pushes; pushes in flight end with their proof."""
    with store_context() as ctx, user_errors():
        view = asyncio.run(_gate(ctx, rollout, "abort", quiet=as_json))
    _finish(view, as_json)


async def _gate(ctx: Context, rollout: str, action: str, *, quiet: bool) -> RolloutView:
    from tikguard.ops.rollout import service as rollouts
    from tikguard.ops.rollout.records import GATES

    eng = await _launch(ctx)
    try:
        if action == "continue":
            rollout_id = await rollouts.continue_(
                ctx.db, ctx.settings, ctx.tenant_id, rollout, ctx.actor
            )
        else:
            rollout_id = await rollouts.abort(
                ctx.db, ctx.settings, ctx.tenant_id, rollout, ctx.actor
            )
        # the state still shows the gate until the workflow has read the message
        view = await asyncio.to_thread(rollouts.get, ctx.db, ctx.tenant_id, rollout_id)
        async with asyncio.timeout(60):
            while view.state in GATES:
                await asyncio.sleep(0.1)
                view = await asyncio.to_thread(rollouts.get, ctx.db, ctx.tenant_id, rollout_id)
        return await _follow(ctx, rollout_id, quiet=quiet)
    finally:
        await _stop(eng)
