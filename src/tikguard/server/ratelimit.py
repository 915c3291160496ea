"""Per-tenant rate limits on what makes the controller reach out to an address.

Adding a device and probing one open connections from the controller's network
position; a tenant admin scripting them would scan. A token bucket per (tenant,
action): ``burst`` at once, then ``per_minute``; past it the answer is 429 with
``Retry-After``. In memory, per server process.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from threading import Lock
from types import MappingProxyType

from tikguard.server.errors import ApiError

#: action -> (burst, per minute)
LIMITS: Mapping[str, tuple[float, float]] = MappingProxyType(
    {
        "device.add": (20.0, 20.0),
        "device.probe": (20.0, 20.0),
    }
)


class RateLimits:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._buckets: dict[tuple[int, str], tuple[float, float]] = {}
        self._lock = Lock()

    def take(self, tenant_id: int, action: str) -> None:
        """Spend one token of the tenant's bucket for ``action`` or raise 429."""
        burst, per_minute = LIMITS[action]
        now = self.clock()
        with self._lock:
            tokens, at = self._buckets.get((tenant_id, action), (burst, now))
            tokens = min(burst, tokens + (now - at) * per_minute / 60.0)
            if tokens < 1.0:
                self._buckets[(tenant_id, action)] = (tokens, now)
                wait = int((1.0 - tokens) * 60.0 / per_minute) + 1
                raise ApiError(
                    429,
                    f"too many {action} requests for this tenant: try again in {wait} s",
                    f"at most {per_minute:g} a minute after a burst of {burst:g}",
                    headers={"Retry-After": str(wait)},
                )
            self._buckets[(tenant_id, action)] = (tokens - 1.0, now)
