"""A push's time at a glance, for the operation page: when each stage happened, when
the revert timer was armed, its window and deadline, the safety margin before the
deadline, and whether the commit came before that margin.

Everything comes from the operation's events (the ``armed`` event carries the deadline
and the commit-by time); the page draws it with CSS from the positions here (per cent
of the span), no script. Durations are shown in device seconds, like the window.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from tikguard.ops.operations import EventInfo, OperationInfo

_PUSH_KINDS = frozenset({"push", "restore", "replace"})


@dataclass(frozen=True)
class Mark:
    """One event on the bar: its number in the legend and where it sits (per cent)."""

    n: int
    stage: str
    level: str
    message: str
    at: datetime
    x: float
    #: Device seconds since the first event.
    offset: float


@dataclass(frozen=True)
class Timeline:
    start: datetime
    end: datetime
    marks: list[Mark]
    armed_at: datetime | None
    deadline: datetime | None
    commit_by: datetime | None
    #: The window (armed -> deadline) and the margin (commit-by -> deadline): (left, width) %.
    window: tuple[float, float] | None
    margin: tuple[float, float] | None
    commit: Mark | None
    #: One sentence: did the commit come before the margin?
    verdict: str
    #: ``ok`` (committed in time), ``late`` (after the margin) or ``none`` (no commit).
    verdict_level: str


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _epoch(value: object) -> datetime | None:
    if isinstance(value, int | float) and value > 0:
        return datetime.fromtimestamp(value, UTC)
    return None


def draw(op: OperationInfo, events: Sequence[EventInfo], time_scale: float) -> Timeline | None:
    """The timeline of a push, restore or replace with events; None for anything else."""
    if op.kind not in _PUSH_KINDS or not events:
        return None
    armed = next((e for e in events if e.stage == "armed"), None)
    deadline = _epoch(armed.data.get("deadline")) if armed else None
    commit_by = _epoch(armed.data.get("commit_by")) if armed else None
    start = _utc(events[0].at)
    end = max([_utc(e.at) for e in events] + ([deadline] if deadline else []))
    span = max((end - start).total_seconds(), 1e-6)

    def x(at: datetime) -> float:
        return round(min(100.0, max(0.0, (at - start).total_seconds() / span * 100)), 2)

    marks = [
        Mark(
            n,
            e.stage,
            e.level,
            e.message,
            _utc(e.at),
            x(_utc(e.at)),
            round((_utc(e.at) - start).total_seconds() * time_scale, 1),
        )
        for n, e in enumerate(events, 1)
    ]
    commit = next((m for m in marks if m.stage == "commit" and m.level != "error"), None)
    armed_at = _utc(armed.at) if armed else None
    window = margin = None
    if armed_at and deadline:
        window = (x(armed_at), round(x(deadline) - x(armed_at), 2))
    if commit_by and deadline:
        margin = (x(commit_by), round(x(deadline) - x(commit_by), 2))
    verdict, level = _verdict(op, armed_at, commit, commit_by, time_scale)
    return Timeline(
        start, end, marks, armed_at, deadline, commit_by, window, margin, commit, verdict, level
    )


def _verdict(
    op: OperationInfo,
    armed_at: datetime | None,
    commit: Mark | None,
    commit_by: datetime | None,
    time_scale: float,
) -> tuple[str, str]:
    if armed_at is None:
        return "no revert timer was armed: nothing was applied", "none"
    if commit is None and op.outcome is None:
        return "not committed yet: the router reverts at the deadline unless committed", "none"
    if commit is None:
        return f"not committed: {op.outcome}", "none"
    if commit_by is None:
        return "committed (the commit-by time was not recorded)", "ok"
    ahead = (commit_by - commit.at).total_seconds() * time_scale
    if ahead >= 0:
        return f"committed {ahead:.0f} s before the safety margin", "ok"
    return f"commit recorded {-ahead:.0f} s after the safety margin", "late"


@dataclass(frozen=True)
class Lane:
    """One router of a rollout: when its push ran, as (left, width) % of the rollout."""

    name: str
    wave: int | None
    op_id: str
    outcome: str | None
    x: float
    width: float
    started: datetime
    finished: datetime | None


@dataclass(frozen=True)
class Lanes:
    start: datetime
    end: datetime
    lanes: list[Lane]
    #: Routers with a push that are not drawn (only the first ``limit`` are).
    more: int


def lanes(
    start: datetime,
    targets: Sequence[tuple[str, int | None, str]],
    ops: Sequence[OperationInfo],
    now: datetime,
    limit: int = 200,
) -> Lanes | None:
    """A rollout's pushes on one time axis, one lane per router (``targets``: name,
    wave, operation id), in wave order: the canary, the soak and each wave at a
    glance. None before any push started."""
    by_id = {o.id: o for o in ops}
    rows = [(n, w, by_id[o]) for n, w, o in targets if o in by_id]
    if not rows:
        return None
    began = {o.id: _utc(o.started_at or o.created_at) for _, _, o in rows}
    start = min([_utc(start), *began.values()])
    ended = {o.id: _utc(o.finished_at) if o.finished_at else None for _, _, o in rows}
    end = max([e or _utc(now) for e in ended.values()] + list(began.values()))
    span = max((end - start).total_seconds(), 1e-6)

    def x(at: datetime) -> float:
        return round(min(100.0, max(0.0, (at - start).total_seconds() / span * 100)), 2)

    rows.sort(key=lambda r: (r[1] if r[1] is not None else 1 << 30, began[r[2].id], r[0]))
    drawn = [
        Lane(
            name,
            wave,
            op.id,
            op.outcome,
            x(began[op.id]),
            max(0.4, round(x(ended[op.id] or _utc(now)) - x(began[op.id]), 2)),
            began[op.id],
            ended[op.id],
        )
        for name, wave, op in rows[:limit]
    ]
    return Lanes(start, end, drawn, max(0, len(rows) - limit))
