"""``tikguard compliance``: rules over the fleet's stored configurations.

``rules load FILE`` checks and stores the tenant's rules (then judges every router),
``rules show`` prints them, ``check`` judges every router now (exit 1 while any rule is
violated, for cron and CI), ``report`` shows the verdicts, ``fix RULE`` rolls a rule's
fix out to the routers that violate it (canary, waves, every guard of a rollout).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from tikguard.commands._context import cli_actor, store_context, user_errors
from tikguard.commands._ui import JsonOut, cell, console, err_console, fail, print_json
from tikguard.commands.push import Window, _read_file
from tikguard.commands.rollout import Canary, Waves, _finish, _print_plan, _start_and_follow

compliance_app = typer.Typer(
    help="Compliance rules (must / must-not queries) over the routers' configurations.",
    no_args_is_help=True,
)
rules_app = typer.Typer(help="The tenant's rules file.", no_args_is_help=True)
compliance_app.add_typer(rules_app, name="rules")

_SEVERITY_STYLE = MappingProxyType(
    {
        "critical": "bold red",
        "high": "red",
        "medium": "yellow",
        "low": "cyan",
        "info": "dim",
    }
)


def register(app: typer.Typer) -> None:
    app.add_typer(compliance_app, name="compliance")


@rules_app.command("load")
def rules_load(
    file: Annotated[Path, typer.Argument(help="The rules file (YAML, see docs).")],
) -> None:
    """Check and store the rules (replacing the tenant's), then judge every router."""
    from tikguard.ops import compliance

    text = _read_file(file)
    with store_context() as ctx, user_errors():
        loaded = compliance.load_rules(ctx.db, ctx.tenant_id, text, actor=ctx.actor)
        found = compliance.report(ctx.db, ctx.tenant_id)
    console.print(cell(f"{len(loaded)} rule(s) loaded"))
    _summary(found)


@rules_app.command("show")
def rules_show(as_json: JsonOut = False) -> None:
    """Print the tenant's rules file as loaded (``--json``: the rules as understood)."""
    from tikguard.ops import compliance

    with store_context() as ctx, user_errors():
        text, loaded = compliance.rules(ctx.db, ctx.tenant_id)
    if as_json:
        print_json([r.as_json() for r in loaded])
    elif not text:
        console.print("no rules loaded (see `tikguard compliance rules load FILE`)")
    else:
        typer.echo(text, nl=not text.endswith("\n"))


@compliance_app.command("check")
def check(as_json: JsonOut = False) -> None:
    """Judge every router's newest version now; exit 1 while any rule is violated."""
    from tikguard.ops import compliance

    with store_context() as ctx, user_errors():
        found = compliance.check(ctx.db, ctx.tenant_id)
    _show(found, as_json)
    if found.violations:
        raise typer.Exit(1)


@compliance_app.command("report")
def report(
    rule: Annotated[str | None, typer.Option("--rule", help="Only this rule.")] = None,
    as_json: JsonOut = False,
) -> None:
    """The verdicts as they stand: per rule the routers that violate it, and why."""
    from tikguard.ops import compliance

    with store_context() as ctx, user_errors():
        found = compliance.report(ctx.db, ctx.tenant_id)
    if rule is not None:
        found.rules = [r for r in found.rules if r.id == rule]
        if not found.rules:
            fail(f"no compliance rule {rule!r}", "see `tikguard compliance rules show`")
    _show(found, as_json)


def _show(found: Any, as_json: bool) -> None:
    if as_json:
        from tikguard.api.schemas import ComplianceReportOut

        print_json(
            ComplianceReportOut.model_validate(found, from_attributes=True).model_dump(mode="json")
        )
        return
    if not found.rules:
        console.print("no rules loaded (see `tikguard compliance rules load FILE`)")
        return
    table = Table(title="compliance")
    for col in ("rule", "severity", "kind", "violating", "passing", "query"):
        table.add_column(col)
    for r in found.rules:
        table.add_row(
            cell(r.id),
            cell(r.severity, _SEVERITY_STYLE.get(r.severity, "")),
            "must" if r.must else "must-not",
            cell(str(len(r.violations)), "bold red" if r.violations else "green"),
            str(r.passing),
            cell(r.query),
        )
    console.print(table)
    for r in found.rules:
        for v in r.violations:
            head = Text.assemble((r.id, "bold"), "  ", (v.device, "bold"), f"  version {v.version}")
            head.append(f"  since {v.since:%Y-%m-%d %H:%M:%S}", style="dim")
            console.print(head, soft_wrap=True)
            if not v.lines:
                console.print(cell("  nothing matches " + r.query, "dim"), soft_wrap=True)
            for line in v.lines:
                console.print(Text("  ").append(cell(line)), soft_wrap=True)
    _summary(found)


def _summary(found: Any) -> None:
    open_ = ", ".join(f"{n} {s}" for s, n in found.by_severity.items() if n) or "none"
    console.print(
        cell(f"{found.compliant} of {found.routers} routers compliant; violations: {open_}", "dim"),
        soft_wrap=True,
    )


@compliance_app.command("fix")
def fix(
    rule: Annotated[str, typer.Argument(help="The rule whose fix to roll out.")],
    plan_only: Annotated[
        bool, typer.Option("--plan", help="Only show the plan (diff per router group).")
    ] = False,
    canary: Canary = 1,
    waves: Waves = "100%",
    approve: Annotated[
        bool, typer.Option("--approve", help="Wait for `rollout continue` before each wave.")
    ] = False,
    window: Window = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask.")] = False,
    as_json: JsonOut = False,
) -> None:
    """Roll the rule's fix out to every router that violates it, as a guarded rollout."""
    from tikguard.ops import compliance
    from tikguard.ops.rollout import service as rollouts
    from tikguard.ops.rollout.targets import describe
    from tikguard.ops.rollout.waves import parse_waves

    with store_context() as ctx, user_errors():
        req = compliance.fix_request(
            ctx.db,
            ctx.tenant_id,
            rule,
            actor=cli_actor(),
            canary=canary,
            waves=parse_waves(waves),
            approve=approve,
            window=window,
        )
        fleet = asyncio.run(rollouts.plan(ctx.db, ctx.settings, ctx.tenant_id, req))
        if plan_only:
            if as_json:
                console.print_json(json.dumps(fleet.as_json()))
            else:
                _print_plan(fleet)
            return
        err_console.print(f"fix {rule} on {describe(list(req.selector.names))}", highlight=False)
        if fleet.refused:
            _print_plan(fleet)
            fail(f"{len(fleet.refused)} router(s) cannot be planned; nothing was started")
        if not yes and not typer.confirm("Start the rollout, guarded by a revert timer each?"):
            raise typer.Exit(1)
        view = asyncio.run(_start_and_follow(ctx, req, quiet=as_json))
        _finish(view, as_json)
