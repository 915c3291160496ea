"""Shared CLI rendering: one console, one way to fail with a clear message.

Text that comes from data (names, reasons, router output) is never parsed as Rich
markup: a ``[`` in a reason must print as itself, not crash the command. Build such
output with :func:`cell` / :class:`rich.text.Text`.
"""

from __future__ import annotations

import os
import re
from typing import Annotated, Any, Final, NoReturn

import typer
from rich.console import Console, ConsoleDimensions
from rich.text import Text

#: The ``--json`` option of listing and show commands (shapes as the API's responses).
JsonOut = Annotated[bool, typer.Option("--json", help="Print JSON, shaped as the API's answer.")]

#: Width of output that goes to a pipe or file (no ``COLUMNS`` set): wide enough that a
#: table row is never wrapped into two lines a script would read as two rows.
PIPE_WIDTH = 4096


class _Console(Console):
    """A console that wraps only on a terminal: piped output keeps one line per row."""

    @property
    def size(self) -> ConsoleDimensions:
        if not self.is_terminal and not os.environ.get("COLUMNS", "").isdigit():
            return ConsoleDimensions(PIPE_WIDTH, 25)
        return super().size

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        self._width, self._height = new_size


console = _Console()
err_console = _Console(stderr=True)


def cell(value: object, style: str = "") -> Text:
    """A table cell or line part from data, never read as markup."""
    return Text("" if value is None else str(value), style=style)


def labelled(label: str, style: str, text: object) -> Text:
    """A styled label followed by data (a name, a reason, router text): the data is
    never read as markup, so a ``[#21 -> #2]`` or ``[ find ... ]`` prints as itself."""
    return Text.assemble((label, style), " ", cell(text))


def rule(title: str) -> None:
    """A heading line: Rich's rule on a terminal, a short plain line in a pipe."""
    if console.is_terminal:
        console.rule(Text(title))
    else:
        console.print(Text(f"--- {title} ---"), soft_wrap=True)


def print_json(doc: Any) -> None:
    """A command's ``--json`` output: one JSON document on stdout, serialised as the API
    serialises its answers (datetimes ISO 8601 with ``Z``)."""
    from pydantic_core import to_json

    typer.echo(to_json(doc, indent=2).decode())


#: C0 controls but newline and tab, DEL and C1 controls: what a terminal would obey.
_CONTROLS: Final = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """``text`` with control characters (an ESC from a hostile file or router name) shown
    as ``\\x1b`` escapes: a terminal prints them instead of obeying them."""
    return _CONTROLS.sub(lambda m: f"\\x{ord(m.group(0)):02x}", text)


def fail(message: str, hint: str | None = None, code: int = 1) -> NoReturn:
    """Print an error (and what to do next) and exit; never a traceback for user errors.

    Never wrapped to the terminal width: a message names files as ``path:line:col``,
    which editors and scripts read back, and a wrap could split the path. The message
    and hint are text, not markup (they quote names and values), control characters
    shown as escapes."""
    err_console.print(
        Text.assemble(("error:", "bold red"), " ", printable(message)),
        highlight=False,
        soft_wrap=True,
    )
    if hint:
        err_console.print(
            Text.assemble(("hint:", "yellow"), " ", printable(hint)),
            highlight=False,
            soft_wrap=True,
        )
    raise typer.Exit(code)
