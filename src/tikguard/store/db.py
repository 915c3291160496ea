"""Opening the app database: engine, sessions and migrations.

SQLite (the embedded default, a file in ``data_dir``) runs in WAL mode with foreign
keys on and a busy timeout; write transactions start with ``BEGIN IMMEDIATE`` so two
writers queue instead of failing on a stale snapshot. PostgreSQL is used by URL.
Migrations ship inside the package and run programmatically (no alembic.ini).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from tikguard.process import STATE
from tikguard.settings import Settings
from tikguard.store import scope, sqlite_files
from tikguard.store.errors import StoreError
from tikguard.store.vault import Vault

T = TypeVar("T")

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
VERSION_TABLE = "tikguard_alembic_version"
SQLITE_BUSY_TIMEOUT_MS = 30_000
_PG_MIGRATION_LOCK = 0x74696B67  # "tikg": one migrator at a time across workers
_IMMEDIATE = "tikguard_sqlite_immediate"


def _install_sqlite_pragmas(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # We emit BEGIN ourselves (below); pysqlite's own transaction handling is off.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA foreign_keys = ON")
        cur.execute("PRAGMA journal_mode = WAL")
        cur.execute("PRAGMA synchronous = FULL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        immediate = conn.get_execution_options().get(_IMMEDIATE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def create_app_engine(url: str, *, echo: bool = False) -> Engine:
    """An engine for ``url`` with tikguard's SQLite pragmas when it is SQLite."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        # Owner-only files, made without closing a descriptor of a live database
        # (that would drop this process's SQLite locks; see sqlite_files).
        sqlite_files.prepare(url)
        engine = create_engine(url, echo=echo, hide_parameters=True, connect_args={"timeout": 30})
        _install_sqlite_pragmas(engine)
        return engine
    engine = create_engine(
        url,
        echo=echo,
        hide_parameters=True,  # SQL errors and logs never carry values (ciphertexts, hosts)
        pool_pre_ping=True,
        pool_size=10,
        max_overflow=20,
    )
    scope.install(engine)  # row-level security: transactions begin in the caller's tenant
    return engine


def _alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("version_table", VERSION_TABLE)
    cfg.attributes["engine"] = engine
    return cfg


def head_revision() -> str:
    """The newest migration shipped with this tikguard."""
    script = ScriptDirectory.from_config(_alembic_config(create_engine("sqlite://")))
    head = script.get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    """The migration the database is at (None: empty database)."""
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
        return ctx.get_current_revision()


def _known(revision: str | None) -> bool:
    if revision is None:
        return True
    script = ScriptDirectory.from_config(_alembic_config(create_engine("sqlite://")))
    try:
        return script.get_revision(revision) is not None
    except Exception:
        return False


def upgrade(engine: Engine) -> None:
    """Bring the schema up to the newest migration; safe to call on every start."""
    at = current_revision(engine)
    if not _known(at):
        raise StoreError(
            f"the database schema is at {at}, which this tikguard does not know: it was "
            "upgraded by a newer tikguard; run that version (or restore a backup)"
        )
    if engine.dialect.name == "sqlite":
        # The write lock from the first statement: a deferred transaction that read the
        # schema version and then writes fails at once ("database is locked", no busy
        # wait) when another process wrote in between, as a server or a second command
        # migrating at the same time does. Taken up front, the second migrator waits
        # and then finds the schema already at head.
        engine = engine.execution_options(**{_IMMEDIATE: True})
    cfg = _alembic_config(engine)
    if engine.dialect.name == "postgresql":
        with engine.connect() as lock_conn:
            lock_conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _PG_MIGRATION_LOCK})
            try:
                command.upgrade(cfg, "head")
            finally:
                lock_conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _PG_MIGRATION_LOCK})
                lock_conn.commit()
    else:
        command.upgrade(cfg, "head")


@dataclass
class SharedDatabases:
    """This process's one :class:`Database` per settings (held in
    :data:`tikguard.process.STATE`)."""

    by_settings: dict[Settings, Database] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


class Database:
    """The app database: an engine, session factories and the vault that goes with it.

    ``session()`` is for reads (and small writes); ``transaction()`` commits on success,
    rolls back on error, and on SQLite takes the write lock up front. Sessions carry the
    database in ``session.info["database"]`` so helpers can reach the vault without
    another parameter.
    """

    def __init__(self, settings: Settings, engine: Engine | None = None) -> None:
        self.settings = settings
        self.engine = engine or create_app_engine(settings.app_database_url())
        write_engine = self.engine.execution_options(**{_IMMEDIATE: True})
        info = {"database": self}
        self._read = sessionmaker(self.engine, expire_on_commit=False, info=info)
        self._write = sessionmaker(write_engine, expire_on_commit=False, info=info)
        self._vault: Vault | None = None
        self._vault_lock = threading.Lock()

    @classmethod
    def open(cls, settings: Settings, *, migrate: bool = True) -> Database:
        """Open the database of ``settings``, upgrading its schema unless told not to."""
        if not settings.database_url:
            settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        db = cls(settings)
        if migrate:
            upgrade(db.engine)
        else:
            db.check_schema()
        return db

    @classmethod
    def shared(cls, settings: Settings) -> Database:
        """This process's one database for ``settings``, opened (and migrated) on first use.

        The server, its workflows and its schedules share it: one connection pool and
        one vault per process instead of one per module.
        """
        shared = STATE.of(SharedDatabases)
        with shared.lock:
            db = shared.by_settings.get(settings)
            if db is None:
                db = shared.by_settings[settings] = cls.open(settings)
            return db

    def check_schema(self) -> None:
        """Refuse to run against a database whose schema is not this tikguard's."""
        at, want = current_revision(self.engine), head_revision()
        if at != want:
            newer = at is not None and not _known(at)
            raise StoreError(
                f"the database schema is at {at or 'nothing (empty database)'}, "
                f"this tikguard needs {want}: "
                + (
                    "it was upgraded by a newer tikguard; run that version"
                    if newer
                    else "open it with migrations on (the default of every tikguard command)"
                )
            )

    @property
    def vault(self) -> Vault:
        """The vault for this database, loading the master key on first use."""
        with self._vault_lock:
            if self._vault is None:
                self._vault = Vault.from_settings(self.settings)
            return self._vault

    def set_vault(self, vault: Vault) -> None:
        """Use ``vault`` (e.g. after a master-key rotation, or a test key)."""
        with self._vault_lock:
            self._vault = vault

    def session(self) -> Session:
        return self._read()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session in one write transaction: commit on success, roll back on error."""
        with self._write() as session, session.begin():
            yield session

    def run(self, fn: Callable[[Session], T]) -> T:
        """Call ``fn`` inside one write transaction and return its result."""
        with self.transaction() as session:
            return fn(session)

    async def run_async(self, fn: Callable[[Session], T]) -> T:
        """``run`` from async code, in a worker thread so the event loop never blocks."""
        return await asyncio.to_thread(self.run, fn)

    def dispose(self) -> None:
        self.engine.dispose()


def migrate(settings: Settings) -> None:
    """Create or upgrade the app database of ``settings``."""
    Database.open(settings, migrate=True).dispose()


def sqlite_file(settings: Settings) -> Path | None:
    """The SQLite file of the app database, or None when it is not SQLite."""
    return sqlite_files.sqlite_path(settings.app_database_url())
