"""API and UI benchmark: requests per second and latency of the fleet list and a device
page at fleet scale, and Server-Sent Events fan-out to many listeners.

The server is ``tikguard serve`` in its own process (one uvicorn worker, SQLite, the
engine running), on a store seeded with ``--devices`` routers of ``--versions``
versions each; this process is the client. Each row runs for ``--seconds`` with
``--concurrency`` clients in flight, beside the baseline in the same run and on the
same server: ``GET /api/v1/health`` (no database, no credentials).

SSE: ``--listeners`` clients follow one operation while this process appends events
to it (as a push workflow does); reported is the delay from an event's commit to its
arrival at every listener, beside the same with one listener.

Usage: ``python bench/bench_api.py [--devices 1000] [--versions 50] [--listeners 200]``
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import insert

from tikguard.ops import accounts
from tikguard.settings import Settings
from tikguard.store import operations as store_ops
from tikguard.store.db import Database
from tikguard.store.models import ConfigVersion, Device, DeviceTag
from tikguard.store.tenants import ensure_tenant

PASSWORD = "bench-password-123"
CONFIG = """/interface bridge
add name=bridge-{i}
/ip address
add address=10.{a}.{b}.1/24 interface=ether2
/ip firewall filter
add action=accept chain=input comment=mgmt src-address=192.0.2.0/24
add action=drop chain=input in-interface-list=WAN
/system identity
set name=r{i:05d}
/system note
set note="revision {v}"
"""


@dataclass
class Row:
    name: str
    requests: int
    seconds: float
    p50: float
    p95: float
    errors: int

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def seed(settings: Settings, devices: int, versions: int) -> tuple[str, int, str]:
    """The store: routers with versions, an admin, a token; returns (token, device, op)."""
    db = Database.open(settings)
    now = datetime.now(UTC)
    with db.transaction() as s:
        tenant = ensure_tenant(s)
        accounts.create_user(s, tenant.id, "admin", PASSWORD, "admin", actor="bench")
        token = accounts.create_token(s, tenant.id, "bench", "admin", actor="bench").token
        rows = [
            {
                "tenant_id": tenant.id,
                "name": f"r{i:05d}",
                "host": f"10.{i // 250}.{i % 250}.1",
                "port": 22,
                "username": "admin",
                "site": f"site-{i % 20:02d}",
                "ros_version": "7.16",
                "last_backup_at": now,
                "last_backup_status": "unchanged",
                "created_at": now,
                "updated_at": now,
            }
            for i in range(devices)
        ]
        s.execute(insert(Device), rows)
        ids = [d.id for d in s.query(Device.id).order_by(Device.id)]
        s.execute(
            insert(DeviceTag),
            [{"device_id": d, "tag": f"pop{d % 10}", "tenant_id": tenant.id} for d in ids],
        )
        batch: list[dict[str, object]] = []
        for n, device_id in enumerate(ids):
            for v in range(1, versions + 1):
                text = CONFIG.format(i=n, a=n // 250, b=n % 250, v=v)
                batch.append(
                    {
                        "tenant_id": tenant.id,
                        "device_id": device_id,
                        "seq": v,
                        "sha256": hashlib.sha256(text.encode()).hexdigest(),
                        "content": zlib.compress(text.encode()),
                        "size": len(text),
                        "line_count": text.count("\n"),
                        "secrets_count": 0,
                        "trigger": "scheduled",
                        "lines_added": 1,
                        "lines_removed": 1,
                        "ros_version": "7.16",
                        "created_at": now - timedelta(days=versions - v),
                        "last_checked_at": now,
                    }
                )
            if len(batch) >= 5000:
                s.execute(insert(ConfigVersion), batch)
                batch.clear()
        if batch:
            s.execute(insert(ConfigVersion), batch)
        op, _ = store_ops.create_operation(s, tenant.id, kind="push", device_id=ids[0])
        device_id, op_id = ids[len(ids) // 2], op.id
    db.dispose()
    return token, device_id, op_id


def start_server(data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "TIKGUARD_DATA_DIR": str(data_dir), "TIKGUARD_BIND_PORT": str(port)}
    return subprocess.Popen(
        [sys.executable, "-m", "tikguard.cli", "serve"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


async def wait_up(base: str, proc: subprocess.Popen[bytes]) -> None:
    async with httpx.AsyncClient(base_url=base) as c:
        for _ in range(300):
            if proc.poll() is not None:
                raise SystemExit(
                    f"server exited: {proc.stderr.read().decode() if proc.stderr else ''}"
                )
            try:
                if (await c.get("/api/v1/health")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise SystemExit("server did not come up")


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))]


async def load(
    client: httpx.AsyncClient, name: str, path: str, seconds: float, concurrency: int
) -> Row:
    latencies: list[float] = []
    errors = 0
    stop = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal errors
        while time.perf_counter() < stop:
            t = time.perf_counter()
            r = await client.get(path)
            latencies.append(time.perf_counter() - t)
            if r.status_code != 200:
                errors += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    took = time.perf_counter() - started
    return Row(name, len(latencies), took, pct(latencies, 0.5), pct(latencies, 0.95), errors)


async def sse_fanout(
    base: str, headers: dict[str, str], db: Database, op_id: str, listeners: int, events: int
) -> tuple[float, list[float], int]:
    """Connect ``listeners`` to one operation, write ``events``; (connect s, delays, ok)."""
    tenant_id = 1
    sent: dict[int, float] = {}
    delays: list[float] = []
    complete = 0
    connected = 0
    all_connected = asyncio.Event()
    limits = httpx.Limits(max_connections=listeners + 10)
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=120, limits=limits) as c:

        async def listen() -> None:
            nonlocal connected, complete
            got = 0
            url = f"/api/v1/operations/{op_id}/stream"
            async with c.stream("GET", url) as r:
                async for line in r.aiter_lines():
                    if line.startswith("retry:"):
                        connected += 1
                        if connected == listeners:
                            all_connected.set()
                    elif line.startswith("id: "):
                        seq = int(line[4:])
                        delays.append(time.perf_counter() - sent[seq])
                        got += 1
                    elif line.startswith("event: end"):
                        break
            if got == events:
                complete += 1

        t0 = time.perf_counter()
        tasks = [asyncio.create_task(listen()) for _ in range(listeners)]
        await asyncio.wait_for(all_connected.wait(), 120)
        connect = time.perf_counter() - t0
        for i in range(events):

            def write(i: int = i) -> int:
                with db.transaction() as s:
                    e = store_ops.append_event(
                        s, tenant_id, op_id, stage=f"stage-{i}", message=f"event {i}"
                    )
                    return e.seq

            seq = await asyncio.to_thread(write)
            sent[seq] = time.perf_counter()
            await asyncio.sleep(0.05)
        await asyncio.to_thread(
            lambda: db.run(lambda s: store_ops.finish_operation(s, tenant_id, op_id, "committed"))
        )
        await asyncio.gather(*tasks)
    return connect, delays, complete


def new_op(db: Database) -> str:
    with db.transaction() as s:
        op, _ = store_ops.create_operation(s, 1, kind="push", device_id=None)
        return op.id


async def run(args: argparse.Namespace) -> None:
    root = Path(tempfile.mkdtemp(prefix="tg-bench-api-"))
    settings = Settings(data_dir=root / "data")
    t = time.perf_counter()
    token, device_id, _ = seed(settings, args.devices, args.versions)
    print(
        f"seeded {args.devices} devices x {args.versions} versions in "
        f"{time.perf_counter() - t:.1f} s"
    )
    port = 18000 + os.getpid() % 1000
    proc = start_server(settings.data_dir, port)
    base = f"http://127.0.0.1:{port}"
    try:
        await wait_up(base, proc)
        auth = {"Authorization": f"Bearer {token}"}
        limits = httpx.Limits(max_connections=args.concurrency + 5)
        async with httpx.AsyncClient(base_url=base, headers=auth, limits=limits, timeout=60) as c:
            login = await c.post("/login", data={"username": "admin", "password": PASSWORD})
            assert login.status_code == 303, login.text
            cases = [
                ("health (baseline)", "/api/v1/health"),
                (f"API fleet list ({args.devices})", "/api/v1/devices"),
                ("UI fleet page", "/"),
                (f"API versions ({args.versions})", f"/api/v1/devices/{device_id}/versions"),
                ("UI device page", f"/devices/{device_id}"),
                ("API diff v1..v50", f"/api/v1/devices/{device_id}/diff?old=1&new=-1"),
                ("API version as text (.rsc)", f"/api/v1/devices/{device_id}/versions/-1.rsc"),
                (f"Oxidized nodes ({args.devices})", "/oxidized/nodes.json"),
                ("Oxidized node show (name)", "/oxidized/node/show/r00001.json"),
                (
                    f"Oxidized versions ({args.versions})",
                    "/oxidized/node/version.json?node_full=r00001",
                ),
            ]
            for _name, path in cases:  # warm up
                await c.get(path)
            rows = [
                await load(c, name, path, args.seconds, args.concurrency) for name, path in cases
            ]
        base_rps = rows[0].rps
        print(f"\nrequests, {args.concurrency} in flight, {args.seconds:g} s each")
        head = ("endpoint", "req/s", "p50 ms", "p95 ms", "vs baseline", "errors")
        print(f"{head[0]:28} {head[1]:>9} {head[2]:>8} {head[3]:>8} {head[4]:>12} {head[5]:>6}")
        for r in rows:
            print(
                f"{r.name:28} {r.rps:9.1f} {r.p50 * 1000:8.1f} {r.p95 * 1000:8.1f} "
                f"{r.rps / base_rps:11.3f}x {r.errors:6d}"
            )
        db = Database.open(settings)
        try:
            print(f"\nSSE: {args.events} events, 50 ms apart, to N listeners of one operation")
            cols = ("listeners", "connect s", "p50 ms", "p95 ms", "max ms", "complete")
            print(" ".join(f"{c:>9}" for c in cols))
            for n in (1, args.listeners):
                op_id = new_op(db)
                connect, delays, ok = await sse_fanout(base, auth, db, op_id, n, args.events)
                print(
                    f"{n:9d} {connect:10.2f} {statistics.median(delays) * 1000:8.1f} "
                    f"{pct(delays, 0.95) * 1000:8.1f} {max(delays) * 1000:8.1f} {ok:>5}/{n}"
                )
        finally:
            db.dispose()
    finally:
        proc.terminate()
        proc.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--versions", type=int, default=50)
    parser.add_argument("--listeners", type=int, default=200)
    parser.add_argument("--events", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
