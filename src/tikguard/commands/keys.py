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

from tikguard.commands._context import open_database, settings_from_env, user_errors
from tikguard.commands._ui import console, fail
from tikguard.store.errors import VaultError

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
    from tikguard.store import rotation

    with open_database() as db, user_errors():
        if rotation.finish_interrupted_rotation(db):
            console.print("[yellow]finished an interrupted master-key rotation[/]")
        yield db


@contextlib.contextmanager
def _no_server() -> Iterator[None]:
    """Refuse to rotate beside a running server: it keeps the old keys in memory and
    would wrap new keys with the old master key (unreadable after its restart)."""
    from tikguard.ops import runtime

    settings = settings_from_env()
    try:
        with runtime.no_worker(settings):
            yield
    except runtime.EngineBusy:
        fail(
            f"a tikguard server is running on {settings.data_dir}; keys are rotated with it "
            "stopped",
            "stop `tikguard serve`, run `tikguard keys rotate`, then start it again",
        )


@keys_app.command("status")
def status(
    check: Annotated[
        bool, typer.Option("--check", help="Also decrypt every stored secret to prove it opens.")
    ] = False,
) -> None:
    """Show the master key (id and source, never the key) and each tenant's data key."""
    from sqlalchemy import select

    from tikguard.store import rotation
    from tikguard.store.models import Tenant, TenantKey

    with _database() as db:
        master = db.vault.master
        console.print(f"master key [bold]{master.key_id}[/] from {master.source}")
        table = Table("tenant", "data key", "wrapped by", "opens")
        failures = 0
        with db.session() as session:
            rows = session.execute(
                select(Tenant.name, Tenant.data_key_version, TenantKey)
                .join(TenantKey, TenantKey.tenant_id == Tenant.id)
                .order_by(Tenant.name, TenantKey.version)
            ).all()
            for name, current, key in rows:
                try:
                    db.vault.verify_key(key)
                    opens = "[green]yes[/]"
                except VaultError:
                    opens, failures = "[red]no[/]", failures + 1
                marker = " (current)" if key.version == current else ""
                table.add_row(name, f"v{key.version}{marker}", key.master_key_id, opens)
        console.print(table)
        if failures:
            fail(
                f"{failures} data key(s) do not open with master key {master.key_id}",
                "load the master key that wrapped them (TIKGUARD_MASTER_KEY or the key file)",
            )
        if check:
            with user_errors():
                count = rotation.check_all(db)
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
    """Rotate the master key (default) or the tenants' data keys, losing nothing."""
    from tikguard.store import rotation

    if tenant is not None and not data_keys:
        fail("--tenant only applies with --data-keys", "add --data-keys")
    with _no_server(), _database() as db:
        if data_keys:
            _rotate_data_keys(db, tenant)
            return
        with user_errors():
            result = rotation.rotate_master_key(db, new_key_file=new_key_file)
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


def _rotate_data_keys(db: Database, tenant: str | None) -> None:
    from sqlalchemy import select

    from tikguard.store import rotation
    from tikguard.store.models import Tenant
    from tikguard.store.tenants import get_tenant_by_name

    with user_errors(), db.session() as session:
        if tenant is not None:
            ids = [get_tenant_by_name(session, tenant).id]
        else:
            ids = list(session.scalars(select(Tenant.id).order_by(Tenant.id)))
    table = Table("tenant", "old", "new", "values re-encrypted")
    for tenant_id in ids:
        with user_errors():
            r = rotation.rotate_data_key(db, tenant_id)
        table.add_row(r.tenant, f"v{r.old_version}", f"v{r.new_version}", str(r.values))
    console.print(table)
