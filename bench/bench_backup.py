"""Fleet backup benchmark: tikguard's backup beside a bare asyncssh ``/export`` loop.

The simulated routers run in their own process (``tikguard sim run``); this process is
the controller. For each concurrency, in the same run and against the same routers:

* floor: a bare asyncssh loop that connects (with tikguard's cipher order), runs
  ``/export show-sensitive``, closes;
* tikguard, first backup: TOFU pinning, normalise, split secrets, store a version;
* tikguard, unchanged: the daily case, a backup that finds nothing new.

Reported: wall time, controller CPU seconds per router (process time: all threads,
database included) and the ratios to the floor. The git mirror follows a backup in the
background once its results are recorded; its catch-up after the first backup (one
commit per new version) is measured on its own row, before the next phase starts.

Two fleets, one table each (``--fleets tiny,corpus``): ``tiny`` routers are blank (an
export of a few hundred bytes: the figures are mostly handshakes); ``corpus`` routers
are seeded with the test corpus's real exports in turn (``tikguard sim run
--config-from``, about 21 KB of export each). The ``KiB`` column is the average export.

Usage: ``python bench/bench_backup.py [--routers 1000] [--concurrency 50,200]
[--fleets tiny,corpus]`` (``--routers 10000`` for the full fleet).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import asyncssh
from sqlalchemy import func, select

from simfleet import FLEETS, export_command, start_simulator
from tikguard.device.session import PREFERRED_CIPHERS
from tikguard.ops import backup as backup_ops
from tikguard.ops import devices as device_ops
from tikguard.settings import Settings
from tikguard.store.db import Database
from tikguard.store.models import ConfigVersion


@dataclass
class Row:
    concurrency: int
    phase: str
    wall: float
    cpu: float
    ok: int
    total: int
    kib: float = 0.0


async def floor(rows: list[dict[str, str]], concurrency: int) -> tuple[int, int]:
    """The least any backup must do: connect, run the export, close. Returns the
    routers exported and the bytes they sent."""
    sem = asyncio.Semaphore(concurrency)
    ok = size = 0

    async def one(row: dict[str, str]) -> None:
        nonlocal ok, size
        async with sem:
            try:
                async with asyncssh.connect(
                    row["host"],
                    int(row["port"]),
                    username=row["username"],
                    password=row["password"],
                    known_hosts=None,
                    client_keys=None,
                    agent_path=None,
                    config=None,
                    # The same cipher order tikguard's sessions offer, so the floor
                    # differs from tikguard only in what tikguard does on top of SSH.
                    encryption_algs=list(PREFERRED_CIPHERS),
                ) as conn:
                    result = await conn.run(export_command(row), check=True)
                    if result.stdout:
                        ok += 1
                        size += len(str(result.stdout))
            except (OSError, asyncssh.Error):
                pass

    await asyncio.gather(*(one(r) for r in rows))
    return ok, size


def measure(label: str, concurrency: int, total: int, fn: object) -> Row:
    wall0, cpu0 = time.perf_counter(), time.process_time()
    result = asyncio.run(fn)  # type: ignore[arg-type]
    ok, size = result if isinstance(result, tuple) else (result, 0)
    row = Row(
        concurrency, label, time.perf_counter() - wall0, time.process_time() - cpu0, ok, total
    )
    row.kib = size / max(ok, 1) / 1024
    return row


async def tikguard_backup(db: Database, settings: Settings, tenant_id: int) -> int:
    results = await backup_ops.backup(db, settings, tenant_id)
    return sum(1 for r in results if r.ok)


async def mirror_catch_up(db: Database, tenant_id: int) -> int:
    """Wait for the background mirror; return how many versions are mirrored."""
    await asyncio.to_thread(backup_ops.wait_for_mirror)
    with db.session() as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(ConfigVersion)
                .where(
                    ConfigVersion.tenant_id == tenant_id,
                    ConfigVersion.mirror_commit.is_not(None),
                )
            )
            or 0
        )


def run_fleet(fleet: str, routers: int, levels: list[int], work: Path) -> list[Row]:
    """Every phase at every concurrency against one simulated fleet."""
    proc, inventory = start_simulator(routers, work / "sim", fleet=fleet)
    rows: list[Row] = []
    try:
        for level in levels:
            rows.append(
                measure(
                    "floor: bare asyncssh /export", level, len(inventory), floor(inventory, level)
                )
            )
            data = work / f"data-{level}"
            settings = Settings(
                data_dir=data,
                backup_concurrency=level,
                connect_timeout=60,
                command_timeout=120,
                backup_timeout=300,
            )
            db = Database.open(settings)
            tenant_id = device_ops.default_tenant_id(db)
            device_ops.import_rows(
                db,
                tenant_id,
                device_ops.parse_inventory((work / "sim" / "inventory.csv").read_text()),
                actor="bench",
            )
            rows.append(
                measure(
                    "tikguard: first backup",
                    level,
                    len(inventory),
                    tikguard_backup(db, settings, tenant_id),
                )
            )
            rows.append(
                measure(
                    "  git mirror catch-up (after)",
                    level,
                    len(inventory),
                    mirror_catch_up(db, tenant_id),
                )
            )
            rows.append(
                measure(
                    "tikguard: unchanged",
                    level,
                    len(inventory),
                    tikguard_backup(db, settings, tenant_id),
                )
            )
            db.dispose()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
    return rows


def print_table(fleet: str, routers: int, rows: list[Row]) -> None:
    print(
        f"\nbackup of {routers} simulated routers, {fleet} fleet (simulator in its own "
        f"process, {os.cpu_count()} CPUs)"
    )
    print(
        f"{'conc':>5} {'phase':<30} {'ok':>7} {'KiB':>6} {'wall s':>8} {'CPU ms/router':>14} "
        f"{'wall x':>7} {'CPU x':>6}"
    )
    base: dict[int, Row] = {}
    for r in rows:
        if r.phase.startswith("floor"):
            base[r.concurrency] = r
        b = base[r.concurrency]
        kib = f"{r.kib:6.1f}" if r.kib else f"{'':>6}"
        print(
            f"{r.concurrency:>5} {r.phase:<30} {r.ok:>7} {kib} {r.wall:>8.2f} "
            f"{1000 * r.cpu / r.total:>14.2f} {r.wall / b.wall:>7.2f} {r.cpu / b.cpu:>6.2f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--routers", type=int, default=1000)
    parser.add_argument("--concurrency", default="50,200")
    parser.add_argument("--fleets", default=",".join(FLEETS))
    args = parser.parse_args()
    levels = [int(c) for c in args.concurrency.split(",")]
    tables: list[tuple[str, list[Row]]] = []
    for fleet in args.fleets.split(","):
        work = Path(tempfile.mkdtemp(prefix=f"tg-bench-backup-{fleet}-"))
        try:
            tables.append((fleet, run_fleet(fleet, args.routers, levels, work)))
        finally:
            shutil.rmtree(work, ignore_errors=True)
    for fleet, rows in tables:
        print_table(fleet, args.routers, rows)


if __name__ == "__main__":
    main()
