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

Usage: ``python bench/bench_backup.py [--routers 1000] [--concurrency 50,200]``
(``--routers 10000`` for the full fleet).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import asyncssh
from sqlalchemy import func, select

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


def start_simulator(
    count: int, state_dir: Path
) -> tuple[subprocess.Popen[bytes], list[dict[str, str]]]:
    """``tikguard sim run`` in its own process; returns it and the inventory rows."""
    inventory = state_dir / "inventory.csv"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tikguard.cli",
            "sim",
            "run",
            "--devices",
            str(count),
            "--state-dir",
            str(state_dir),
            "--time-scale",
            "1",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60 + count / 50
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            err = proc.stderr.read().decode() if proc.stderr else ""
            raise SystemExit(f"the simulator exited: {err}")
        if inventory.exists():
            rows = list(csv.DictReader(inventory.open()))
            if len(rows) == count:
                return proc, rows
        time.sleep(0.2)
    proc.kill()
    raise SystemExit("the simulator did not start in time")


async def floor(rows: list[dict[str, str]], concurrency: int) -> int:
    """The least any backup must do: connect, run the export, close."""
    sem = asyncio.Semaphore(concurrency)
    ok = 0

    async def one(row: dict[str, str]) -> None:
        nonlocal ok
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
                    result = await conn.run("/export show-sensitive", check=False)
                    if result.stdout:
                        ok += 1
            except (OSError, asyncssh.Error):
                pass

    await asyncio.gather(*(one(r) for r in rows))
    return ok


def measure(label: str, concurrency: int, total: int, fn: object) -> Row:
    wall0, cpu0 = time.perf_counter(), time.process_time()
    ok = asyncio.run(fn)  # type: ignore[arg-type]
    return Row(
        concurrency, label, time.perf_counter() - wall0, time.process_time() - cpu0, ok, total
    )


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--routers", type=int, default=1000)
    parser.add_argument("--concurrency", default="50,200")
    args = parser.parse_args()
    levels = [int(c) for c in args.concurrency.split(",")]

    work = Path(tempfile.mkdtemp(prefix="tg-bench-backup-"))
    proc, inventory = start_simulator(args.routers, work / "sim")
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
        shutil.rmtree(work, ignore_errors=True)

    print(
        f"\nbackup of {args.routers} simulated routers (simulator in its own process, "
        f"{os.cpu_count()} CPUs)"
    )
    print(
        f"{'conc':>5} {'phase':<30} {'ok':>7} {'wall s':>8} {'CPU ms/router':>14} "
        f"{'wall x':>7} {'CPU x':>6}"
    )
    base: dict[int, Row] = {}
    for r in rows:
        if r.phase.startswith("floor"):
            base[r.concurrency] = r
        b = base[r.concurrency]
        print(
            f"{r.concurrency:>5} {r.phase:<30} {r.ok:>7} {r.wall:>8.2f} "
            f"{1000 * r.cpu / r.total:>14.2f} {r.wall / b.wall:>7.2f} {r.cpu / b.cpu:>6.2f}"
        )


if __name__ == "__main__":
    main()
