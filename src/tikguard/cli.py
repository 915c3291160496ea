"""tikguard's command line.

The root Typer app. Each command group lives in its own module under
:mod:`tikguard.commands` and registers itself here, so this file stays a table of
contents. Commands are thin: they parse arguments, call the service layer (``ops``),
and render tables, progress bars and clear errors with Rich.
"""

from __future__ import annotations

import errno
import importlib
import sys
from typing import Annotated

import typer

app = typer.Typer(
    name="tikguard",
    help="Safe change for MikroTik RouterOS fleets: versioned backups, diffs and guarded pushes.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

#: Modules under tikguard.commands, each with ``register(app: typer.Typer) -> None``.
COMMAND_MODULES = (
    "config",
    "sim",
    "devices",
    "backup",
    "keys",
    "push",
    "demo",
    "serve",
    "accounts",
    "mirror",
    "schedule",
    "rollout",
    "lifecycle",
    "workers",
    "inventory",
    "search",
    "compliance",
    "notify",
)


def _register_all() -> None:
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"tikguard.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"tikguard.commands.{name}":
                continue  # that command group is not built yet
            raise
        module.register(app)


@app.callback()
def _root(
    tenant: Annotated[
        str | None,
        typer.Option(
            "--tenant",
            envvar="TIKGUARD_TENANT",
            help="Tenant to work in (default: the default tenant).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Safe change for MikroTik RouterOS fleets: versioned backups, diffs and guarded pushes."""
    from tikguard.commands import _context

    _context.choose_tenant(tenant or None)


@app.command()
def version() -> None:
    """Print tikguard's version."""
    from tikguard import __version__

    typer.echo(f"tikguard {__version__}")


_register_all()


def _disk_full(exc: BaseException) -> bool:
    """An error that is the disk running full (OS or SQLite words), anywhere in the chain."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno == errno.ENOSPC:
            return True
        text = str(seen).lower()
        if "database or disk is full" in text or "no space left on device" in text:
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def main() -> None:
    try:
        app()
    except Exception as exc:
        if not _disk_full(exc):
            raise
        from tikguard.commands._ui import fail

        try:
            fail(
                "the disk is full: nothing more could be written",
                "free space where tikguard keeps its data (TIKGUARD_DATA_DIR) and run it again",
            )
        except typer.Exit as done:
            sys.exit(done.exit_code)


if __name__ == "__main__":
    main()
