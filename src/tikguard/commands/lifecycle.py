"""``tikguard ops recheck OP``, ``tikguard revert OP``, ``tikguard disarm DEVICE NAME``:
a way out of every ``uncertain`` without logging into the router by hand."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Annotated

import typer

from tikguard.commands._context import store_context, user_errors
from tikguard.commands._ui import console, fail
from tikguard.commands.push import OUTCOME_STYLE, _find_op, ops_app
from tikguard.store.errors import StoreError

if TYPE_CHECKING:
    import tikguard.ops.push.lifecycle as life

Op = Annotated[str, typer.Argument(help="Operation id (a unique prefix is enough).")]


def register(app: typer.Typer) -> None:
    app.command("revert")(revert)
    app.command("disarm")(disarm)


def _show(result: life.Result) -> None:
    outcome = result.outcome or "reverting"
    change = " (changed)" if result.changed else ""
    console.print(
        f"{result.op_id}: [{OUTCOME_STYLE.get(outcome, '')}]{outcome}[/]{change}: {result.reason}"
    )


@ops_app.command("recheck")
def recheck(op: Op) -> None:
    """Re-prove an uncertain or unfinished push from the router now (same evidence rules)."""
    import tikguard.ops.push.lifecycle as life

    with store_context() as ctx, user_errors():
        found = _find_op(ctx, op)
        try:
            result = asyncio.run(
                life.recheck(ctx.db, ctx.settings, ctx.tenant_id, found.id, actor=ctx.actor)
            )
        except StoreError as exc:
            fail(str(exc))
        _show(result)


def revert(op: Op) -> None:
    """Fire the revert point of an armed push now (waiting for confirm, or uncertain with
    its timer still on the router), and prove the revert."""
    import tikguard.ops.push.lifecycle as life

    with store_context() as ctx, user_errors():
        found = _find_op(ctx, op)
        try:
            result = asyncio.run(
                life.revert_now(ctx.db, ctx.settings, ctx.tenant_id, found.id, actor=ctx.actor)
            )
        except StoreError as exc:
            fail(str(exc))
        _show(result)


def disarm(
    device: Annotated[str, typer.Argument(help="Device name.")],
    name: Annotated[str, typer.Argument(help="The tikguard timer's name (tikguard-...).")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask.")] = False,
) -> None:
    """Remove a tikguard timer left on a router with no live operation behind it."""
    import tikguard.ops.push.lifecycle as life

    with store_context() as ctx, user_errors():

        def run(apply: bool) -> life.Disarm:
            return asyncio.run(
                life.disarm(
                    ctx.db, ctx.settings, ctx.tenant_id, device, name, actor=ctx.actor, apply=apply
                )
            )

        try:
            plan = run(False)
            details = " ".join(f"{k}={v}" for k, v in plan.details.items())
            console.print(
                f"would remove /system scheduler item {plan.name} on {plan.device} "
                f"({details}); operation {plan.operation}: {plan.operation_state}; "
                "the router keeps its running config"
            )
            if not yes and not typer.confirm("remove it?"):
                raise typer.Exit(1)
            done = run(True)
        except StoreError as exc:
            fail(str(exc))
        console.print(f"removed {done.name} from {done.device} and read back gone (audited)")
