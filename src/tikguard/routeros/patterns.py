"""Regular expressions an operator types, bounded in size and in time.

Patterns come from users (``rollout --match``, ``tikguard search``, compliance rules),
so one that backtracks without end must not stall the controller: a pattern is at most
:data:`MAX_PATTERN` characters, compiled with the ``regex`` module (the standard ``re``
has no timeout and holds the GIL), and every search runs under a time limit. One module
so every caller refuses the same things with the same words.
"""

from __future__ import annotations

import time
from typing import Final

import regex

#: Longest pattern accepted.
MAX_PATTERN: Final = 200
#: Time limit of one search over one router's configuration (seconds).
SEARCH_SECONDS: Final = 0.25


class PatternError(ValueError):
    """A pattern refused: too long, not a regular expression, or too slow."""


def compile_bounded(pattern: str, what: str, flags: int = regex.MULTILINE) -> regex.Pattern[str]:
    """``pattern`` compiled (multi-line by default: ``^``/``$`` match at each line);
    ``what`` names it in errors (``--match``, ``the query``)."""
    if len(pattern) > MAX_PATTERN:
        raise PatternError(f"{what} is longer than {MAX_PATTERN} characters")
    try:
        return regex.compile(pattern, flags)
    except regex.error as exc:
        raise PatternError(f"{what} {pattern!r} is not a regular expression: {exc}") from None


def _too_slow(what: str, seconds: float, where: str) -> PatternError:
    return PatternError(
        f"{what} took longer than {seconds:g} s on {where}: "
        "simplify the pattern (nested repetition backtracks without end)"
    )


def search_bounded(
    pattern: regex.Pattern[str],
    text: str,
    what: str,
    where: str,
    seconds: float = SEARCH_SECONDS,
) -> regex.Match[str] | None:
    """``pattern.search(text)`` within ``seconds``; a slower search is an error."""
    try:
        return pattern.search(text, timeout=seconds)
    except TimeoutError:
        raise _too_slow(what, seconds, where) from None


class Budget:
    """One time limit shared by many searches (a query over thousands of lines): each
    search gets what is left, so the whole query ends in bounded time."""

    def __init__(self, what: str, seconds: float) -> None:
        self.what = what
        self.seconds = seconds
        self._end = time.monotonic() + seconds

    def left(self) -> float:
        """Seconds left (an error when none are)."""
        left = self._end - time.monotonic()
        if left <= 0:
            raise self.exceeded()
        return left

    def exceeded(self) -> PatternError:
        return _too_slow(self.what, self.seconds, "the fleet's configurations")
