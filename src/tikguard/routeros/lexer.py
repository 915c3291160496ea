"""RouterOS console lexing: physical lines to logical lines, logical lines to words.

Shared by the export parser and the simulator's console, so both read RouterOS text
the same way.

* :func:`clean_lines` undoes what the transport adds (CRLF, ANSI colour codes,
  trailing spaces).
* :func:`logical_lines` joins backslash continuations. RouterOS wraps anywhere, also
  inside a word or a quoted string; the continuation's leading indentation is not part
  of the text (a space that must survive at the start of a continuation is written
  ``\\_``).
* :func:`split_words` splits one logical command line into :class:`Word` s.
* :func:`decode_value` turns a quoted or bare literal into its value.

Non-ASCII bytes: RouterOS writes every byte >= 0x80 inside a quoted string as ``\\XX``
(upper-case hex). The bytes are decoded as UTF-8 with Python's ``surrogateescape``
handler (PEP 383): valid UTF-8 (7.x Cyrillic comments) becomes real characters, other
bytes (CP1251 on 6.x, binary junk) become lone surrogates U+DC80..U+DCFF. Encoding
back with the same handler gives the original bytes, so a round trip is exact whatever
code page the device used; :func:`tikguard.routeros.quoting.quote` does that.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final, NamedTuple

from tikguard.routeros.errors import ParseError

_ANSI: Final = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Za-z0-9]|\x1b[=>]")

#: Every repetition below is possessive (``++``, ``*+``): with nested repetition a
#: missing closing quote would otherwise make the regex engine backtrack exponentially
#: (a 40-character tail took minutes).
_QUOTED: Final = re.compile(r'"((?:[^"\\]++|\\.)*+)"', re.DOTALL)
_ESCAPE: Final = re.compile(r"\\(?:([0-9A-F]{2})|(.))", re.DOTALL)
_SIMPLE_ESCAPES: Final = MappingProxyType(
    {
        '"': '"',
        "\\": "\\",
        "$": "$",
        "?": "?",
        "_": " ",
        "n": "\n",
        "r": "\r",
        "t": "\t",
        "a": "\a",
        "b": "\b",
        "f": "\f",
        "v": "\v",
    }
)
_KEY: Final = re.compile(r"!?[^\s=\"\[\]!\\][^\s=\"\[\]\\]*")
#: A whole word that may be ``key=value`` or ``!key`` (a plain word when neither).
_PROP_WORD: Final = re.compile(r"(!?)([^\s=\"\[\]!\\][^\s=\"\[\]\\]*)(?:=(.*))?\Z", re.DOTALL)
#: One token: ``[``, ``]``, a word, or a stray character that cannot start a word.
_TOKEN: Final = re.compile(
    r'[ \t]*(?:(\[)|(\])|((?:[^\s"\[\]\\]++|"(?:[^"\\]++|\\.)*+"|\\.)++)|(\S))', re.DOTALL
)


def clean_lines(text: str) -> list[str]:
    """Physical lines without line endings, ANSI escape codes or trailing whitespace.

    Accepts LF, CRLF, lone CR and mixed line endings (a sed-edited export can mix them).
    """
    while "\x1b" in text:
        # Removing one code can join an ESC to what followed it into another
        # (``ESC ESC = =``): repeat until none is left, so cleaning is idempotent.
        stripped = _ANSI.sub("", text)
        if stripped == text:
            break
        text = stripped
    return [line.rstrip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]


@dataclass(frozen=True, slots=True)
class LogicalLine:
    """One command as RouterOS reads it, after joining continuations.

    ``segments`` maps offsets in :attr:`text` back to physical positions: each entry is
    ``(offset in text, physical line number (1-based), column of that text in the
    physical line (0-based))``.
    """

    text: str
    line: int
    segments: tuple[tuple[int, int, int], ...]

    def position(self, offset: int) -> tuple[int, int]:
        """The physical (line, column), both 1-based, of ``offset`` in :attr:`text`."""
        seg = self.segments[0]
        for candidate in self.segments:
            if candidate[0] > offset:
                break
            seg = candidate
        return seg[1], seg[2] + (offset - seg[0]) + 1

    def error(self, message: str, offset: int = 0, hint: str | None = None) -> ParseError:
        line, column = self.position(offset)
        return ParseError(message, line=line, column=column, hint=hint)


def _continues(line: str) -> bool:
    """A line ending in an odd number of backslashes continues on the next line."""
    if not line.endswith("\\"):
        return False
    stripped = line.rstrip("\\")
    return (len(line) - len(stripped)) % 2 == 1


def logical_lines(
    lines: list[str], first_line: int = 1, numbers: list[int] | None = None
) -> list[LogicalLine]:
    """Join backslash-continued physical lines (already cleaned) into logical lines.

    ``first_line`` is the physical number of ``lines[0]``; ``numbers``, when given,
    is the physical number of every line instead (for input with lines left out). A
    continuation at the very end of the input is an error: the command was cut off.
    """
    out: list[LogicalLine] = []
    parts: list[str] = []
    segments: list[tuple[int, int, int]] = []
    length = 0
    start = 0
    for index, line in enumerate(lines):
        number = numbers[index] if numbers is not None else index + first_line
        column = 0
        if parts:
            body = line.lstrip(" \t")
            column = len(line) - len(body)
        else:
            body = line
            start = number
        if _continues(body):
            segments.append((length, number, column))
            parts.append(body[:-1])
            length += len(body) - 1
            continue
        if parts:
            segments.append((length, number, column))
            parts.append(body)
            out.append(LogicalLine("".join(parts), start, tuple(segments)))
            parts = []
            segments = []
            length = 0
        else:
            out.append(LogicalLine(body, number, ((0, number, 0),)))
    if parts:
        last = LogicalLine("".join(parts), start, tuple(segments))
        raise last.error(
            "input ends inside a backslash-continued line",
            length,
            hint="the export looks truncated; fetch it again",
        )
    return out


class Word(NamedTuple):
    """One word of a command line.

    ``kind`` is ``"prop"`` (``key=value``), ``"unset"`` (``!key``), ``"open"`` /
    ``"close"`` (a standalone ``[`` / ``]``) or ``"word"`` (anything else: a verb, a
    reference such as ``*0``, ``find``). ``value`` is decoded (``"prop"`` and
    ``"word"``); ``raw`` is the source text and ``offset`` its 0-based position in the
    logical line.
    """

    kind: str
    key: str | None
    value: str | None
    raw: str
    offset: int


def _unescape_match(match: re.Match[str]) -> str:
    if match.group(1) is not None:
        return chr(int(match.group(1), 16))
    char = match.group(2)
    try:
        return _SIMPLE_ESCAPES[char]
    except KeyError:
        raise ValueError(char) from None


def _decode_bytes(inner: str) -> str:
    """Decode escapes where ``\\XX`` stands for a raw byte (see module notes)."""
    out = bytearray()
    pos = 0
    for match in _ESCAPE.finditer(inner):
        out += inner[pos : match.start()].encode("utf-8", "surrogateescape")
        if match.group(1) is not None:
            out.append(int(match.group(1), 16))
        else:
            out += _unescape_match(match).encode("utf-8", "surrogateescape")
        pos = match.end()
    out += inner[pos:].encode("utf-8", "surrogateescape")
    return out.decode("utf-8", "surrogateescape")


def unescape(inner: str) -> str:
    """Decode the escapes of a quoted string's inside (without the quotes).

    Raises ``ValueError`` naming the character after an unknown ``\\``.
    """
    if "\\" not in inner:
        return inner
    for match in _ESCAPE.finditer(inner):
        if match.group(1) is not None and int(match.group(1), 16) >= 0x80:
            return _decode_bytes(inner)
    return _ESCAPE.sub(_unescape_match, inner)


def decode_value(literal: str) -> str:
    """The value of one literal: bare (``ether1``), quoted (``"a b"``) or a mix.

    Bare characters are taken as they are; quoted segments are unescaped. Raises
    ``ValueError`` for an unterminated quote or an unknown escape.
    """
    if '"' not in literal and "\\" not in literal:
        return literal
    whole = _QUOTED.fullmatch(literal)
    if whole:
        return unescape(whole.group(1))
    parts: list[str] = []
    pos = 0
    for match in _QUOTED.finditer(literal):
        parts.append(literal[pos : match.start()])
        parts.append(match.group(1))
        pos = match.end()
    if '"' in literal[pos:]:
        raise ValueError('"')
    parts.append(literal[pos:])
    # One decoding pass over the joined parts, so bytes written as \XX across parts
    # still join into one UTF-8 sequence.
    return unescape("".join(parts))


def split_words(line: LogicalLine | str) -> list[Word]:
    """Split one logical command line into words, decoding every value.

    Raises :class:`ParseError` (with the physical position when given a
    :class:`LogicalLine`) for an unterminated quote or an unknown escape.
    """
    logical = line if isinstance(line, LogicalLine) else LogicalLine(line, 1, ((0, 1, 0),))
    text = logical.text
    words: list[Word] = []
    append = words.append
    find = text.find
    pos = 0
    # findall (tuples, no match objects) is the hot path of parsing; a token's offset is
    # where it next occurs, since only blanks separate it from the previous one.
    for opening, closing, raw, stray in _TOKEN.findall(text):
        if raw:
            pos = find(raw, pos)
            equals = raw.find("=")
            if equals > 0 and raw[0] != "!" and '"' not in raw and "\\" not in raw:
                append(Word("prop", raw[:equals], raw[equals + 1 :], raw, pos))
            else:
                append(_word(raw, pos, logical))
            pos += len(raw)
        elif opening or closing:
            pos = find(opening or closing, pos)
            append(Word("open" if opening else "close", None, None, opening or closing, pos))
            pos += 1
        else:
            pos = find(stray, pos)
            if stray == "\\":
                raise logical.error("a lone backslash at the end of the line", pos)
            raise logical.error(
                "unterminated quoted string",
                pos,
                hint='every " must be closed on the same logical line',
            )
    return words


def _word(raw: str, offset: int, logical: LogicalLine) -> Word:
    match = _PROP_WORD.match(raw)
    try:
        if match is not None:
            value = match.group(3)
            if value is not None:
                if match.group(1):
                    return Word("word", None, decode_value(raw), raw, offset)
                if '"' in value or "\\" in value:
                    value = decode_value(value)
                return Word("prop", match.group(2), value, raw, offset)
            if match.group(1):
                return Word("unset", match.group(2), None, raw, offset)
            return Word("word", None, raw, raw, offset)
        return Word("word", None, decode_value(raw), raw, offset)
    except ValueError as exc:
        char = str(exc)
        if char == '"':
            raise logical.error("unterminated quoted string", offset) from None
        at = raw.find("\\" + char)
        raise logical.error(
            f"unknown escape sequence \\{char}",
            offset + max(at, 0),
            hint='RouterOS escapes are \\" \\\\ \\$ \\? \\_ \\n \\r \\t \\a \\b \\f \\v and '
            "\\XX (upper-case hex)",
        ) from None
