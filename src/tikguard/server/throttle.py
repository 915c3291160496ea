"""Login throttling that slows guessing without locking anyone out.

Failures are counted per (username, address) pair, and more loosely per address
(one address spraying many usernames) and per username (many addresses guessing one).
The first failures of a counter are free; each further one doubles the wait before
the next attempt it covers is looked at (1 s, 2 s, 4 s, ... at most ``max_wait``).
Attempts during a wait are refused without being counted, so a guesser gets one guess
per wait while the waits never grow past ``max_wait``: a correct password always gets
in after at most that long, whoever else shares the address (a NAT) or the username.
A success clears the pair; a counter is forgotten ``forget`` seconds after its last
failure. In memory, per server process (argon2 already makes each guess cost).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from threading import Lock


@dataclass
class _Counter:
    failures: int = 0
    last: float = 0.0
    #: No attempt this counter covers is looked at before this time.
    until: float = 0.0


class LoginThrottle:
    def __init__(
        self,
        *,
        free: int = 5,
        free_per_address: int = 30,
        free_per_user: int = 50,
        max_wait: float = 300.0,
        forget: float = 900.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.free = {"pair": free, "addr": free_per_address, "user": free_per_user}
        self.max_wait = max_wait
        self.forget = forget
        self.clock = clock
        self._counters: dict[tuple[str, str], _Counter] = {}
        self._lock = Lock()

    @staticmethod
    def _keys(username: str, address: str) -> list[tuple[str, str]]:
        return [("pair", f"{username}\0{address}"), ("addr", address), ("user", username)]

    def _get(self, key: tuple[str, str], now: float) -> _Counter | None:
        counter = self._counters.get(key)
        if counter is not None and now - counter.last > self.forget:
            del self._counters[key]
            return None
        return counter

    def retry_after(self, username: str, address: str) -> int:
        """Whole seconds to wait before this attempt is looked at (0: go ahead)."""
        now = self.clock()
        with self._lock:
            waits = [
                c.until - now
                for key in self._keys(username, address)
                if (c := self._get(key, now)) is not None
            ]
        wait = max(waits, default=0.0)
        return int(wait) + 1 if wait > 0 else 0

    def failed(self, username: str, address: str) -> None:
        now = self.clock()
        with self._lock:
            if len(self._counters) > 100_000:  # bounded memory under a spray of names
                self._counters.clear()
            for key in self._keys(username, address):
                counter = self._get(key, now) or self._counters.setdefault(key, _Counter())
                counter.failures += 1
                counter.last = now
                over = counter.failures - self.free[key[0]]
                if over > 0:
                    counter.until = now + min(self.max_wait, 2.0 ** (over - 1))

    def succeeded(self, username: str, address: str) -> None:
        with self._lock:
            self._counters.pop(("pair", f"{username}\0{address}"), None)
