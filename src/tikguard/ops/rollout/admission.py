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

    def observe(self, in_flight: int, armed_to_end: float) -> None:
        """A push that ran with ``in_flight`` pushes in flight took ``armed_to_end`` s
        from arming to its outcome."""
        in_flight = max(1, in_flight)
        self.samples.append((in_flight, armed_to_end))
        del self.samples[:-20]
        if armed_to_end > self.target * self.budget:
            self.limit = max(1, min(self.limit, in_flight) // 2)
            return
        # the worst recent time per push in flight, scaled to the target
        per_push = max(t / n for n, t in self.samples[-max(4, self.limit) :])
        fits = int(self.target * self.budget / per_push) if per_push > 0 else self.cap
        base = max(self.limit, in_flight)
        grown = 2 * base if base < 4 else base + 1
        self.limit = max(1, min(self.cap, grown, fits))

    def room(self, in_flight: int) -> int:
        """How many more pushes may start now."""
        return max(0, self.limit - in_flight)

    def as_json(self) -> dict[str, object]:
        return {
            "limit": self.limit,
            "budget_s": round(self.budget, 3),
            "samples": len(self.samples),
        }
