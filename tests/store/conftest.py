"""Store fixtures: every store test runs on SQLite and on PostgreSQL.

PostgreSQL tests use a private database created for this test run (so parallel runs
and other suites never see each other's rows) and skip with a clear message when
``TIKGUARD_TEST_POSTGRES_URL`` is unset.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from tests.pgtemp import fresh_database

from tikguard.settings import Settings
from tikguard.store.db import Database
from tikguard.store.models import Base, Tenant
from tikguard.store.tenants import create_tenant

PG_ENV = "TIKGUARD_TEST_POSTGRES_URL"


def _pg_base_url() -> str:
    url = os.environ.get(PG_ENV, "")
    if not url:
        pytest.skip(f"PostgreSQL not configured: set {PG_ENV} (see scripts/pg-start.sh)")
    return url


@pytest.fixture(scope="session")
def pg_database_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test run, dropped at the end."""
    with fresh_database(f"tg_store_{os.getpid()}", _pg_base_url()) as url:
        yield url


@pytest.fixture(scope="session")
def pg_migrated(pg_database_url: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The run's PostgreSQL database, migrated once."""
    settings = Settings(data_dir=tmp_path_factory.mktemp("pg"), database_url=pg_database_url)
    Database.open(settings).dispose()
    return pg_database_url


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty, migrated SQLite database file to copy for each test."""
    data_dir = tmp_path_factory.mktemp("sqlite-template")
    database = Database.open(Settings(data_dir=data_dir))
    database.dispose()
    return data_dir / "tikguard.sqlite"


def _truncate(db: Database) -> None:
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with db.engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A migrated, empty database on each backend, with a master key in ``tmp_path``."""
    if request.param == "sqlite":
        template = request.getfixturevalue("sqlite_template")
        shutil.copyfile(template, tmp_path / template.name)  # migrated once per run
        database = Database.open(Settings(data_dir=tmp_path))
    else:
        url = request.getfixturevalue("pg_migrated")
        database = Database.open(Settings(data_dir=tmp_path, database_url=url))
        _truncate(database)
    try:
        yield database
    finally:
        database.dispose()


@pytest.fixture
def tenant(db: Database) -> Tenant:
    with db.transaction() as s:
        return create_tenant(s, "acme")


@pytest.fixture
def other_tenant(db: Database) -> Tenant:
    with db.transaction() as s:
        return create_tenant(s, "globex")
