"""What this process keeps between calls, in one owner: :data:`STATE`.

A long-lived process (``tikguard serve``, a CLI command running the engine, a test)
keeps a few things beyond any one call: the engine DBOS runs in and the worker lock a
server reserved (``ops/runtime.py``), the database each settings open
(``store/db.py``), a running push's session and export (``ops/push/live.py``), the git
mirror's threads, a rollout's admission, the listeners and hooks modules register at
import. Each lives in one typed object that its module defines, and every such object
lives here and nowhere else: one place to see (:meth:`ProcessState.held`) what a
process holds, and ``tests/test_process_state.py`` fails on module-level mutable state
or a ``global`` anywhere else in the package.

This module sits below every layer: it knows none of the objects it holds; each owner
asks for its own by its class (:meth:`ProcessState.of`), made on first use.
"""

from __future__ import annotations

import threading
from typing import TypeVar

_T = TypeVar("_T")


class ProcessState:
    """The one owner of this process's state: one instance of each holder class."""

    def __init__(self) -> None:
        self._held: dict[type, object] = {}
        self._lock = threading.Lock()

    def of(self, holder: type[_T]) -> _T:
        """This process's ``holder`` (made with ``holder()`` on first use)."""
        found = self._held.get(holder)
        if found is None:
            with self._lock:
                found = self._held.get(holder)
                if found is None:
                    found = self._held[holder] = holder()
        assert isinstance(found, holder)
        return found

    def held(self) -> list[str]:
        """What this process holds, by holder (``module.Class``), for a reader."""
        return sorted(f"{cls.__module__}.{cls.__qualname__}" for cls in self._held)


#: The one owner (tests/test_process_state.py allows no other module-level state).
STATE = ProcessState()
