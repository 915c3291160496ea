"""``tikguard demo``: the whole promise on a simulated fleet, in about a minute.

It starts three simulated RouterOS routers in this process (the simulator's clock and
tikguard's both accelerated by ``--time-scale``), registers and backs them up, then:

1. pushes a harmless change to every router (quotes, ``$``, brackets, non-ASCII): ``committed``;
2. pushes a change that removes one router's management address: the router loads
   its revert point by itself and tikguard proves it: ``reverted``;
3. restores another router to its first version: ``committed``;

and prints every outcome with the evidence that decided it. Everything lives in a
fresh directory under the data directory; no other service is needed.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from tikguard.commands._context import Context
from tikguard.commands._ui import console, err_console, fail, labelled, rule
from tikguard.routeros.quoting import quote
from tikguard.settings import Settings

DEMO_ROUTERS = 3
#: The cut's revert window (device seconds): the demo waits it out until the router
#: reverts; it holds the /import dry-run the preflight measures with room to spare.
CUT_WINDOW = 240.0
#: Quotes, ``$``, brackets, ``;`` and non-ASCII pass every step unchanged.
DEMO_COMMENT = 'change "42": $5 [ok]; grüße'


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)


def demo(
    time_scale: Annotated[
        float, typer.Option("--time-scale", help="Device seconds per real second (both sides).")
    ] = 40.0,
    routers: Annotated[int, typer.Option(help="Simulated routers to start.")] = DEMO_ROUTERS,
    ros_version: Annotated[str, typer.Option(help="RouterOS version to simulate.")] = "7.16",
) -> None:
    """Run the guarded-push demo on simulated routers (committed, reverted, restored)."""
    if time_scale <= 0:
        fail("--time-scale must be positive")
    if routers < 2:
        fail("the demo needs at least 2 routers")
    try:
        base = Settings.from_env()
    except ValueError as exc:
        fail(str(exc), "fix the TIKGUARD_* environment variable it names")
    run_dir = base.data_dir / f"demo-{datetime.now(UTC):%Y%m%d-%H%M%S}"
    wall = 10.0  # network limits in real seconds, whatever the clock scale
    settings = base.with_(
        data_dir=run_dir,
        database_url="",
        system_database_url="",
        time_scale=time_scale,
        engine_polling_interval=0.1,
        connect_timeout=wall * time_scale,
        command_timeout=wall * time_scale,
        backup_timeout=2 * wall * time_scale,
        # room to verify and commit in real time on a busy machine (30 s); a committed
        # push never waits it out, and the cut below has a window of its own
        push_window=3 * wall * time_scale,
        push_settle=10.0,
        push_boot_wait=120.0,
    )
    started = time.monotonic()
    rows = asyncio.run(_run(settings, routers, ros_version))
    _summary(rows, time.monotonic() - started, run_dir)
    if any(r["outcome"] != r["expected"] for r in rows):
        raise typer.Exit(2)


async def _run(settings: Settings, count: int, version: str) -> list[dict[str, Any]]:
    from tikguard.commands.push import _follow
    from tikguard.ops import push as push_ops
    from tikguard.ops import runtime
    from tikguard.ops.backup import Origin, backup
    from tikguard.ops.devices import default_tenant_id
    from tikguard.sim.fleet import SimFleet
    from tikguard.store import devices as store_devices
    from tikguard.store.db import Database

    step = _Stepper()
    step(
        "starting", f"{count} simulated RouterOS {version} routers (time x{settings.time_scale:g})"
    )
    async with SimFleet(
        count, version=version, time_scale=settings.time_scale, state_dir=settings.data_dir / "sim"
    ) as fleet:
        db = Database.open(settings)
        try:
            tenant_id = default_tenant_id(db)

            def add(session: Any) -> None:
                for dev in fleet:
                    store_devices.add_device(
                        session,
                        tenant_id,
                        name=dev.name,
                        host=dev.host,
                        port=dev.port,
                        username=dev.username,
                        password=dev.password,
                        tags=["demo"],
                    )

            await db.run_async(add)
            step("inventory", ", ".join(f"{d.name} {d.host}:{d.port}" for d in fleet))
            results = await backup(db, settings, tenant_id, origin=Origin("demo"))
            for r in results:
                step("backup", f"{r.device}: {r.status.value} (version {r.version})")
            if not all(r.ok for r in results):
                fail("the first backup failed; the simulator is not answering as expected")

            ctx = Context(settings, db, tenant_id)
            rows: list[dict[str, Any]] = []
            async with runtime.running(settings):
                names = [d.name for d in fleet]
                good = push_ops.PushRequest(
                    names,
                    script="/ip dns\nset servers=9.9.9.9\n/ip firewall address-list\n"
                    f"add list=tikguard-demo address=192.0.2.0/24 comment={quote(DEMO_COMMENT)}\n",
                    requested_by="demo",
                )
                rows += await _push(ctx, "good change to every router", good, "committed", _follow)

                victim = fleet[1]
                cut = push_ops.PushRequest(
                    [victim.name],
                    script=f'/ip address\nremove [ find address~"^{victim.host}/" ]\n',
                    window=CUT_WINDOW,
                    requested_by="demo",
                )
                rows += await _push(ctx, "remove the management address", cut, "reverted", _follow)

                back = push_ops.PushRequest(
                    [fleet[0].name], mode="restore", version=1, requested_by="demo"
                )
                rows += await _push(ctx, "restore version 1", back, "committed", _follow)
            return rows
        finally:
            db.dispose()


async def _push(
    ctx: Context, title: str, req: Any, expected: str, follow: Any
) -> list[dict[str, Any]]:
    from tikguard.ops import push as push_ops

    rule(f"{title} (expect {expected})")
    subs = await push_ops.submit(ctx.db, ctx.settings, ctx.tenant_id, req)
    ops = await follow(ctx, [s.op_id for s in subs])
    out = []
    for sub, op in zip(subs, ops, strict=True):
        ev = op.evidence
        out.append(
            {
                "title": title,
                "device": sub.device,
                "expected": expected,
                "outcome": op.outcome,
                "reason": ev.get("reason", ""),
                "rebooted": ev.get("rebooted"),
                "timer": ev.get("timer_present"),
                "hashes": _hashes(op.outcome, ev),
                "op": op.id,
            }
        )
    return out


def _hashes(outcome: str | None, ev: dict[str, Any]) -> str:
    """What the final read-back config is, in the outcome's terms (hash of the read-back).

    ``committed`` is decided on the config read back equal to the target (converged),
    ``reverted`` on its hash equal to the pre-push one; anything else shows both hashes.
    """
    pre, after = ev.get("pre_hash"), ev.get("after_hash")
    if not after:
        return "not read back"
    if outcome == "committed" and ev.get("converged") is True:
        return f"== target ({after[:8]})"
    if after == pre:
        return f"== pre-push ({after[:8]})"
    return f"{after[:8]} (pre-push {pre[:8] if pre else 'unknown'})"


class _Stepper:
    def __init__(self) -> None:
        self.t0 = time.monotonic()

    def __call__(self, stage: str, message: str) -> None:
        err_console.print(
            f"[dim]{time.monotonic() - self.t0:5.1f}s[/] [cyan]{stage}[/] {message}",
            highlight=False,
        )


def _evidence(r: dict[str, Any]) -> str:
    rebooted = {True: "yes", False: "no"}.get(r["rebooted"], "unknown")
    timer = {True: "armed", False: "gone"}.get(r["timer"], "unknown")
    return f"rebooted {rebooted}, timer {timer}, config {r['hashes']}"


def _summary(rows: list[dict[str, Any]], seconds: float, run_dir: Path) -> None:
    styles = {"committed": "bold green", "reverted": "bold yellow"}
    table = Table(title=f"tikguard demo: {seconds:.0f} s on the embedded default")
    for col in ("#", "change", "router", "outcome", "evidence (read from the router)"):
        table.add_column(col)
    for i, r in enumerate(rows, 1):
        outcome = r["outcome"] or "?"
        mark = "" if outcome == r["expected"] else f" (expected {r['expected']})"
        table.add_row(
            str(i),
            r["title"],
            r["device"],
            f"[{styles.get(outcome, 'bold red')}]{outcome}[/]{mark}",
            _evidence(r),
        )
    console.print(table)
    for i, r in enumerate(rows, 1):
        first = str(r["reason"]).splitlines()[0] if r["reason"] else ""
        console.print(
            labelled(f"{i}.", "dim", f"{r['device']} {r['op'][:12]}: {first}"), highlight=False
        )
    console.print(
        f"data: {run_dir}  (every stage: TIKGUARD_DATA_DIR={run_dir} tikguard ops show OP)",
        highlight=False,
    )
