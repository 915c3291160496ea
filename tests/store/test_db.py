"""Opening the database: migrations from empty, schema = models, SQLite settings, races."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text
from tests.pgtemp import drop_database

from tikguard.settings import Settings
from tikguard.store import db as store_db
from tikguard.store.db import Database, current_revision, head_revision
from tikguard.store.devices import add_device
from tikguard.store.errors import StoreError
from tikguard.store.models import Base, Tenant
from tikguard.store.tenants import ensure_tenant
from tikguard.store.versions import list_versions, record_backup

TABLES = {
    "tenants",
    "tenant_keys",
    "users",
    "api_tokens",
    "devices",
    "device_tags",
    "config_versions",
    "operations",
    "operation_events",
    "audit_log",
    "mirror_state",
}


def test_migration_from_empty_creates_every_table(tmp_path: Path) -> None:
    db = Database.open(Settings(data_dir=tmp_path / "new"))
    try:
        assert current_revision(db.engine) == head_revision()
        assert set(inspect(db.engine).get_table_names()) >= TABLES
        assert (tmp_path / "new" / "tikguard.sqlite").exists()
        Database.open(db.settings).dispose()  # a second start is a no-op
    finally:
        db.dispose()


def test_schema_matches_the_models(db: Database) -> None:
    with db.engine.connect() as conn:
        ctx = MigrationContext.configure(
            conn, opts={"compare_type": True, "version_table": store_db.VERSION_TABLE}
        )
        diff = [d for d in compare_metadata(ctx, Base.metadata)]
    assert diff == []


def test_sqlite_runs_wal_with_foreign_keys(tmp_path: Path) -> None:
    db = Database.open(Settings(data_dir=tmp_path))
    try:
        assert (tmp_path / "tikguard.sqlite").stat().st_mode & 0o777 == 0o600
        with db.engine.connect() as conn:
            assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
            assert conn.execute(text("PRAGMA busy_timeout")).scalar() == 30000
    finally:
        db.dispose()


def test_unmigrated_database_is_refused_when_not_migrating(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="empty database"):
        Database.open(Settings(data_dir=tmp_path), migrate=False)


def test_concurrent_backups_of_one_device_never_collide(db: Database, tenant: Tenant) -> None:
    with db.transaction() as s:
        device = add_device(s, tenant.id, name="r1", host="h", username="u")
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            for i in range(5):
                with db.transaction() as s:
                    record_backup(
                        s,
                        tenant.id,
                        device.id,
                        normalised_redacted_text=f"/x\nset v={n}-{i}\n",
                        secrets={},
                        ros_version="7.16",
                        trigger="manual",
                    )
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with db.session() as s:
        assert sorted(v.seq for v in list_versions(s, tenant.id, device.id)) == list(range(1, 21))


@pytest.mark.postgres
def test_migrations_run_on_postgresql(pg_database_url: str, tmp_path: Path) -> None:
    """Up from empty, down to nothing, and up again, on a real PostgreSQL server."""
    from alembic import command

    url = pg_database_url.replace("/tg_store_", "/tg_mig_")
    admin = create_engine(pg_database_url, isolation_level="AUTOCOMMIT")
    name = url.rsplit("/", 1)[1]
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        db = Database.open(Settings(data_dir=tmp_path, database_url=url))
        assert current_revision(db.engine) == head_revision()
        assert set(inspect(db.engine).get_table_names()) >= TABLES
        command.downgrade(store_db._alembic_config(db.engine), "base")
        assert not TABLES & set(inspect(db.engine).get_table_names())
        store_db.upgrade(db.engine)
        assert current_revision(db.engine) == head_revision()
        db.dispose()
    finally:
        drop_database(admin, name)
        admin.dispose()


def test_database_errors_carry_no_values(db: Database, tenant: Tenant) -> None:
    """A failing statement's error shows the SQL, never the values (ciphertexts, text)."""
    from sqlalchemy.exc import IntegrityError

    with db.transaction() as s:
        device = add_device(s, tenant.id, name="r1", host="h", username="u", password="pw-XYZ")
        record_backup(
            s,
            tenant.id,
            device.id,
            normalised_redacted_text="/secretish\n",
            secrets={"k": "v"},
            ros_version="7",
            trigger="manual",
        )
    with pytest.raises(IntegrityError) as err, db.transaction() as s:
        s.execute(
            text(
                "INSERT INTO config_versions (tenant_id, device_id, seq, sha256, content, size,"
                " line_count, secrets_count, trigger, lines_added, lines_removed,"
                " secrets_changed_only, created_at, last_checked_at)"
                " VALUES (:t, :d, 1, 'x', :c, 1, 1, 0, 'manual', 0, 0, false, :now, :now)"
            ),
            {"t": tenant.id, "d": device.id, "c": b"VERY-SECRET-BYTES", "now": "2026-01-01"},
        )
    assert "VERY-SECRET-BYTES" not in str(err.value) and "hidden" in str(err.value)


def test_migrations_beside_writers_and_each_other_never_fail(tmp_path: Path) -> None:
    """A newer tikguard's first commands migrate (in their own processes, at once) while
    a server keeps writing: each waits its turn, none fails with "database is locked"."""
    settings = Settings(data_dir=tmp_path)
    live = Database.open(settings)
    with live.transaction() as s:
        tenant_id = ensure_tenant(s).id
    command.downgrade(store_db._alembic_config(live.engine), "0007")
    stop = threading.Event()
    errors: list[BaseException] = []

    def writer() -> None:
        update = text("UPDATE tenants SET name = name WHERE id = :t")
        try:
            while not stop.is_set():
                with live.transaction() as s:
                    s.execute(update, {"t": tenant_id})
        except BaseException as exc:
            errors.append(exc)

    w = threading.Thread(target=writer)
    w.start()
    code = (
        "import sys; from pathlib import Path; from tikguard.settings import Settings; "
        "from tikguard.store.db import Database; "
        "Database.open(Settings(data_dir=Path(sys.argv[1]))).dispose()"
    )
    try:
        migrators = [
            subprocess.Popen(
                [sys.executable, "-c", code, str(tmp_path)], stderr=subprocess.PIPE, text=True
            )
            for _ in range(3)
        ]
        failed = [err for p in migrators if (err := p.communicate(timeout=120)[1]) or p.returncode]
    finally:
        stop.set()
        w.join(60)
    assert failed == [] and errors == []
    assert current_revision(live.engine) == head_revision()
    live.dispose()
