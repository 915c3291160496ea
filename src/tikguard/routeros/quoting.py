"""The one way a value becomes a RouterOS literal.

Every value that goes into a command, a script or an export passes through
:func:`quote`. It is the inverse of :func:`tikguard.routeros.lexer.decode_value`:
``decode_value(quote(v)) == v`` for every string ``v``.

Bare words: a value made only of characters RouterOS itself prints unquoted in exports
(letters, digits and ``! # % * + , - . / : < > @ ^ _ | ~``, as observed across the
corpus from 5.7 to 7.21) stays bare, so serialised exports match RouterOS byte for
byte. Everything else is quoted: the empty string, spaces, ``"``, ``\\``, ``$``, ``?``,
``;``, ``=``, brackets, braces, parentheses, quotes, control characters, non-ASCII.

Inside quotes ``"``, ``\\``, ``$`` and ``?`` are escaped, newline / carriage return /
tab become ``\\n`` / ``\\r`` / ``\\t``, other control characters and every byte of a
non-ASCII character's UTF-8 encoding become ``\\XX``, as RouterOS exports write them.
Lone surrogates from undecodable bytes (see :mod:`tikguard.routeros.lexer`) go back to
the original byte, so a CP1251 comment round-trips exactly.
"""

from __future__ import annotations

import re
from types import MappingProxyType
from typing import Final

_BARE: Final = re.compile(r"[0-9A-Za-z!#%*+,\-./:<>@^_|~]+")
_NEEDS_ESCAPE: Final = re.compile(r"[^ !#%&\'()*+,\-./0-9:;<=>@A-Z\[\]^_`a-z{|}~]")
_NAMED: Final = MappingProxyType(
    {
        '"': '\\"',
        "\\": "\\\\",
        "$": "\\$",
        "?": "\\?",
        "\n": "\\n",
        "\r": "\\r",
        "\t": "\\t",
    }
)


def _escape_char(match: re.Match[str]) -> str:
    char = match.group()
    named = _NAMED.get(char)
    if named is not None:
        return named
    return "".join(f"\\{byte:02X}" for byte in char.encode("utf-8", "surrogateescape"))


def is_bare(value: str) -> bool:
    """True when RouterOS prints ``value`` without quotes."""
    return _BARE.fullmatch(value) is not None


def quote(value: str, *, always: bool = False) -> str:
    """A RouterOS literal for ``value``: bare when RouterOS would print it bare, else quoted.

    ``always=True`` quotes even a bare-safe value (RouterOS does that for values too
    long to fit on one wrapped export line).
    """
    if not always and _BARE.fullmatch(value):
        return value
    return '"' + _NEEDS_ESCAPE.sub(_escape_char, value) + '"'
