"""The rows of a line diff for the diff page (presentation only): side by side for wide
screens, unified for narrow ones, with the changed words of a changed line marked.

Equal runs longer than twice the context are folded into one "N unchanged lines"
row, so a one-line change in a 2,000-line export fits on a screen.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field

#: A span of a line: its text and whether it changed.
Span = tuple[str, bool]

#: Words for the word diff: runs of spaces, ``=``/quotes/commas alone, and what lies
#: between, so ``servers=9.9.9.9`` changes in its value, not as one word.
_TOKEN = re.compile(r"\s+|[=\",]|[^\s=\",]+")


def tokens(line: str) -> list[str]:
    """``line`` cut into words; joined, they give ``line`` back."""
    return _TOKEN.findall(line)


def _merge(spans: list[Span]) -> list[Span]:
    out: list[Span] = []
    for text, changed in spans:
        if out and out[-1][1] == changed:
            out[-1] = (out[-1][0] + text, changed)
        elif text:
            out.append((text, changed))
    return out


def word_spans(old: str, new: str) -> tuple[list[Span], list[Span]]:
    """The two lines as spans, the words only one side has marked changed. Joining a
    side's span texts gives that line back (tested with hypothesis)."""
    a, b = tokens(old), tokens(new)
    left: list[Span] = []
    right: list[Span] = []
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        same = tag == "equal"
        left.extend((t, not same) for t in a[i1:i2])
        right.extend((t, not same) for t in b[j1:j2])
    return _merge(left), _merge(right)


def _plain(text: str) -> list[Span]:
    return [(text, False)] if text else []


@dataclass(frozen=True)
class Row:
    kind: str  # equal | delete | insert | replace | fold
    left_no: int | None
    left: str
    right_no: int | None
    right: str
    left_spans: list[Span] = field(default_factory=list)
    right_spans: list[Span] = field(default_factory=list)


@dataclass(frozen=True)
class Line:
    """One line of the unified view: ``sign`` is ``-``, ``+``, `` `` or ``~`` (fold)."""

    sign: str
    old_no: int | None
    new_no: int | None
    spans: list[Span]


def _row(kind: str, a: list[str], b: list[str], li: int | None, ri: int | None) -> Row:
    left = a[li] if li is not None else ""
    right = b[ri] if ri is not None else ""
    if kind == "replace":
        ls, rs = word_spans(left, right)
    else:
        ls, rs = _plain(left), _plain(right)
    return Row(
        kind,
        li + 1 if li is not None else None,
        left,
        ri + 1 if ri is not None else None,
        right,
        ls,
        rs,
    )


def side_by_side(old: str, new: str, context: int = 3) -> list[Row]:
    a, b = old.splitlines(), new.splitlines()
    rows: list[Row] = []
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            n = i2 - i1
            keep = range(n)
            if n > 2 * context + 1:
                head = context if rows else 0
                tail = context if i2 < len(a) or j2 < len(b) else 0
                rows.extend(_row("equal", a, b, i1 + k, j1 + k) for k in range(head))
                rows.append(Row("fold", None, f"{n - head - tail} unchanged lines", None, ""))
                keep = range(n - tail, n)
            rows.extend(_row("equal", a, b, i1 + k, j1 + k) for k in keep)
            continue
        left = list(range(i1, i2))
        right = list(range(j1, j2))
        for k in range(max(len(left), len(right))):
            li = left[k] if k < len(left) else None
            ri = right[k] if k < len(right) else None
            kind = "replace" if li is not None and ri is not None else "delete"
            if li is None:
                kind = "insert"
            rows.append(_row(kind, a, b, li, ri))
    return rows


def unified(rows: list[Row]) -> list[Line]:
    """The side-by-side rows as a unified diff: each run of changed rows shows its old
    lines, then its new lines, each with its word marks."""
    out: list[Line] = []
    removed: list[Line] = []
    added: list[Line] = []

    def flush() -> None:
        out.extend(removed)
        out.extend(added)
        removed.clear()
        added.clear()

    for r in rows:
        if r.kind == "fold":
            flush()
            out.append(Line("~", None, None, [(r.left, False)]))
        elif r.kind == "equal":
            flush()
            out.append(Line(" ", r.left_no, r.right_no, r.left_spans))
        else:
            if r.left_no is not None:
                removed.append(Line("-", r.left_no, None, r.left_spans))
            if r.right_no is not None:
                added.append(Line("+", None, r.right_no, r.right_spans))
    flush()
    return out


def gutter(rows: list[Row]) -> int:
    """The line-number gutter's width in characters: the widest number, at least 2."""
    widest = max((n for r in rows for n in (r.left_no, r.right_no) if n is not None), default=0)
    return max(2, len(str(widest)))
