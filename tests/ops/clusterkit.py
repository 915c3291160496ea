"""Several real ``tikguard serve`` workers on one PostgreSQL, for the cluster tests and
bench/bench_cluster.py: a fresh database, simulated routers in their own process, the
workers (``cluster_worker.py``: ``tikguard serve`` plus an optional crash point), and
what the checks read back (events, versions, the routers' own state).

Every worker gets the same settings through the environment, exactly as an operator
would set them (docs/scale-out.md); the test process uses the same values to register
the routers and to submit pushes, without ever becoming a worker.
"""

from __future__ import annotations

import contextlib
import csv
import http.client
import itertools
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncssh
from sqlalchemy import select

from tikguard.ops.backup import backup
from tikguard.settings import Settings
from tikguard.store import devices as store_devices
from tikguard.store.db import Database
from tikguard.store.models import ConfigVersion, Operation, OperationEvent
from tikguard.store.tenants import ensure_tenant

HERE = Path(__file__).parent


def tuning(scale: float, lease_wall: float, window: float) -> dict[str, Any]:
    """Settings every worker and the test share: device time ``scale`` times faster,
    network limits and the heartbeat lease in generous real time (a loaded machine)."""
    return {
        "time_scale": scale,
        "engine_polling_interval": 0.2,
        "connect_timeout": 30 * scale,
        "command_timeout": 30 * scale,
        "backup_timeout": 60 * scale,
        "push_window": window,
        "push_settle": 5.0,
        "push_margin_min": 15.0,
        "push_boot_wait": 10 * scale,
        "worker_lease": lease_wall * scale,
        "backup_concurrency": 20,
    }


def as_env(values: dict[str, Any]) -> dict[str, str]:
    return {f"TIKGUARD_{k.upper()}": str(v) for k, v in values.items()}


@contextlib.contextmanager
def simulator(state: Path, count: int, scale: float) -> Iterator[list[dict[str, str]]]:
    """``tikguard sim run`` in its own process (routers keep time while workers die)."""
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
            str(state),
            "--time-scale",
            str(scale),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    inventory = state / "inventory.csv"
    try:
        deadline = time.monotonic() + 90
        rows: list[dict[str, str]] = []
        while len(rows) != count:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"the simulator exited: {proc.stderr.read() if proc.stderr else ''}"
                )
            if time.monotonic() > deadline:
                raise RuntimeError("the simulator did not start in time")
            time.sleep(0.1)
            if inventory.exists():
                with inventory.open() as f:
                    rows = list(csv.DictReader(f))
        yield rows
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(10)


def free_port() -> int:
    """A free port below the ephemeral range, where the simulated routers (which keep
    their ports across reboots) never are."""
    while True:
        port = random.randrange(20000, 32000)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port


@dataclass
class WorkerProc:
    name: str
    proc: subprocess.Popen[bytes]
    port: int
    data_dir: Path
    log: Path

    def died_at(self) -> float | None:
        path = self.data_dir / "died"
        return float(path.read_text()) if path.exists() else None

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(
                f"http://127.0.0.1:{self.port}/api/v1/health", timeout=2
            ) as r:
                return bool(json.load(r).get("status") == "ok")
        except (OSError, http.client.HTTPException):
            return False


@dataclass
class Cluster:
    """Worker processes sharing ``url``; each has its own data directory under ``root``."""

    root: Path
    url: str
    key: str
    values: dict[str, Any]
    workers: dict[str, WorkerProc] = field(default_factory=dict)

    def settings(self, data_dir: Path | None = None, **overrides: Any) -> Settings:
        return Settings(
            data_dir=data_dir or self.root / "client",
            database_url=self.url,
            master_key=self.key,
            **{**self.values, **overrides},
        )

    def env(self, name: str, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("TIKGUARD_")}
        env.update(as_env(self.values))
        env.update(
            TIKGUARD_DATABASE_URL=self.url,
            TIKGUARD_MASTER_KEY=self.key,
            TIKGUARD_DATA_DIR=str(self.root / name),
            PYTHONPATH=os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
        )
        env.update(extra)
        return {k: v for k, v in env.items() if v != ""}

    def start(self, name: str, crash: str = "none", **extra: str) -> WorkerProc:
        data = self.root / name
        data.mkdir(parents=True, exist_ok=True)
        port = free_port()
        log = self.root / f"{name}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [sys.executable, str(HERE / "cluster_worker.py"), str(port)],
                env=self.env(name, TIKGUARD_TEST_CRASH_AT=crash, **extra),
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        worker = WorkerProc(name, proc, port, data, log)
        self.workers[name] = worker
        return worker

    def wait_ready(self, *workers: WorkerProc, within: float = 600.0) -> None:
        deadline = time.monotonic() + within
        waiting = list(workers)
        while waiting:
            for w in list(waiting):
                if w.proc.poll() is not None:
                    raise AssertionError(f"worker {w.name} exited:\n{w.output()[-3000:]}")
                if w.healthy():
                    waiting.remove(w)
            if time.monotonic() > deadline:
                raise AssertionError(f"workers not up: {[w.name for w in waiting]}")
            time.sleep(0.2)

    def stop_all(self) -> None:
        for w in self.workers.values():
            if w.proc.poll() is None:
                w.proc.send_signal(signal.SIGTERM)
        for w in self.workers.values():
            try:
                w.proc.wait(30)
            except subprocess.TimeoutExpired:
                w.proc.kill()
                w.proc.wait(10)


@contextlib.contextmanager
def cluster(root: Path, url: str, key: str, values: dict[str, Any]) -> Iterator[Cluster]:
    c = Cluster(root, url, key, values)
    try:
        yield c
    finally:
        c.stop_all()


async def register(db: Database, settings: Settings, rows: list[dict[str, str]]) -> int:
    """Add the routers and back each up once (pins their host keys)."""

    def setup(session: Any) -> int:
        tenant = ensure_tenant(session)
        for row in rows:
            store_devices.add_device(
                session,
                tenant.id,
                name=row["name"],
                host=row["host"],
                port=int(row["port"]),
                username=row["username"],
                password=row["password"],
            )
        return tenant.id

    tenant_id = await db.run_async(setup)
    results = await backup(db, settings, tenant_id)
    bad = [r for r in results if not r.ok]
    assert not bad, f"initial backups failed: {bad[:3]}"
    return tenant_id


def entry_script(n: int, pause: bool = True) -> str:
    """Push number ``n``: one address-list entry of its own (the router shows whether
    it stayed) and a pause, so a kill during the import lands inside it."""
    entry = (
        f"/ip firewall address-list add list=cluster address=198.18.{n // 250}.{n % 250 + 1}"
        f" comment=push{n}\n"
    )
    return entry + (":delay 20s\n" if pause else "")


async def router_state(row: dict[str, str]) -> tuple[str, str]:
    """The router's scheduler and export, read over SSH by the test itself."""
    async with asyncssh.connect(
        row["host"],
        port=int(row["port"]),
        username=row["username"],
        password=row["password"],
        known_hosts=None,
    ) as conn:
        sched = (await conn.run("/system scheduler print detail")).stdout
        config = (await conn.run("/export")).stdout
    return str(sched), str(config)


@dataclass(frozen=True)
class Record:
    """What the database says about one finished push."""

    op: Operation
    events: list[OperationEvent]
    versions: list[tuple[str, str | None]]  # (trigger, operation id)

    @property
    def span(self) -> tuple[float, float]:
        times = [e.at.timestamp() for e in self.events]
        return min(times), max(times)


def records(db: Database, op_ids: list[str]) -> dict[str, Record]:
    with db.session() as s:
        ops = {o.id: o for o in s.scalars(select(Operation).where(Operation.id.in_(op_ids)))}
        events: dict[str, list[OperationEvent]] = {}
        for e in s.scalars(
            select(OperationEvent)
            .where(OperationEvent.operation_id.in_(op_ids))
            .order_by(OperationEvent.operation_id, OperationEvent.seq)
        ):
            events.setdefault(e.operation_id, []).append(e)
        versions: dict[str, list[tuple[str, str | None]]] = {}
        for trigger, op_id in s.execute(
            select(ConfigVersion.trigger, ConfigVersion.operation_id).where(
                ConfigVersion.operation_id.in_(op_ids)
            )
        ):
            versions.setdefault(op_id, []).append((trigger, op_id))
    return {i: Record(ops[i], events.get(i, []), versions.get(i, [])) for i in op_ids}


def overlapping(by_device: dict[int, list[Record]]) -> list[tuple[str, str]]:
    """Pairs of pushes of one router whose event spans overlap (there must be none)."""
    bad: list[tuple[str, str]] = []
    for recs in by_device.values():
        ordered = sorted(recs, key=lambda r: r.span[0])
        for a, b in itertools.pairwise(ordered):
            if b.span[0] < a.span[1]:
                bad.append((a.op.id, b.op.id))
    return bad
