"""Shared CLI rendering: one console, one way to fail with a clear message."""

from __future__ import annotations

import re
from typing import Final, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

console = Console()
err_console = Console(stderr=True)


#: C0 controls but newline and tab, DEL and C1 controls: what a terminal would obey.
_CONTROLS: Final = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """``text`` with control characters (an ESC from a hostile file or router name) shown
    as ``\\x1b`` escapes: a terminal prints them instead of obeying them."""
    return _CONTROLS.sub(lambda m: f"\\x{ord(m.group(0)):02x}", text)


def fail(message: str, hint: str | None = None, code: int = 1) -> NoReturn:
    """Print an error (and what to do next) and exit; never a traceback for user errors.

    Never wrapped to the terminal width: a message names files as ``path:line:col``,
    which editors and scripts read back, and a wrap could split the path."""
    shown = escape(printable(message))
    err_console.print(f"[bold red]error:[/] {shown}", highlight=False, soft_wrap=True)
    if hint:
        err_console.print(
            f"[yellow]hint:[/] {escape(printable(hint))}", highlight=False, soft_wrap=True
        )
    raise typer.Exit(code)
