"""How a push's steps are recorded by DBOS, and time inside the workflow.

A step's body returns a typed result (:mod:`tikguard.ops.push.results`); DBOS records
its JSON form with every text redacted like stored configs (an import's verbose echo, a
device error quoting a command: DBOS keeps it in its system database), and the
workflow gets the typed result back, on the first run and on a replay alike.
``script_enc`` (ciphertext) is kept as it is.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Awaitable, Callable
from typing import ParamSpec, TypeVar

from dbos import DBOS

from tikguard.ops.push.results import Recordable
from tikguard.routeros.secrets import redact_data

_P = ParamSpec("_P")
_R = TypeVar("_R", bound=Recordable)

#: Fields a recorded answer keeps as they are (ciphertext, never text to redact).
_KEPT = ("script_enc",)


def step(
    name: str, result: type[_R]
) -> Callable[[Callable[_P, Awaitable[_R]]], Callable[_P, Awaitable[_R]]]:
    """A recorded step named ``name`` (the name recovery finds it by) whose answer is a
    ``result``; the decorated function is the step's body."""

    def wrap(body: Callable[_P, Awaitable[_R]]) -> Callable[_P, Awaitable[_R]]:
        async def as_json(*args: _P.args, **kwargs: _P.kwargs) -> dict[str, object]:
            out = (await body(*args, **kwargs)).to_json()
            kept = {k: v for k, v in out.items() if k in _KEPT}
            cleaned = redact_data({k: v for k, v in out.items() if k not in kept})
            assert isinstance(cleaned, dict)
            return {**cleaned, **kept}

        as_json.__name__ = as_json.__qualname__ = f"{body.__name__}_recorded"
        as_json.__module__ = body.__module__
        recorded = DBOS.step(name=name)(as_json)

        @functools.wraps(body)
        async def typed(*args: _P.args, **kwargs: _P.kwargs) -> _R:
            return result.from_json(await recorded(*args, **kwargs))

        return typed

    return wrap


# -- time inside the workflow ------------------------------------------------------
# Workflow code must take the same branches when DBOS replays it after a crash, so it
# never reads the clock itself: it asks a step (whose answer is recorded).


@DBOS.step(name="tikguard.push.clock")
async def clock() -> float:
    """The controller's wall clock, recorded (replays return the first answer)."""
    return time.time()


async def durable_sleep(seconds: float) -> None:
    """``DBOS.sleep_async`` that is always recorded: DBOS skips (and does not record) a
    sleep of zero, which would shift every later step on a replay."""
    await DBOS.sleep_async(max(seconds, 0.001))
