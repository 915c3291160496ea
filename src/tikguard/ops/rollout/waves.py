"""Canary, waves and the halt policy, as pure functions of counts.

``--canary N`` routers first (default 1), then ``--waves 5,25%,100%``: each step is the
number of routers changed *by the end of that wave*, as a count or a percentage of all
routers, so ``10%,100%`` means "a tenth, then the rest". The last wave always reaches
every router.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from tikguard.store.errors import InvalidInput

#: The waves when none are given: the canary, then everything.
DEFAULT_WAVES = ("100%",)


def parse_waves(spec: str | Sequence[str] | None) -> list[str]:
    """``"5,25%,100%"`` -> ``["5", "25%", "100%"]`` (checked)."""
    if spec is None:
        return list(DEFAULT_WAVES)
    items = spec.split(",") if isinstance(spec, str) else list(spec)
    out: list[str] = []
    for raw in items:
        item = raw.strip()
        if not item:
            continue
        number = item[:-1] if item.endswith("%") else item
        try:
            value = float(number)
        except ValueError:
            raise InvalidInput(f"wave {item!r} is not a count or a percentage") from None
        if (
            value <= 0
            or (item.endswith("%") and value > 100)
            or (not item.endswith("%") and value != int(value))
        ):
            raise InvalidInput(f"wave {item!r}: a whole count above 0, or a percentage 0-100")
        out.append(item)
    if not out:
        raise InvalidInput("--waves needs at least one count or percentage")
    return out


def wave_sizes(total: int, canary: int, waves: Sequence[str]) -> list[int]:
    """How many routers each wave changes (canary first); empty waves are dropped."""
    if canary < 0:
        raise InvalidInput("--canary must be 0 or more")
    sizes: list[int] = []
    done = min(canary, total)
    if done:
        sizes.append(done)
    for item in waves:
        reach = math.ceil(total * float(item[:-1]) / 100) if item.endswith("%") else int(item)
        reach = min(total, reach)
        if reach > done:
            sizes.append(reach - done)
            done = reach
    if done < total:
        sizes.append(total - done)
    return sizes


@dataclass(frozen=True)
class HaltPolicy:
    """How many outcomes other than ``committed`` a rollout tolerates (default none)."""

    max_failures: int = 0
    max_failure_percent: float | None = None

    def allowed(self, total: int) -> int:
        """Failures tolerated among ``total`` routers: the looser of the two limits."""
        by_percent = 0
        if self.max_failure_percent is not None:
            by_percent = math.floor(total * self.max_failure_percent / 100)
        return max(self.max_failures, by_percent)

    def halts(self, failures: int, total: int) -> bool:
        return failures > self.allowed(total)

    def check(self) -> None:
        if self.max_failures < 0:
            raise InvalidInput("--max-failures must be 0 or more")
        if self.max_failure_percent is not None and not 0 <= self.max_failure_percent <= 100:
            raise InvalidInput("--max-failure-percent must be 0-100")


def parse_duration(text: str | None) -> float:
    """``"10m"``, ``"90s"``, ``"1h"``, ``"30"`` -> seconds."""
    if not text:
        return 0.0
    units = {"s": 1.0, "m": 60.0, "h": 3600.0}
    value = text.strip().lower()
    factor = units.get(value[-1:])
    number = value[:-1] if factor is not None else value
    try:
        seconds = float(number) * (factor or 1.0)
    except ValueError:
        raise InvalidInput(f"duration {text!r}: write 90s, 10m or 1h") from None
    if seconds < 0 or not math.isfinite(seconds):
        raise InvalidInput(f"duration {text!r} must be 0 or more")
    return seconds
