"""Admission control: never arm more revert timers than the controller can finish.

A router's revert timer runs from the moment it is armed; the push must verify and
commit before ``deadline - margin``. How long that takes depends on how busy the
controller is: 100 pushes started at once on a 2-core machine at clock x20 left 60 of
them reverted "past deadline minus margin". So a rollout admits pushes gradually and
measures, for every push that ends, how long it took from arming to its outcome and how
many pushes were in flight meanwhile. The limit is the in-flight count at which that
time stays within half the budget (the other half is the safety margin), assuming the
time grows in proportion to the load (the pessimistic case: the controller's CPU is the
bottleneck). It doubles per measurement up to 4 (slow start), then grows by one per
measurement, and halves at once when a push came close to its budget.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Admission:
    """The in-flight limit of one rollout, from its own measurements (real seconds)."""

    #: Real seconds from arming to the commit deadline (window minus margin).
    budget: float
    #: Hard cap (the engine's push concurrency).
    cap: int
    limit: int = 1
    #: Fraction of the budget a push may use; the rest is the safety margin.
    target: float = 0.5
    samples: list[tuple[int, float]] = field(default_factory=list)
    #: Fraction of the budget a push alone may use before the rollout halts: no
    #: in-flight limit makes the window safe then.
    alone: float = 0.75
    #: Set when a push alone (nothing else in flight) used more than ``alone``.
    too_slow: float | None = None

    def observe(self, in_flight: int, armed_to_end: float) -> None:
        """A push that ran with ``in_flight`` pushes in flight took ``armed_to_end`` s
        from arming to its outcome."""
        in_flight = max(1, in_flight)
        self.samples.append((in_flight, armed_to_end))
        del self.samples[:-20]
        if in_flight == 1 and armed_to_end > self.alone * self.budget:
            self.too_slow = armed_to_end
        if armed_to_end > self.target * self.budget:
            self.limit = max(1, min(self.limit, in_flight) // 2)
            return
        # the worst recent time per push in flight, scaled to the target
        per_push = max(t / n for n, t in self.samples[-max(4, self.limit) :])
        fits = int(self.target * self.budget / per_push) if per_push > 0 else self.cap
        base = max(self.limit, in_flight)
        grown = 2 * base if base < 4 else base + 1
        self.limit = max(1, min(self.cap, grown, fits))

    def slow_reason(self) -> str | None:
        if self.too_slow is None:
            return None
        return (
            f"halted: a push alone took {self.too_slow:.1f} s from arming to its outcome, "
            f"more than {self.alone:.0%} of the {self.budget:.1f} s its window leaves before "
            "the margin (real time): this controller cannot keep the window's promise; "
            "start again with a longer --window"
        )

    def room(self, own: int, load: int = 0) -> int:
        """How many more pushes may start now, with ``own`` of this rollout in flight
        and ``load`` guarded pushes per worker in all (other rollouts, manual pushes).

        The limit applies to the whole load; a rollout with nothing in flight may always
        start one, so a push waiting for a manual confirm never stalls it.
        """
        room = self.limit - max(own, load)
        return max(room, 1 if own == 0 else 0)

    def as_json(self) -> dict[str, object]:
        return {
            "limit": self.limit,
            "budget_s": round(self.budget, 3),
            "samples": len(self.samples),
        }
