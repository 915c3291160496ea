"""Console text to statements: lines, continuations, ``;``, ``{ }`` blocks, comments.

Each statement keeps where it came from, so errors can say ``(line L column C)`` in
the physical input, as RouterOS does for ``/import`` and the console.
"""

from __future__ import annotations

from dataclasses import dataclass

from tikguard.routeros.errors import ParseError
from tikguard.routeros.lexer import LogicalLine, clean_lines, logical_lines
from tikguard.sim.errors import ConsoleError


@dataclass(frozen=True, slots=True)
class Statement:
    """One command, or a block boundary (``kind`` ``open`` / ``close``)."""

    kind: str  # "cmd" | "open" | "close"
    text: str
    logical: LogicalLine
    start: int  # offset of ``text`` in ``logical.text``

    def position(self, offset: int = 0) -> tuple[int, int]:
        """Physical (line, column), 1-based, of ``offset`` within this statement."""
        return self.logical.position(self.start + offset)

    @property
    def line(self) -> int:
        return self.position(0)[0]


def split_statements(text: str) -> list[Statement]:
    """Split console text; raises a syntax :class:`ConsoleError` for unbalanced input."""
    try:
        logicals = logical_lines(clean_lines(text))
    except ParseError as exc:
        where = f"line {exc.line or 1} column {exc.column or 1}"
        raise ConsoleError(f"syntax error ({where})", syntax=True) from None
    out: list[Statement] = []
    for logical in logicals:
        out.extend(_split_line(logical))
    return out


def _split_line(logical: LogicalLine) -> list[Statement]:
    text = logical.text
    out: list[Statement] = []
    start = 0
    quote = False
    bracket = 0
    brace = 0  # braces inside a statement (``do={ ... }``)
    i = 0
    n = len(text)

    def flush(end: int) -> None:
        chunk = text[start:end]
        stripped = chunk.strip()
        if stripped:
            lead = len(chunk) - len(chunk.lstrip())
            out.append(Statement("cmd", stripped, logical, start + lead))

    while i < n:
        ch = text[i]
        if ch == "\\":
            i += 2
            continue
        if quote:
            if ch == '"':
                quote = False
            i += 1
            continue
        if ch == '"':
            quote = True
        elif ch == "[":
            bracket += 1
        elif ch == "]":
            bracket = max(0, bracket - 1)
        elif bracket == 0:
            pending = text[start:i].strip()
            if ch == "#" and not pending:
                start = n
                i = n
                break
            if ch == ";" and brace == 0:
                flush(i)
                start = i + 1
            elif ch == "{":
                if not pending:
                    out.append(Statement("open", "{", logical, i))
                    start = i + 1
                else:
                    brace += 1
            elif ch == "}":
                if brace > 0:
                    brace -= 1
                else:
                    flush(i)
                    out.append(Statement("close", "}", logical, i))
                    start = i + 1
        i += 1
    if quote:
        line, column = logical.position(n)
        raise ConsoleError(f"syntax error (line {line} column {column})", syntax=True)
    flush(n)
    return out
