"""Reading what a RouterOS console prints: clean text, error lines, ``print`` output.

RouterOS exits 0 from an SSH exec whether or not the command worked, so the only
reliable signal of failure is the text itself. :func:`find_error` knows the error
lines RouterOS prints (6.x and 7.x); :func:`parse_properties` reads the ``name: value``
form of singleton ``print`` output; :func:`parse_detail` reads ``print detail`` items.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Final

_ANSI: Final = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Za-z0-9]|\x1b[=>]")

#: Error lines RouterOS prints at the start of a line (case-sensitive, as printed).
_ERROR_LINE: Final = re.compile(
    r"^(?:"
    r"failure: .*"
    r"|syntax error.*"
    r"|expected end of command.*"
    r"|expected command name.*"
    r"|expected closing (?:brace|bracket|quote).*"
    r"|bad command name.*"
    r"|bad argument name.*"
    r"|no such item.*"
    r"|no such command.*"
    r"|input does not match.*"
    r"|invalid value.*"
    r"|invalid internal item number.*"
    r"|ambiguous (?:value|command name|argument).*"
    r"|missing value\(s\) of argument\(s\).*"
    r"|value of .+ (?:must|out of range|too long).*"
    r"|not enough permissions.*"
    r"|[Ss]cript [Ee]rror:.*"
    r"|action cancelled.*"
    r"|interrupted"
    r"|couldn't .*"
    r"|ERROR: .*"
    r")$",
    re.MULTILINE,
)


def clean_output(raw: bytes | str) -> str:
    """Console text with ``\\n`` line endings and no ANSI escape codes.

    Bytes that are not UTF-8 (a 6.x router printing CP1251) survive as lone
    surrogates, the same convention as :mod:`tikguard.routeros.lexer`.
    """
    text = raw.decode("utf-8", "surrogateescape") if isinstance(raw, bytes) else raw
    if "\x1b" in text:
        text = _ANSI.sub("", text)
    return text.replace("\r\n", "\n").replace("\r", "\n")


def find_error(text: str) -> str | None:
    """The first RouterOS error line in ``text`` (cleaned), or None when there is none."""
    match = _ERROR_LINE.search(text)
    return match.group(0).rstrip() if match else None


_PROPERTY_LINE: Final = re.compile(r"^\s*([a-z0-9][a-z0-9.\-]*): ?(.*?)\s*$")


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    return value


def parse_properties(text: str) -> dict[str, str]:
    """``name: value`` lines (``/system resource print``) as a dict.

    Leading indentation (spaces or tabs), surrounding quotes (5.x prints
    ``version: "5.0rc1"``) and a prompt echo line are tolerated; lines that are not
    ``name: value`` are ignored.
    """
    props: dict[str, str] = {}
    for line in clean_output(text).split("\n"):
        match = _PROPERTY_LINE.match(line)
        if match:
            props[match.group(1)] = _unquote(match.group(2))
    return props


_ITEM_START: Final = re.compile(r"^\s*(\d+)\s+((?:[A-Z] )*[A-Z]?)\s*(.*)$")
_DETAIL_PROP: Final = re.compile(r'([a-z0-9][a-z0-9.\-]*)=("(?:[^"\\]|\\.)*"|\S*)')


@dataclass
class DetailItem:
    """One item of ``print detail`` output: its number, flags, comment and properties."""

    number: int
    flags: str = ""
    comment: str | None = None
    props: dict[str, str] = field(default_factory=dict)


def parse_detail(text: str) -> list[DetailItem]:
    """Items of ``print detail`` output (``0 X ;;; comment`` then ``key=value`` lines)."""
    items: list[DetailItem] = []
    current: DetailItem | None = None
    for line in clean_output(text).split("\n"):
        if not line.strip() or line.startswith(("Flags:", "Columns:")):
            continue
        start = _ITEM_START.match(line)
        rest = line
        if start:
            current = DetailItem(number=int(start.group(1)), flags=start.group(2).replace(" ", ""))
            items.append(current)
            rest = start.group(3)
        if current is None:
            continue
        stripped = rest.strip()
        if stripped.startswith(";;;"):
            current.comment = stripped[3:].strip()
            continue
        for key, value in _DETAIL_PROP.findall(rest):
            current.props[key] = _unquote(value)
    return items
