"""Throwaway PostgreSQL databases for tests: one way to make one and to drop it.

Dropping uses ``WITH (FORCE)`` so a test that left a connection open cannot keep its
database alive. PostgreSQL refuses to terminate a backend of another role (an
autovacuum worker that happens to be visiting the database, for instance) unless the
test role may signal backends: ``scripts/pg-start.sh`` grants ``pg_signal_backend``,
and the drop still retries for a few seconds, so a passing visitor never fails a test
at teardown.
"""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from collections.abc import Iterator

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

#: The environment variable that points the tests at a PostgreSQL server.
PG_ENV = "TIKGUARD_TEST_POSTGRES_URL"


def drop_database(admin: Engine, name: str, *, attempts: int = 20) -> None:
    """Drop ``name``, retrying while another role's backend still visits it."""
    for attempt in range(attempts):
        try:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            return
        except DBAPIError:
            if attempt == attempts - 1:
                raise
            time.sleep(0.25)


@contextlib.contextmanager
def fresh_database(prefix: str, base: str | None = None) -> Iterator[str]:
    """A new, empty PostgreSQL database (dropped afterwards); its URL."""
    url = make_url(base or os.environ[PG_ENV])
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield url.set(database=name).render_as_string(hide_password=False)
        finally:
            drop_database(admin, name)
    finally:
        admin.dispose()
