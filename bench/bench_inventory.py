"""Inventory sync of a large source: an Oxidized CSV of N routers (each with a password),
synced into an empty tenant, then synced again.

Baseline, measured in the same run on the same rows: ``tikguard device import`` of
tikguard's own CSV (``ops.devices.import_rows``) into another empty tenant. Rows:
dry-run, first sync (adds every router), re-sync (nothing changes); CPU and wall time,
each with its ratio to the baseline's CPU.

Run: ``python bench/bench_inventory.py [--routers N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tikguard.ops import devices as device_ops
from tikguard.ops import inventory as inv
from tikguard.settings import Settings
from tikguard.store.db import Database


def timed(fn: Callable[[], Any]) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--routers", type=int, default=5000)
    n = parser.parse_args().routers
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp) / "data")
        db = Database.open(settings)
        base, tid = device_ops.default_tenant_id(db, "baseline"), device_ops.default_tenant_id(db)
        hosts = [f"10.{i // 65536}.{(i // 256) % 256}.{i % 256}" for i in range(n)]
        own = "name,host,password\n" + "".join(f"r{i},{h},pw\n" for i, h in enumerate(hosts))
        rows = device_ops.parse_inventory(own)
        source = Path(tmp) / "router.db"
        source.write_text("".join(f"r{i}:routeros:{h}\n" for i, h in enumerate(hosts)))
        config = inv.build_config(
            "oxidized-csv",
            path=str(source),
            mapping={"name": "0", "model": "1", "ip": "2"},
            has_password=True,
        )
        inv.add_source(
            db, tid, actor="bench", name="ox", kind="oxidized-csv", config=config, password="pw"
        )

        def sync(dry: bool) -> None:
            asyncio.run(
                inv.sync(db, settings, tid, "ox", actor="bench", dry_run=dry, as_operator=True)
            )

        results = [
            (
                "device import (baseline)",
                timed(lambda: device_ops.import_rows(db, base, rows, actor="bench")),
            ),
            ("inventory sync --dry-run", timed(lambda: sync(True))),
            ("inventory sync (adds all)", timed(lambda: sync(False))),
            ("inventory sync (unchanged)", timed(lambda: sync(False))),
        ]
        db.dispose()
    baseline = results[0][1][1]
    print(f"{n} routers")
    print(f"{'case':30} {'wall s':>8} {'CPU s':>8} {'CPU x base':>10}")
    for label, (wall, cpu) in results:
        print(f"{label:30} {wall:8.2f} {cpu:8.2f} {cpu / baseline:10.2f}")


if __name__ == "__main__":
    main()
