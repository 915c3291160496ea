"""Write a Config back as RouterOS export text: compact (wrapped) or terse.

The layout follows RouterOS's own ``/export`` so that a parsed export serialises to the
same bytes (see ``tests/routeros/test_corpus.py`` for the figure on the corpus):

* compact: a ``/menu path`` line, then one command per logical line, wrapped at the
  terminal width (80 by default) with ``\\`` continuations indented by four spaces;
* terse: ``/menu path verb ...`` on every line, not wrapped;
* in both, a quoted string breaks before every newline it contains (``\\r\\`` then
  ``\\n...`` on the next line), as RouterOS prints script sources.

Wrapping, as observed on RouterOS 5.7 to 7.21: words are placed greedily; a property
is two pieces, ``key=`` and its value, so a value that does not fit goes to the next
line alone (``advertise=\\`` / ``    10M-half,...``). A value too long for any line is
quoted and split inside the quotes at the last column (a space that would start a
continuation line is written ``\\_``).

:func:`header_lines` writes the export's header (date line in the version's format,
software id, model, serial number), for the simulator's ``/export``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from tikguard.routeros.model import Command, Config, ExportMeta, Menu, Prop
from tikguard.routeros.quoting import quote

INDENT: Final = "    "
FRESH = 3
VALUE_SLACK = 3
KEY_SLACK = 3
WORD_SLACK = 3
SPLIT = 2
LAST_SLACK = 3
_ATOM: Final = re.compile(r"\\(?:[0-9A-F]{2}|.)|.", re.DOTALL)
_MONTHS: Final = (
    "jan",
    "feb",
    "mar",
    "apr",
    "may",
    "jun",
    "jul",
    "aug",
    "sep",
    "oct",
    "nov",
    "dec",
)


def version_tuple(version: str | None) -> tuple[int, ...]:
    """``"7.13.4"`` -> ``(7, 13, 4)``; unknown or odd versions sort as 0."""
    if not version:
        return (0,)
    out: list[int] = []
    for part in re.split(r"[.]", version):
        digits = re.match(r"\d+", part)
        out.append(int(digits.group()) if digits else 0)
    return tuple(out)


def format_export_date(when: datetime, version: str | None) -> str:
    """The header's date and time as the given RouterOS version prints them.

    7.10 and later: ``2024-02-09 08:47:35``; earlier: ``sep/25/2018 10:10:52``.
    """
    if version_tuple(version) >= (7, 10):
        return when.strftime("%Y-%m-%d %H:%M:%S")
    return f"{_MONTHS[when.month - 1]}/{when.day:02d}/{when.year} {when.strftime('%H:%M:%S')}"


def header_lines(meta: ExportMeta, *, include_date: bool = True) -> list[str]:
    """The comment header RouterOS prints before an export.

    Uses ``meta.header`` verbatim when the config was parsed from text (exact
    reproduction); otherwise builds it the way RouterOS does: the date line, ``#
    software id = ...`` (``# system id`` on 7.17+ CHR, where ``system_id`` is set), a
    bare ``#``, then ``# model`` and ``# serial number`` on RouterBOARDs. An empty id is
    printed with RouterOS's trailing space (``# software id = ``).
    """
    lines: list[str] = []
    if include_date and meta.exported_at is not None:
        lines.append(f"# {meta.exported_at} by RouterOS {meta.ros_version or ''}".rstrip())
    if meta.header is not None:
        lines.extend(meta.header)
        return lines
    if meta.system_id is not None:
        lines.append(f"# system id = {meta.system_id}")
    elif meta.software_id is not None:
        lines.append(f"# software id = {meta.software_id}")
    if meta.system_id is not None or meta.software_id is not None:
        lines.append("#")
    if meta.model is not None:
        lines.append(f"# model = {meta.model}")
    if meta.serial_number is not None:
        lines.append(f"# serial number = {meta.serial_number}")
    return lines


@dataclass(frozen=True, slots=True)
class _Piece:
    sep: str  # " " before a word, "" between key= and its value
    text: str
    value: bool  # a property value (may be split inside quotes when long)


def _uses_shorthand(meta: ExportMeta, dotted_shorthand: bool | None) -> bool:
    if dotted_shorthand is not None:
        return dotted_shorthand
    if meta.dotted_shorthand is not None:
        return meta.dotted_shorthand
    return version_tuple(meta.ros_version) >= (7,)


def _prop_pieces(props: tuple[Prop, ...], shorthand: bool, width: int | None) -> Iterator[_Piece]:
    prefix: str | None = None
    limit = None if width is None else width - len(INDENT) - 2
    for prop in props:
        key = prop.key
        dot = key.rfind(".")
        own_prefix = key[:dot] if dot > 0 else None
        if shorthand and own_prefix is not None and own_prefix == prefix and prop.value is not None:
            key = key[dot:]
        prefix = own_prefix
        if prop.value is None:
            yield _Piece(" ", "!" + key, False)
            continue
        if prop.flag:
            yield _Piece(" ", key, False)
            continue
        literal = quote(prop.value)
        if limit is not None and len(literal) > limit and not literal.startswith('"'):
            literal = quote(prop.value, always=True)
        yield _Piece(" ", key + "=", False)
        yield _Piece("", literal, True)


def command_pieces(
    command: Command, *, shorthand: bool = False, width: int | None = None
) -> list[_Piece]:
    """The words of one command, in order, as wrap-able pieces."""
    pieces = [_Piece("", command.verb, False)]
    selector = command.selector
    if selector is not None:
        if selector.find is not None:
            pieces.append(_Piece(" ", "[", False))
            pieces.append(_Piece(" ", "find", False))
            for prop in selector.find:
                pieces.append(_Piece(" ", f"{prop.key}={quote(prop.value or '')}", False))
            pieces.append(_Piece(" ", "]", False))
        elif selector.ref is not None:
            ref = selector.ref
            # RouterOS 5.x prints an unresolvable reference as a bare "(unknown)".
            pieces.append(_Piece(" ", ref if ref == "(unknown)" else quote(ref), False))
    pieces.extend(_Piece(" ", quote(arg), False) for arg in command.args)
    pieces.extend(_prop_pieces(command.props, shorthand, width))
    return pieces


class _Wrapper:
    """Greedy RouterOS-style line filling for one command."""

    def __init__(self, width: int | None) -> None:
        self.width = width
        self.lines: list[str] = []
        self.current = ""

    def _break(self) -> None:
        self.lines.append(self.current + "\\")
        self.current = INDENT

    def _fits(self, extra: int, slack: int) -> bool:
        return self.width is None or len(self.current) + extra <= self.width - slack

    def add(self, piece: _Piece, last: bool = False) -> None:
        text = piece.text
        quoted_value = piece.value and text.startswith('"')
        if quoted_value and self.width is not None and len(INDENT) + len(text) > self.width - FRESH:
            # Too long for any line: start right here and split inside the quotes.
            self.current += piece.sep
            self._split_string(text)
            return
        slack = VALUE_SLACK if piece.value else (KEY_SLACK if text.endswith("=") else WORD_SLACK)
        if last:
            slack = LAST_SLACK
        if self.current.strip() and not self._fits(len(piece.sep) + len(text), slack):
            if piece.sep:
                self.current += piece.sep
            self._break()
            self._place(text, quoted_value)
            return
        self.current += piece.sep
        self._place(text, quoted_value)

    def _place(self, text: str, quoted_value: bool) -> None:
        if quoted_value and "\\n" in text:
            self._split_string(text)
        else:
            self.current += text

    def _split_string(self, text: str) -> None:
        width = self.width
        for match in _ATOM.finditer(text):
            atom = match.group()
            if atom == "\\n" and self.current.strip():
                self._break()
            if width is not None and len(self.current) + len(atom) > width - SPLIT:
                self._break()
                if atom == " ":
                    atom = "\\_"
            self.current += atom

    def finish(self) -> list[str]:
        self.lines.append(self.current)
        return self.lines


def wrap_command(
    command: Command,
    *,
    width: int | None = 80,
    prefix: str = "",
    shorthand: bool = False,
) -> list[str]:
    """One command as physical lines (``prefix`` is ``/path `` in terse output)."""
    wrapper = _Wrapper(width)
    wrapper.current = prefix
    pieces = command_pieces(command, shorthand=shorthand, width=width)
    for index, piece in enumerate(pieces):
        wrapper.add(piece, last=index == len(pieces) - 1)
    return wrapper.finish()


def _notes(command: Command) -> list[str]:
    return ["#" + note for note in command.notes]


def serialise_lines(
    config: Config,
    *,
    style: str = "compact",
    width: int | None = None,
    include_header: bool = True,
    include_date: bool = True,
    dotted_shorthand: bool | None = None,
) -> list[str]:
    """:func:`serialise` as a list of lines without line endings."""
    meta = config.meta
    shorthand = _uses_shorthand(meta, dotted_shorthand)
    lines = header_lines(meta, include_date=include_date) if include_header else []
    if style == "terse":
        for menu in config.menus:
            prefix = menu.path + " " if menu.path else ""
            for command in menu.commands:
                if command.notes:
                    # RouterOS prints a command with notes in the compact layout.
                    lines.extend([menu.path, *_notes(command)] if menu.path else _notes(command))
                    lines.extend(wrap_command(command, width=None, shorthand=shorthand))
                    continue
                lines.extend(wrap_command(command, width=None, prefix=prefix, shorthand=shorthand))
        return lines
    if style not in ("compact", "verbose"):
        raise ValueError(f"unknown export style {style!r}: use compact, verbose or terse")
    wrap: int | None = width if width is not None else meta.wrap_width
    if wrap is None:
        wrap = 80
    if wrap == 0:
        wrap = None
    for menu in config.menus:
        lines.extend(_menu_lines(menu, wrap, shorthand))
    return lines


def _menu_lines(menu: Menu, width: int | None, shorthand: bool) -> list[str]:
    lines = [menu.path] if menu.path else []
    for command in menu.commands:
        lines.extend(_notes(command))
        lines.extend(wrap_command(command, width=width, shorthand=shorthand))
    return lines


def serialise(
    config: Config,
    *,
    style: str | None = None,
    width: int | None = None,
    include_header: bool = True,
    include_date: bool = True,
    dotted_shorthand: bool | None = None,
    newline: str = "\n",
) -> str:
    """The export text of ``config``.

    ``style``: ``compact`` (default; also used for ``verbose``, whose extra properties
    are simply in the config) or ``terse``; None uses the style the config was parsed
    from. ``width``: wrap column for compact output (default: the width the config was
    parsed with, else 80). ``dotted_shorthand``: write ``.role=`` for consecutive
    properties sharing a dotted prefix (default: RouterOS 7 does, 6 does not).
    ``newline="\\r\\n"`` gives what an SSH session shows.
    """
    chosen = style or config.meta.style or "compact"
    lines = serialise_lines(
        config,
        style=chosen,
        width=width,
        include_header=include_header,
        include_date=include_date,
        dotted_shorthand=dotted_shorthand,
    )
    return newline.join(lines) + newline if lines else ""
