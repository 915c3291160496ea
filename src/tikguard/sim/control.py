"""Control statements of the console language, read before they run.

``:if (c) do={...} [else={...}]``, ``:foreach v in=X do={...}``, ``:for v from=A to=B
[step=S] do={...}``, ``:while (c) do={...}``, ``:do {...} [while=(c)]`` and ``:do {...}
on-error={...}``: :func:`parse_control` takes the statement's whole text (its blocks
included, see :func:`whole_block`) and returns the parts, or raises the syntax error
RouterOS would; the console runs them and ``/import`` checks them (and the commands in
their blocks) before anything applies.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from tikguard.sim.context import Pending
from tikguard.sim.errors import ConsoleError, syntax_error
from tikguard.sim.statements import Statement

__all__ = ["CONTINUATIONS", "Block", "Control", "is_control", "parse_control", "whole_block"]

#: A control statement's first word.
_CONTROL = re.compile(r":(if|foreach|for|while|do)(?=[\s{]|$)\s*")
#: What may follow a block: ``else={``, ``on-error={``, ``while=(``.
CONTINUATIONS = ("else=", "on-error=", "while=")


@dataclass(frozen=True, slots=True)
class Block:
    """A block's text and where it starts in the control statement's source."""

    text: str
    offset: int


@dataclass(frozen=True, slots=True)
class Control:
    kind: str  # if | foreach | for | while | do
    body: Block
    #: ``:if``/``:while`` condition, ``:do ... while=`` condition (without parentheses).
    condition: str | None = None
    #: ``else={...}`` of ``:if``, ``on-error={...}`` of ``:do``.
    other: Block | None = None
    #: The loop variable of ``:for``/``:foreach``.
    variable: str = ""
    #: ``in=``, ``from=``, ``to=``, ``step=`` as written.
    options: dict[str, str] = field(default_factory=dict)


def is_control(statement: Statement) -> bool:
    """Whether the statement runs blocks of its own (:meth:`Console.run_control`)."""
    return statement.kind == "cmd" and _CONTROL.match(statement.text) is not None


def parse_control(source: str) -> Control:
    m = _CONTROL.match(source)
    if m is None:
        raise syntax_error("syntax error", 1)
    kind = m.group(1)
    at = m.end()
    if kind == "do":
        return _parse_do(source, at)
    do_at = top_level(source, "do={", at)
    if do_at < 0:
        raise syntax_error("syntax error", len(source) + 1)
    body = _block(source, do_at + 3)
    head = source[at:do_at].strip()
    tail_at = body.offset + len(body.text) + 1
    if kind in ("if", "while"):
        if not (head.startswith("(") and head.endswith(")")):
            raise syntax_error("syntax error", at + 1)
        other = None
        tail = source[tail_at:].lstrip()
        if kind == "if" and tail.startswith("else={"):
            other = _block(source, len(source) - len(tail) + 5)
            tail_at = other.offset + len(other.text) + 1
        _end(source, tail_at)
        return Control(kind, body, condition=head[1:-1], other=other)
    _end(source, tail_at)
    words = head.split()
    if not words or "=" in words[0]:
        raise syntax_error("syntax error", at + 1)
    options: dict[str, str] = {}
    for word in _top_words(head[len(words[0]) :]):
        key, eq, value = word.partition("=")
        wanted = ("in",) if kind == "foreach" else ("from", "to", "step")
        if not eq or key not in wanted:
            raise syntax_error("expected end of command", at + head.find(word) + 1)
        options[key] = value
    if kind == "foreach" and "in" not in options:
        raise syntax_error("syntax error", at + 1)
    if kind == "for" and not {"from", "to"} <= set(options):
        raise syntax_error("syntax error", at + 1)
    return Control(kind, body, variable=words[0], options=options)


def _parse_do(source: str, at: int) -> Control:
    text = source[at:]
    start = at + (len(text) - len(text.lstrip()))
    if source.startswith("do={", start):
        start += 3
    if not source.startswith("{", start):
        raise syntax_error("syntax error", start + 1)
    body = _block(source, start)
    rest_at = body.offset + len(body.text) + 1
    rest = source[rest_at:].lstrip()
    rest_at = len(source) - len(rest)
    if rest.startswith("on-error={"):
        other = _block(source, rest_at + 9)
        _end(source, other.offset + len(other.text) + 1)
        return Control("do", body, other=other)
    if rest.startswith("while=("):
        close = closing(source, rest_at + 6, "(", ")")
        _end(source, close + 1)
        return Control("do", body, condition=source[rest_at + 7 : close])
    _end(source, rest_at)
    return Control("do", body)


def _block(source: str, brace: int) -> Block:
    """The block whose ``{`` is at ``brace``."""
    close = closing(source, brace, "{", "}")
    return Block(source[brace + 1 : close], brace + 1)


def _end(source: str, at: int) -> None:
    rest = source[at:]
    if rest.strip():
        raise syntax_error("expected end of command", at + len(rest) - len(rest.lstrip()) + 1)


def _top_words(text: str) -> list[str]:
    """Space-separated words outside quotes, brackets and parentheses."""
    words: list[str] = []
    depth = 0
    current: list[str] = []
    quoted = False
    for ch in text:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch in "([{":
            depth += 1
        elif not quoted and ch in ")]}":
            depth -= 1
        if ch.isspace() and not quoted and depth == 0:
            if current:
                words.append("".join(current))
                current = []
            continue
        current.append(ch)
    if current:
        words.append("".join(current))
    return words


def whole_block(first: Statement, rest: Pending) -> str:
    """The statement's text with following statements until its braces balance
    (an ``else={``, ``on-error={`` or ``while=(`` right after the closing brace
    belongs to it too)."""
    parts = [first.text]
    balance = _brace_balance(first.text)
    while True:
        if balance <= 0:
            nxt = rest.peek()
            if nxt is None or nxt.kind != "cmd" or not nxt.text.startswith(CONTINUATIONS):
                return "\n".join(parts)
            parts[-1] += " "  # "} else={" continues the statement
        step = next(rest, None)
        if step is None:
            raise ConsoleError("syntax error (expected closing brace)", syntax=True)
        text = "{" if step.kind == "open" else "}" if step.kind == "close" else step.text
        if text.startswith(CONTINUATIONS) and parts[-1].endswith(" "):
            parts[-1] += text
        else:
            parts.append(text)
        balance += _brace_balance(text)


def unquoted(text: str, start: int = 0) -> Iterator[tuple[int, str]]:
    """Each character outside double quotes, with its index; escaped characters skipped."""
    in_quote = False
    i = start
    while i < len(text):
        ch = text[i]
        if ch == "\\":
            i += 2
            continue
        if ch == '"':
            in_quote = not in_quote
        elif not in_quote:
            yield i, ch
        i += 1


def _brace_balance(text: str) -> int:
    return sum(1 if ch == "{" else -1 for _, ch in unquoted(text) if ch in "{}")


def top_level(text: str, needle: str, start: int = 0) -> int:
    """Index of ``needle`` outside quotes, brackets and parentheses (-1: none)."""
    depth = 0
    for i, ch in unquoted(text, start):
        if ch in "([{":
            if depth == 0 and text.startswith(needle, i):
                return i
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif depth == 0 and text.startswith(needle, i):
            return i
    return -1


def closing(text: str, start: int, opening: str, closer: str) -> int:
    """Index of the ``closer`` that matches the ``opening`` at ``start``."""
    depth = 0
    for i, ch in unquoted(text, start):
        if ch == opening:
            depth += 1
        elif ch == closer:
            depth -= 1
            if depth == 0:
                return i
    what = {"{": "brace", "(": "parenthesis", "[": "bracket"}[opening]
    raise syntax_error(f"expected closing {what}", start + 1)
