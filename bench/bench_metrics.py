"""A /metrics scrape of a large fleet: N routers with a few versions each and a finished
push each, on SQLite (the embedded default).

Baseline, measured in the same run on the same database: one plain query reading every
device row (``SELECT * FROM devices``), the least a per-router metric must read. Rows:
the scrape (every family, rendered as Prometheus text) and the baseline, wall and CPU,
with the scrape's ratio to the baseline.

Run: ``python bench/bench_metrics.py [--routers N]``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from prometheus_client import generate_latest
from sqlalchemy import select

from tikguard.ops import devices as device_ops
from tikguard.ops import metrics
from tikguard.settings import Settings
from tikguard.store import operations as store_ops
from tikguard.store import versions as store_versions
from tikguard.store.db import Database
from tikguard.store.models import Device, Operation, utcnow


def timed(fn: Callable[[], Any]) -> tuple[float, float, Any]:
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return time.perf_counter() - wall, time.process_time() - cpu, out


def seed(db: Database, tenant_id: int, n: int) -> None:
    rows = device_ops.parse_inventory(
        "name,host\n"
        + "".join(f"r{i},10.{i // 65536}.{(i // 256) % 256}.{i % 256}\n" for i in range(n))
    )
    device_ops.import_rows(db, tenant_id, rows, actor="bench")
    with db.transaction() as s:
        ids = list(s.scalars(select(Device.id).where(Device.tenant_id == tenant_id)))
        for version in range(3):
            items = [
                store_versions.BackupInput(
                    d, f"/system identity\nset name=r{d}-{version}\n", {}, "7.16"
                )
                for d in ids
            ]
            store_versions.record_backups(s, tenant_id, items, trigger="scheduled")
        for d in ids:
            op, _ = store_ops.create_operation(s, tenant_id, kind="push", device_id=d)
            store_ops.set_state(s, tenant_id, op.id, "running")
            s.get(Operation, op.id).started_at = utcnow() - timedelta(seconds=30 + d % 200)  # type: ignore[union-attr]
            store_ops.finish_operation(s, tenant_id, op.id, "committed" if d % 10 else "reverted")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--routers", type=int, default=2000)
    n = parser.parse_args().routers
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp) / "data")
        db = Database.open(settings)
        seed(db, device_ops.default_tenant_id(db), n)
        registry = metrics.registry(db, settings)
        generate_latest(registry)  # warm the caches both rows then use

        def baseline() -> int:
            with db.session() as s:
                return len(s.execute(select(Device)).all())

        b_wall, b_cpu, _ = timed(baseline)
        s_wall, s_cpu, body = timed(lambda: generate_latest(registry))
        print(f"routers: {n}, scrape size: {len(body) / 1024:.0f} KiB")
        print(f"{'row':<28}{'wall s':>10}{'cpu s':>10}{'x baseline cpu':>16}")
        print(f"{'read every device row':<28}{b_wall:>10.3f}{b_cpu:>10.3f}{1.0:>16.1f}")
        print(f"{'/metrics scrape':<28}{s_wall:>10.3f}{s_cpu:>10.3f}{s_cpu / b_cpu:>16.1f}")
        db.dispose()


if __name__ == "__main__":
    main()
