"""Shared CLI rendering: one console, one way to fail with a clear message."""

from __future__ import annotations

from typing import NoReturn

import typer
from rich.console import Console

console = Console()
err_console = Console(stderr=True)


def fail(message: str, hint: str | None = None, code: int = 1) -> NoReturn:
    """Print an error (and what to do next) and exit; never a traceback for user errors."""
    err_console.print(f"[bold red]error:[/] {message}", highlight=False)
    if hint:
        err_console.print(f"[yellow]hint:[/] {hint}", highlight=False)
    raise typer.Exit(code)
