"""tikguard's command line.

The root Typer app. Each command group lives in its own module under
:mod:`tikguard.commands` and registers itself here, so this file stays a table of
contents. Commands are thin: they parse arguments, call the service layer (``ops``),
and render tables, progress bars and clear errors with Rich.
"""

from __future__ import annotations

import importlib

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
def _root() -> None:
    """Safe change for MikroTik RouterOS fleets: versioned backups, diffs and guarded pushes."""


@app.command()
def version() -> None:
    """Print tikguard's version."""
    from tikguard import __version__

    typer.echo(f"tikguard {__version__}")


_register_all()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
