"""Health checks of a guarded push: a RouterOS command and a pattern its output must match.

The pattern is a user's input run on the controller, so it is bounded three ways:
checked when the push is submitted (a bad pattern is a 422 naming the error, not an
"internal error" mid-push), capped in size (pattern, number of checks, output looked
at), and matched with the ``regex`` engine's timeout in a worker thread
(``concurrent=True`` releases the GIL), so a pattern that backtracks exponentially
(``(a|aa)+$``) costs one check a few seconds, never the event loop of every tenant.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Final

import regex

#: Longest pattern accepted.
MAX_PATTERN: Final = 512
#: Longest command accepted.
MAX_COMMAND: Final = 1024
#: Most checks per push.
MAX_CHECKS: Final = 20
#: Characters of a command's output the pattern is matched against (the first ones).
MAX_OUTPUT: Final = 256 * 1024
#: Wall-clock seconds one match may take before the check fails.
MATCH_SECONDS: Final = 2.0


def problem(command: str, pattern: str) -> str | None:
    """Why a check cannot be accepted (None: it can)."""
    if not command.strip():
        return "a health check needs a command"
    if len(command) > MAX_COMMAND:
        return f"a health check command is limited to {MAX_COMMAND} characters"
    if len(pattern) > MAX_PATTERN:
        return f"a health check pattern is limited to {MAX_PATTERN} characters"
    try:
        regex.compile(pattern)
    except regex.error as exc:
        return f"health check pattern {pattern!r} is not a valid regular expression: {exc}"
    return None


def problems(checks: Sequence[tuple[str, str]]) -> list[str]:
    """Every reason the checks of one push cannot be accepted."""
    found = [f"at most {MAX_CHECKS} health checks"] if len(checks) > MAX_CHECKS else []
    return found + [p for c in checks if (p := problem(*c)) is not None]


def _search(pattern: str, output: str, seconds: float) -> bool | None:
    try:
        return (
            regex.search(pattern, output[:MAX_OUTPUT], timeout=seconds, concurrent=True) is not None
        )
    except TimeoutError:
        return None


async def matches(pattern: str, output: str, seconds: float = MATCH_SECONDS) -> bool | None:
    """Whether ``pattern`` matches ``output`` (its first :data:`MAX_OUTPUT` characters);
    None when the match took longer than ``seconds`` (off the event loop)."""
    return await asyncio.to_thread(_search, pattern, output, seconds)
