"""The preflight of a guarded push: read the router (read-only), plan, and refuse.

One function serves the real push (its first recorded step) and ``push --dry-run``
(:func:`tikguard.ops.push.request.preview`), so a dry run refuses exactly what the
real push refuses, in the same words: a dry run that skipped a refusal would look clean
for a push that then fails. What needs no router (the request, the script's syntax
with line and column) is refused earlier, by
:func:`tikguard.ops.push.request.check_request`, for both alike.

The refusals, in the order they are checked (docs/push.md, "Preflight"):

* the login user's policies unreadable or missing one the push needs;
* ``/system device-mode`` forbidding the scheduler, or unreadable where it exists;
* less than 64 KiB free (no room for the revert point);
* a patch that cannot express the change (use replace);
* a timer of this operation already on the router;
* ``/import ... dry-run`` rejecting the script (7.16+; not for replace);
* a window too short for the import the dry-run measured.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Final, TypedDict

from tikguard.device import guard as dev
from tikguard.device.probe import DeviceFacts, probe
from tikguard.device.session import DeviceSession
from tikguard.ops.backup.snapshot import read_export
from tikguard.ops.push import boot
from tikguard.ops.push.context import margin, prepared_export
from tikguard.ops.push.live import Prepared
from tikguard.ops.push.plan import Plan, plan_merge, plan_replace, plan_restore
from tikguard.ops.push.results import ClockSource, ClockSourceKind, DryRunJson
from tikguard.settings import Settings

#: Less free storage than this leaves no room for the revert point.
MIN_FREE_BYTES: Final = 64 * 1024


@dataclass(frozen=True)
class DryRun:
    """What ``/import ... dry-run`` said of the script, and how long it took (wall s)."""

    ok: bool
    error: str | None
    line: int | None
    seconds: float

    def as_json(self) -> DryRunJson:
        return DryRunJson(ok=self.ok, error=self.error, line=self.line, seconds=self.seconds)

    def describe(self) -> str:
        if self.ok:
            return f"accepted ({self.seconds:.1f} s)"
        return f"rejected: {self.error}" + (f" (line {self.line})" if self.line else "")


class Facts(TypedDict):
    """What an operator sees of the router beside a dry run (no secrets)."""

    version: str
    board: str | None
    free_bytes: int | None
    flash: bool | None
    clock: str | None
    clock_source: ClockSourceKind
    scheduler_allowed: bool | None
    policies: list[str] | None
    import_dry_run: str | None
    refused: str | None


@dataclass(frozen=True)
class Preflight:
    """What the preflight read on one router, what it plans, and what it refuses."""

    facts: DeviceFacts
    running_hash: str
    #: The running export prepared for the history (the pre-push version is stored from it).
    prepared: Prepared
    plan: Plan
    on_flash: bool
    timer_present: bool
    clock_source: ClockSource
    dry_run: DryRun | None
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def reason(self) -> str:
        """The refusal as the operation records it (or that it passed)."""
        return "; ".join(self.problems) if self.problems else "preflight passed"

    def facts_json(self) -> Facts:
        """The facts an operator sees beside a dry run (no secrets)."""
        facts = self.facts
        return Facts(
            version=facts.version,
            board=facts.resource.board,
            free_bytes=facts.resource.free_bytes,
            flash=facts.has_flash,
            clock=facts.clock.isoformat() if facts.clock else None,
            clock_source=self.clock_source["source"],
            scheduler_allowed=facts.scheduler_allowed,
            policies=sorted(facts.policies) if facts.policies is not None else None,
            import_dry_run=None if self.dry_run is None else self.dry_run.describe(),
            refused=self.reason if self.problems else None,
        )


async def preflight(
    session: DeviceSession,
    settings: Settings,
    *,
    op_id: str,
    mode: str,
    target: str,
    window: float,
) -> Preflight:
    """Read the router over ``session`` and plan ``target`` (the restore's version text
    with its secrets, or the operator's script); writes no configuration (the dry-run's
    file is removed again). ``op_id`` names the on-device files and timers."""
    facts = await probe(session)
    raw = await read_export(session, settings, facts.version)
    running_hash, prepared, running = await asyncio.to_thread(prepared_export, raw)
    names = dev.Names(op_id, bool(facts.has_flash))
    timer = await boot.timers(session, names)
    clock_source = await boot.clock_source(session)
    plan = await asyncio.to_thread(plan_for, mode, running, target)
    problems = refusals(facts, plan, timer.present)
    dry: DryRun | None = None
    if not problems and facts.resource.version_tuple >= (7, 16) and mode != "replace":
        dry = await _dry_run(session, names, plan.script)
        if not dry.ok:
            problems.append(f"/import dry-run rejects the script: {dry.error}")
        problems += window_problems(window, settings, dry.seconds * settings.time_scale)
    return Preflight(
        facts=facts,
        running_hash=running_hash,
        prepared=prepared,
        plan=plan,
        on_flash=bool(facts.has_flash),
        timer_present=timer.present,
        clock_source=clock_source,
        dry_run=dry,
        problems=tuple(problems),
    )


def plan_for(mode: str, running: str, target: str) -> Plan:
    """The plan from the normalised running config (with secrets) to ``target``."""
    from tikguard.routeros.normalise import normalise

    if mode == "restore":
        return plan_restore(running, target)
    if mode == "merge":
        return plan_merge(running, target)
    return plan_replace(running, normalise(target))


def refusals(facts: DeviceFacts, plan: Plan, timer_present: bool) -> list[str]:
    """What the router's facts and the plan forbid (before the dry-run import)."""
    problems: list[str] = []
    if facts.policies is None:
        problems.append("the login user's policies could not be read")
    else:
        missing = [p for p in dev.REQUIRED_POLICIES if p not in facts.policies]
        if missing:
            problems.append(f"the login user lacks policies: {', '.join(missing)}")
    if facts.scheduler_allowed is False:
        problems.append("device-mode forbids the scheduler: refusing to push unguarded")
    elif facts.scheduler_allowed is None:
        problems.append("device-mode could not be read: cannot prove the scheduler will run")
    free = facts.resource.free_bytes
    if free is not None and free < MIN_FREE_BYTES:
        problems.append(f"only {free} bytes free: no room for the revert point")
    if plan.unsupported:
        problems.append(
            "the patch cannot express: " + "; ".join(plan.unsupported[:3]) + " (use replace)"
        )
    if timer_present:
        problems.append("a scheduler of this operation already exists")
    return problems


async def _dry_run(session: DeviceSession, names: dev.Names, script: str) -> DryRun:
    dry_file = f"{names.stem}-dry.rsc"
    await session.upload(dry_file, script.encode("utf-8"))
    started = time.monotonic()
    try:
        result = await dev.dry_run_import(session, dry_file)
    finally:
        took = time.monotonic() - started
        await dev.remove_file(session, dry_file)
    return DryRun(result.ok, result.error, result.line, took)


def window_problems(window: float, settings: Settings, import_seconds: float) -> list[str]:
    """The window must hold the import (as the dry-run measured it, twice over for the
    real one) plus settle and the margin; otherwise the router would revert a good
    change before tikguard could verify it."""
    need = 2 * import_seconds + settings.push_settle + margin(settings, window) + 10.0
    if window < need:
        return [
            f"the {window:g} s window is too short: the dry-run import took "
            f"{import_seconds:.0f} s, so at least {need:.0f} s are needed (--window)"
        ]
    return []
