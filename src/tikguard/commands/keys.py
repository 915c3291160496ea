"""``tikguard keys``: the master key and the tenants' data keys (status, rotation).

Rotation never loses a secret: it runs in one database transaction and the new key
file replaces the old one only after that transaction committed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from tikguard.commands._context import cli_actor, open_database, settings_from_env, user_errors
from tikguard.commands._ui import cell, console, fail

if TYPE_CHECKING:
    from tikguard.store.db import Database

keys_app = typer.Typer(
    name="keys",
    help="Encryption keys: show their status, rotate the master key or the data keys.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(keys_app, name="keys")


@contextlib.contextmanager
def _database() -> Iterator[Database]:
    """The store, after finishing a master-key rotation an earlier command left half done."""
    from tikguard.ops import keys as keys_ops

    with open_database() as db, user_errors():
        if keys_ops.finish_interrupted(db):
            console.print("[yellow]finished an interrupted master-key rotation[/]")
        yield db


@contextlib.contextmanager
def _no_server() -> Iterator[None]:
    """Refuse to rotate the master key beside a running server: it keeps the old master
    key in memory and would wrap new data keys with it (unreadable after its restart)."""
    from tikguard.ops import runtime

    settings = settings_from_env()
    try:
        with runtime.no_worker(settings):
            yield
    except runtime.EngineBusy:
        fail(
            f"a tikguard server is running on {settings.data_dir}; keys are rotated with it "
            "stopped",
            "stop `tikguard serve`, run `tikguard keys rotate`, then start it again (data keys "
            "rotate beside it: `tikguard keys rotate --data-keys`)",
        )


@keys_app.command("status")
def status(
    check: Annotated[
        bool, typer.Option("--check", help="Also decrypt every stored secret to prove it opens.")
    ] = False,
) -> None:
    """Show the master key (id and source, never the key) and each tenant's data key."""
    from tikguard.ops import keys as keys_ops

    with _database() as db:
        master = db.vault.master
        console.print(f"master key [bold]{master.key_id}[/] from {master.source}")
        table = Table("tenant", "data key", "wrapped by", "opens")
        rows = keys_ops.key_status(db)
        for row in rows:
            marker = " (current)" if row.current else ""
            opens = "[green]yes[/]" if row.opens else "[red]no[/]"
            table.add_row(cell(row.tenant), f"v{row.version}{marker}", row.master_key_id, opens)
        console.print(table)
        failures = sum(not row.opens for row in rows)
        if failures:
            fail(
                f"{failures} data key(s) do not open with master key {master.key_id}",
                "load the master key that wrapped them (TIKGUARD_MASTER_KEY or the key file)",
            )
        if check:
            with user_errors():
                count = keys_ops.check_all(db)
            console.print(f"[green]all {count} encrypted values decrypt[/]")


@keys_app.command("rotate")
def rotate(
    data_keys: Annotated[
        bool,
        typer.Option("--data-keys", help="Rotate tenants' data keys (re-encrypts their values)."),
    ] = False,
    tenant: Annotated[
        str | None, typer.Option("--tenant", help="With --data-keys: only this tenant.")
    ] = None,
    new_key_file: Annotated[
        Path | None,
        typer.Option(
            "--new-key-file",
            help="Where to write the new master key when it comes from TIKGUARD_MASTER_KEY.",
        ),
    ] = None,
) -> None:
    """Rotate the master key (default) or the tenants' data keys, losing nothing (audited)."""
    from tikguard.ops import keys as keys_ops

    if tenant is not None and not data_keys:
        fail("--tenant only applies with --data-keys", "add --data-keys")
    # A data key can be rotated beside a running server (it reads the new key version
    # from the database); a new master key cannot (the server keeps the old one).
    with contextlib.nullcontext() if data_keys else _no_server(), _database() as db:
        if data_keys:
            with user_errors():
                done = keys_ops.rotate_data_keys(db, actor=cli_actor(), tenant=tenant)
            table = Table("tenant", "old", "new", "values re-encrypted")
            for r in done:
                table.add_row(
                    cell(r.tenant), f"v{r.old_version}", f"v{r.new_version}", str(r.values)
                )
            console.print(table)
            return
        with user_errors():
            result = keys_ops.rotate_master_key(db, actor=cli_actor(), new_key_file=new_key_file)
        console.print(
            f"master key rotated: {result.old_key_id} -> [bold]{result.new_key_id}[/] "
            f"({result.tenant_keys} data keys re-wrapped)"
        )
        if db.settings.master_key:
            console.print(
                f"[yellow]the new key is in {result.key_file}: set TIKGUARD_MASTER_KEY to its "
                "content before tikguard starts again, then delete the file[/]"
            )
        else:
            console.print(f"new key file: {result.key_file} (mode 0600)")
