"""SQLite files shared by a long-running process and short CLI processes.

A process that closes any descriptor of a database file loses all its SQLite locks on
it; the next process to close its last connection then takes itself for the only one
and deletes ``-wal``/``-shm`` from under the first. These tests keep a live database
open here, do what the server does (open the store a second time in the same process),
run real CLI processes beside it, and check the files survive; and that every
database file is owner-only, created so and tightened at start.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from tikguard.settings import Settings
from tikguard.store import sqlite_files
from tikguard.store.db import Database
from tikguard.store.tenants import ensure_tenant

pytestmark = pytest.mark.timeout(120)


def _cli(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TIKGUARD_DATA_DIR": str(data_dir)}
    for var in ("TIKGUARD_DATABASE_URL", "TIKGUARD_SYSTEM_DATABASE_URL", "TIKGUARD_MASTER_KEY"):
        env.pop(var, None)
    return subprocess.run(
        [sys.executable, "-m", "tikguard.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_cli_beside_a_live_database_leaves_its_wal_alone(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    live = Database.open(settings)
    try:
        with live.transaction() as s:
            ensure_tenant(s)
        wal = tmp_path / "tikguard.sqlite-wal"
        inode = wal.stat().st_ino
        # The server opens the store again (workflows, schedules): no lock may be lost.
        second = Database(settings)
        with second.session() as s:
            s.execute(text("SELECT 1"))
        for args in (["user", "list"], ["token", "create", "ci", "--role", "operator"]):
            out = _cli(tmp_path, *args)
            assert out.returncode == 0, out.stderr
            assert wal.exists() and wal.stat().st_ino == inode, (
                f"`{' '.join(args)}` removed the WAL"
            )
        # the live process sees what the CLI wrote, and its own writes stay
        with live.transaction() as s:
            names = s.execute(text("SELECT name FROM api_tokens")).scalars().all()
            s.execute(text("UPDATE tenants SET name = name"))
        assert names == ["ci"]
        second.dispose()
    finally:
        live.dispose()
    out = _cli(tmp_path, "token", "list")
    assert out.returncode == 0 and "ci" in out.stdout, out.stderr


def test_database_files_are_owner_only_in_an_existing_open_directory(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    data.chmod(0o755)
    out = _cli(data, "schedule", "list")  # makes both databases, the engine's through DBOS
    assert out.returncode == 0, out.stderr
    files = sorted(p.name for p in data.iterdir() if ".sqlite" in p.name)
    assert {"tikguard.sqlite", "dbos.sqlite"} <= set(files)
    wide = {name: oct((data / name).stat().st_mode & 0o777) for name in files}
    assert all(mode == "0o600" for mode in wide.values()), wide


def test_wider_files_are_tightened_at_start_without_touching_a_live_database(
    tmp_path: Path,
) -> None:
    settings = Settings(data_dir=tmp_path)
    live = Database.open(settings)
    try:
        with live.transaction() as s:
            ensure_tenant(s)
        path = tmp_path / "tikguard.sqlite"
        for f in sqlite_files.database_files(path):
            if f.exists():
                f.chmod(0o644)
        inode = (tmp_path / "tikguard.sqlite-wal").stat().st_ino
        out = _cli(tmp_path, "user", "list")
        assert out.returncode == 0, out.stderr
        assert "now owner-only" in out.stderr  # said once, where the operator sees it
        for f in sqlite_files.database_files(path):
            if f.exists():
                assert f.stat().st_mode & 0o777 == 0o600, f
        assert (tmp_path / "tikguard.sqlite-wal").stat().st_ino == inode
    finally:
        live.dispose()


def test_a_link_that_loses_the_race_keeps_the_other_database(tmp_path: Path) -> None:
    path = tmp_path / "x.sqlite"
    path.write_bytes(b"theirs")
    path.chmod(0o600)
    sqlite_files._create_private(path)
    assert path.read_bytes() == b"theirs"
    assert [p.name for p in tmp_path.iterdir()] == ["x.sqlite"]


def test_urls_that_are_not_files_are_left_alone() -> None:
    assert sqlite_files.prepare("sqlite://") is None
    assert sqlite_files.prepare("sqlite:///:memory:") is None
    assert sqlite_files.prepare("postgresql+psycopg://u@h/db") is None
