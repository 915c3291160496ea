"""Store throughput: recording backups and mirroring them to git, per router.

For N routers (corpus exports, each made unique by its identity line): the first
backup of each (a new version), a second unchanged backup (hash check only), a third
where 10% changed, in batched transactions like the fleet backup writes them; then the
git mirror's initial catch-up (N commits) and an incremental run (the 10%).
Baseline in the same run: inserting the same compressed texts into a bare table
(the least any database-backed history does).

Run: ``python bench/bench_store.py [--devices N] [--postgres URL]``.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import zlib
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Column, Integer, LargeBinary, MetaData, String, Table, text

from tikguard.settings import Settings
from tikguard.store.db import Database
from tikguard.store.devices import add_device
from tikguard.store.mirror import sync_tenant
from tikguard.store.tenants import create_tenant
from tikguard.store.versions import record_backup

REPO = Path(__file__).resolve().parents[1]
CORPUS = Path(os.environ.get("TIKGUARD_CORPUS", REPO.parent / "shared" / "corpus")) / "exports"
BATCH = 100


def _texts(n: int) -> list[str]:
    sources = sorted(CORPUS.glob("*.rsc")) if CORPUS.is_dir() else []
    bodies = [p.read_text("utf-8", "replace") for p in sources] or ["/ip address\nadd a=1\n"]
    return [f"{bodies[i % len(bodies)]}/system identity\nset name=r{i}\n" for i in range(n)]


def _timed(fn: Callable[[], object]) -> tuple[float, float]:
    w, c = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - w, time.process_time() - c


def run(db: Database, n: int) -> list[tuple[str, int, float, float]]:
    texts = _texts(n)
    secrets = {"/user admin password": "bench-secret", "/ppp secret a password": "x"}
    with db.transaction() as s:
        tenant = create_tenant(s, f"bench{os.getpid()}")
        ids = [
            add_device(
                s,
                tenant.id,
                name=f"r{i}",
                host=f"10.{i >> 16}.{i >> 8 & 255}.{i & 255}",
                username="admin",
                password="pw",
            ).id
            for i in range(n)
        ]

    def backups(changed: Callable[[int], bool]) -> None:
        for start in range(0, n, BATCH):
            with db.transaction() as s:
                for i in range(start, min(n, start + BATCH)):
                    body = texts[i] + ("# changed\n" if changed(i) else "")
                    record_backup(
                        s,
                        tenant.id,
                        ids[i],
                        normalised_redacted_text=body,
                        secrets=secrets,
                        ros_version="7.16",
                        trigger="scheduled",
                    )

    def baseline() -> None:
        meta = MetaData()
        table = Table(
            f"bench_bare_{os.getpid()}",
            meta,
            Column("id", Integer, primary_key=True),
            Column("device", Integer),
            Column("sha", String(64)),
            Column("blob", LargeBinary),
        )
        meta.create_all(db.engine)
        try:
            for start in range(0, n, BATCH):
                with db.engine.begin() as conn:
                    conn.execute(
                        table.insert(),
                        [
                            {"device": i, "sha": "0" * 64, "blob": zlib.compress(texts[i].encode())}
                            for i in range(start, min(n, start + BATCH))
                        ],
                    )
        finally:
            meta.drop_all(db.engine)

    rows = []
    for label, fn in [
        ("bare insert (baseline)", baseline),
        ("first backup (new version)", lambda: backups(lambda i: False)),
        ("unchanged backup", lambda: backups(lambda i: False)),
        ("10% changed backup", lambda: backups(lambda i: i % 10 == 0)),
        ("git mirror catch-up", lambda: sync_tenant(db, tenant.id, push=False)),
    ]:
        wall, cpu = _timed(fn)
        rows.append((label, n, wall, cpu))
    wall, cpu = _timed(lambda: backups(lambda i: i % 10 == 0 or i % 10 == 1))
    rows.append(("10% changed again", n, wall, cpu))
    wall, cpu = _timed(lambda: sync_tenant(db, tenant.id, push=False))
    rows.append(("git mirror incremental (20%)", n // 5, wall, cpu))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--postgres", default=os.environ.get("TIKGUARD_TEST_POSTGRES_URL", ""))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        backends = [("sqlite", Settings(data_dir=Path(tmp) / "sqlite"))]
        if args.postgres:
            backends.append(
                ("postgresql", Settings(data_dir=Path(tmp) / "pg", database_url=args.postgres))
            )
        print(
            f"{'backend':<11} {'step':<30} {'rows':>6} {'wall s':>8} {'ms/row':>8} "
            f"{'cpu ms/row':>10}"
        )
        for name, settings in backends:
            db = Database.open(settings)
            try:
                for label, count, wall, cpu in run(db, args.devices):
                    print(
                        f"{name:<11} {label:<30} {count:>6} {wall:>8.2f} "
                        f"{1000 * wall / count:>8.3f} {1000 * cpu / count:>10.3f}"
                    )
            finally:
                if name == "postgresql":
                    with db.engine.begin() as conn:
                        conn.execute(text("DELETE FROM tenants WHERE name LIKE 'bench%'"))
                db.dispose()


if __name__ == "__main__":
    main()
