"""The push timeline is drawn from the events alone: the window from the armed event's
deadline, the margin from its commit-by time, and a verdict on the commit's time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tikguard.ops.operations import EventInfo, OperationInfo
from tikguard.web.timeline import draw, lanes

T0 = datetime(2026, 5, 1, 12, 0, 0, tzinfo=UTC)


def op(kind: str = "push", outcome: str | None = "committed") -> OperationInfo:
    return OperationInfo(
        "op1", 1, "r1", kind, "done", outcome, "user:x", {"window": 120}, {}, None, T0, T0, None
    )


def event(n: int, second: float, stage: str, **data: Any) -> EventInfo:
    return EventInfo(n, T0 + timedelta(seconds=second), stage, "info", stage, data)


def pushed(commit_at: float) -> list[EventInfo]:
    deadline = (T0 + timedelta(seconds=130)).timestamp()
    return [
        event(1, 0, "preflight"),
        event(2, 10, "armed", deadline=deadline, commit_by=deadline - 30),
        event(3, 15, "apply"),
        event(4, commit_at, "commit"),
    ]


def test_a_commit_before_the_margin() -> None:
    t = draw(op(), pushed(commit_at=40), time_scale=1.0)
    assert t is not None
    assert t.window == (7.69, 92.31) and t.margin == (76.92, 23.08)
    assert t.commit is not None and t.commit.x == 30.77
    assert t.verdict == "committed 60 s before the safety margin" and t.verdict_level == "ok"
    assert [m.n for m in t.marks] == [1, 2, 3, 4]


def test_a_commit_after_the_margin_is_flagged() -> None:
    t = draw(op(), pushed(commit_at=110), time_scale=1.0)
    assert t is not None and t.verdict_level == "late" and "10 s after" in t.verdict


def test_device_seconds_under_a_time_scale() -> None:
    t = draw(op(), pushed(commit_at=40), time_scale=50.0)
    assert t is not None and t.marks[1].offset == 500.0


def test_no_timer_no_window_and_backups_have_no_timeline() -> None:
    failed = draw(op(outcome="failed"), [event(1, 0, "preflight")], 1.0)
    assert failed is not None and failed.window is None and failed.verdict_level == "none"
    assert draw(op(kind="backup"), [event(1, 0, "backup")], 1.0) is None
    assert draw(op(), [], 1.0) is None


def test_rollout_lanes_in_wave_order() -> None:
    def ran(op_id: str, start: float, end: float | None, outcome: str | None) -> OperationInfo:
        return OperationInfo(
            op_id,
            1,
            op_id,
            "push",
            "done" if end else "running",
            outcome,
            None,
            {},
            {},
            None,
            T0,
            T0 + timedelta(seconds=start),
            T0 + timedelta(seconds=end) if end is not None else None,
        )

    ops = [ran("a", 0, 20, "committed"), ran("b", 30, 50, "reverted"), ran("c", 30, None, None)]
    targets = [("r3", 1, "c"), ("r2", 1, "b"), ("r1", 0, "a"), ("r4", None, "gone")]
    drawn = lanes(T0, targets, ops, now=T0 + timedelta(seconds=100))
    assert drawn is not None and drawn.more == 0
    assert [(x.name, x.x, x.width, x.outcome) for x in drawn.lanes] == [
        ("r1", 0.0, 20.0, "committed"),
        ("r2", 30.0, 20.0, "reverted"),
        ("r3", 30.0, 70.0, None),  # still running: drawn up to now
    ]
    assert lanes(T0, [("r1", 0, "none")], ops, now=T0) is None
