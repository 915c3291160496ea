"""Side-by-side rows of a line diff, for the device page (presentation only).

Equal runs longer than twice the context are folded into one "N unchanged lines"
row, so a one-line change in a 2,000-line export fits on a screen.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass


@dataclass(frozen=True)
class Row:
    kind: str  # equal | delete | insert | replace | fold
    left_no: int | None
    left: str
    right_no: int | None
    right: str


def side_by_side(old: str, new: str, context: int = 3) -> list[Row]:
    a, b = old.splitlines(), new.splitlines()
    rows: list[Row] = []
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            n = i2 - i1
            if n > 2 * context + 1:
                head = context if rows else 0
                tail = context if i2 < len(a) or j2 < len(b) else 0
                for k in range(head):
                    rows.append(Row("equal", i1 + k + 1, a[i1 + k], j1 + k + 1, b[j1 + k]))
                rows.append(Row("fold", None, f"{n - head - tail} unchanged lines", None, ""))
                for k in range(n - tail, n):
                    rows.append(Row("equal", i1 + k + 1, a[i1 + k], j1 + k + 1, b[j1 + k]))
            else:
                for k in range(n):
                    rows.append(Row("equal", i1 + k + 1, a[i1 + k], j1 + k + 1, b[j1 + k]))
            continue
        left = list(range(i1, i2))
        right = list(range(j1, j2))
        for k in range(max(len(left), len(right))):
            li = left[k] if k < len(left) else None
            ri = right[k] if k < len(right) else None
            kind = (
                "replace"
                if li is not None and ri is not None
                else ("delete" if ri is None else "insert")
            )
            rows.append(
                Row(
                    kind,
                    li + 1 if li is not None else None,
                    a[li] if li is not None else "",
                    ri + 1 if ri is not None else None,
                    b[ri] if ri is not None else "",
                )
            )
    return rows
