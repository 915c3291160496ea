"""Check a script's syntax locally, before anything reaches a router.

Why: ``/import`` refuses a script with a syntax error as a whole, but only a router
on 7.16+ can be asked first (``dry-run``); on older ones the error would surface in
the real import, after the revert timer is armed. This check catches what needs no
router to decide, and says where, as RouterOS does (line and column in the file):

* a continuation at the very end, an unterminated quote, an unknown escape;
* an unbalanced ``{ }``, ``[ ]`` or ``( )``;
* a menu or command name no RouterOS has, or a prefix that names several
  (:mod:`tikguard.routeros.commands`, e.g. ``/ip adress add``).

It is deliberately no stricter than that: argument names and values, and everything
in a word with ``$`` or ``[`` in it, are left to the router (its dry-run import and
the import itself), so a script RouterOS accepts is never refused here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType

from tikguard.routeros.commands import Ambiguous, CommandTree, MenuNode, Unknown, command_tree
from tikguard.routeros.errors import ParseError
from tikguard.routeros.lexer import LogicalLine, clean_lines, logical_lines, split_words

__all__ = ["check_script"]

_PAIRS = MappingProxyType({"}": "{", "]": "[", ")": "("})


@dataclass
class _Scan:
    """Where the scan stands across lines: the open ``{`` blocks and the menu path of
    each block level (a bare path line changes the menu of what follows it)."""

    blocks: list[tuple[LogicalLine, int]] = field(default_factory=list)
    paths: list[str] = field(default_factory=lambda: [""])


def check_script(text: str, source: str = "script") -> None:
    """Raise :class:`ParseError` (``source:line:column: what``) at the first syntax error."""
    try:
        _check(text, command_tree())
    except ParseError as exc:
        raise exc.located(source) from None


def _check(text: str, tree: CommandTree) -> None:
    scan = _Scan()
    for logical in logical_lines(clean_lines(text)):
        for start, end in _statements(logical, scan):
            _check_statement(logical, start, end, scan, tree)
    if scan.blocks:
        logical, offset = scan.blocks[-1]
        raise logical.error("{ is never closed (expected })", offset)


def _statements(logical: LogicalLine, scan: _Scan) -> list[tuple[int, int]]:
    """The ``(start, end)`` offsets of the commands on one logical line: split at ``;``,
    ``{`` and ``}`` (blocks may span lines), never inside quotes, ``[ ]`` or ``( )``
    (substitutions and expressions, which must close on the same line)."""
    text = logical.text
    out: list[tuple[int, int]] = []
    nest: list[tuple[str, int]] = []  # brackets opened on this line inside a command
    start = 0
    quote_at = -1
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\":
            i += 2
            continue
        if quote_at >= 0:
            quote_at = -1 if ch == '"' else quote_at
        elif ch == '"':
            quote_at = i
        elif ch in "[({" and (nest or ch != "{"):
            nest.append((ch, i))
        elif ch in "])}" and (nest or ch != "}"):
            if not nest or nest[-1][0] != _PAIRS[ch]:
                raise logical.error(f"{ch} closes nothing that is open", i)
            nest.pop()
        elif ch == "#" and not text[start:i].strip():
            out.append((start, i))
            start = len(text)  # a comment: the rest of the line
            break
        elif ch in "{};":
            out.append((start, i))
            start = i + 1
            if ch == "{":
                scan.blocks.append((logical, i))
                scan.paths.append(scan.paths[-1])
            elif ch == "}":
                if not scan.blocks:
                    raise logical.error("} closes nothing that is open", i)
                scan.blocks.pop()
                scan.paths.pop()
        i += 1
    if quote_at >= 0:
        raise logical.error(
            "unterminated quoted string",
            quote_at,
            hint='every " must be closed on the same logical line',
        )
    if nest:
        char, at = nest[-1]
        closing = {v: k for k, v in _PAIRS.items()}[char]
        raise logical.error(f"{char} is never closed on its line (expected {closing})", at)
    out.append((start, len(text)))
    return [(s, e) for s, e in out if text[s:e].strip()]


def _check_statement(
    logical: LogicalLine, start: int, end: int, scan: _Scan, tree: CommandTree
) -> None:
    """Resolve the menus and the command a statement names, as the console does."""
    body = logical.text[start:end]
    lead = len(body) - len(body.lstrip())
    line = logical.position(start + lead)[0]
    piece = LogicalLine(body.strip(), line, tuple(_shift(logical, start + lead)))
    words = split_words(piece)
    if not words or words[0].kind != "word":
        return
    first = words[0].raw
    if first.startswith(":"):
        _resolve(piece, tree.menu(""), first[1:], words[0].offset + 1)
        return
    path = "" if first.startswith("/") else scan.paths[-1]
    for index, word in enumerate(words):
        if word.kind != "word" or "$" in word.raw or "[" in word.raw or "(" in word.raw:
            return
        raw = word.raw
        if raw.startswith("/") and index > 0:
            return
        offset = word.offset
        for part in raw.split("/"):
            if not part:
                offset += 1
                continue
            if part == "..":
                path = path.rsplit(" ", 1)[0] if " " in path else ""
                offset += len(part) + 1
                continue
            node = tree.menu(path)
            if node is None:
                return  # a menu the tree knows only by name: the router decides
            kind, name = _resolve(piece, node, part, offset)
            if kind == "command":
                return
            path = f"{path} {name}" if path else f"/{name}"
            offset += len(part) + 1
    scan.paths[-1] = path  # a bare path line changes the menu of what follows


def _shift(logical: LogicalLine, at: int) -> list[tuple[int, int, int]]:
    """``logical``'s segments re-based to start at offset ``at``."""
    out: list[tuple[int, int, int]] = []
    for offset, line, column in logical.segments:
        if offset <= at:
            out = [(0, line, column + (at - offset))]
        else:
            out.append((offset - at, line, column))
    return out


def _resolve(piece: LogicalLine, node: MenuNode | None, word: str, offset: int) -> tuple[str, str]:
    if node is None:
        return "command", word
    try:
        return node.resolve(word)
    except Unknown:
        raise piece.error(f"bad command name {word}", offset) from None
    except Ambiguous as exc:
        shown = ", ".join(exc.candidates[:5])
        raise piece.error(f"ambiguous command name {word} (could be {shown})", offset) from None
