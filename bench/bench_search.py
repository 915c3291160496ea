"""Fleet config search: the index beside a plain regex scan of the same texts.

A fleet of ``--routers`` (10,000 by default) is stored through the one write path
(``store.versions.record_backups``, which indexes each version as it is stored): router
*i* gets corpus export *i mod 40* with its own identity and management address, so
every router's configuration is distinct, as in a real fleet built from templates.
Then each query runs through ``ops.search.search`` (what ``tikguard search`` calls), and
the same question is answered by a plain scan: read every router's newest version,
decompress it and run a regular expression over it (what ``rollout --match`` does).

    python bench/bench_search.py                   # 10,000 routers
    python bench/bench_search.py --routers 1000

Prints one table: per query the routers and lines found, the indexed search's time
(best of ``--repeat``) and the scan's, and the ratio. The scan's regex is the nearest a
regex gets to the structured query (it cannot apply factory values or item boundaries:
its counts differ where the query needs the model).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import zlib
from pathlib import Path

import regex
from sqlalchemy import func, select

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from tikguard.ops import search as search_ops  # noqa: E402
from tikguard.ops.backup.snapshot import prepare  # noqa: E402
from tikguard.settings import Settings  # noqa: E402
from tikguard.store import devices as store_devices  # noqa: E402
from tikguard.store import versions as store_versions  # noqa: E402
from tikguard.store.db import Database  # noqa: E402
from tikguard.store.models import (  # noqa: E402
    ConfigVersion,
    SearchItem,
    SearchLine,
    SearchLink,
    SearchSection,
    Tenant,
)
from tikguard.store.tenants import create_tenant  # noqa: E402

CORPUS = Path(os.environ.get("TIKGUARD_CORPUS", REPO.parent / "shared" / "corpus")) / "exports"

#: (query, the plain scan's regex for the same question)
QUERIES: list[tuple[str, str]] = [
    ("/ip service name=telnet disabled=no", r"(?m)^set telnet(?!.*disabled=yes)"),
    ("/ip dns servers~8\\.8\\.8\\.8", r"(?m)^/ip dns\n(?:.*\n)*?set .*servers=[^ ]*8\.8\.8\.8"),
    (
        "/ip firewall filter chain=input action=drop",
        r"chain=input.*action=drop|action=drop.*chain=input",
    ),
    ("/system identity name=r00042", r"(?m)^set name=r00042$"),
    ("re:comment=mgmt-0*4242\\b", r"comment=mgmt-0*4242\b"),
    ("re:8\\.8\\.4\\.4", r"8\.8\.4\.4"),
]


def corpus_texts() -> list[tuple[str, str | None]]:
    if not CORPUS.is_dir():
        raise SystemExit(f"corpus not found at {CORPUS} (set TIKGUARD_CORPUS)")
    out = []
    for path in sorted(CORPUS.glob("*.rsc")):
        try:
            redacted, _, version, _ = prepare(path.read_bytes().decode("utf-8", "surrogateescape"))
        except Exception:
            continue
        out.append((redacted, version))
    return out


def build(db: Database, routers: int, batch: int = 250) -> tuple[int, float]:
    """Store ``routers`` distinct corpus-sized configurations; (tenant id, seconds)."""
    texts = corpus_texts()
    with db.transaction() as s:
        tenant_id = create_tenant(s, "bench").id
    started = time.perf_counter()
    for first in range(0, routers, batch):
        with db.transaction() as s:
            items = []
            for i in range(first, min(first + batch, routers)):
                text, version = texts[i % len(texts)]
                device = store_devices.add_device(
                    s,
                    tenant_id,
                    name=f"r{i:05d}",
                    host=f"10.{i // 65536}.{i // 256 % 256}.{i % 256}",
                    username="u",
                )
                address = f"10.{i // 65536}.{i // 256 % 256}.{i % 256}"
                own = (
                    f"/system identity\nset name=r{i:05d}\n/ip address\n"
                    f"add address={address}/32 comment=mgmt-{i:05d} interface=lo\n"
                )
                items.append(store_versions.BackupInput(device.id, text + own, {}, version))
            store_versions.record_backups(s, tenant_id, items, trigger="manual")
        print(f"  stored {min(first + batch, routers)} routers", file=sys.stderr, end="\r")
    print(file=sys.stderr)
    return tenant_id, time.perf_counter() - started


def scan(db: Database, tenant_id: int, pattern: str) -> tuple[int, int]:
    """(routers, matches) by reading and scanning every router's newest version."""
    compiled = regex.compile(pattern)
    v = ConfigVersion
    newest = (
        select(v.device_id, func.max(v.seq).label("seq"))
        .where(v.tenant_id == tenant_id)
        .group_by(v.device_id)
        .subquery()
    )
    routers = lines = 0
    with db.session() as s:
        rows = s.execute(
            select(v.content).join(
                newest, (v.device_id == newest.c.device_id) & (v.seq == newest.c.seq)
            )
        )
        for (content,) in rows:
            text = zlib.decompress(content).decode("utf-8", "surrogateescape")
            found = len(compiled.findall(text, timeout=5))
            routers += bool(found)
            lines += found
    return routers, lines


def best(repeat: int, fn, *args, **kwargs):  # type: ignore[no-untyped-def]
    times = []
    result = None
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn(*args, **kwargs)
        times.append(time.perf_counter() - started)
    return min(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--routers", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--data-dir",
        type=Path,
        help="Keep the fleet here (built on the first run, reused after: queries only).",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tg-bench-search-") as tmp:
        db = Database.open(Settings(data_dir=args.data_dir or Path(tmp)))
        try:
            with db.session() as s:
                found = s.scalar(select(Tenant.id).where(Tenant.name == "bench"))
            if found is None:
                tenant_id, stored = build(db, args.routers)
            else:
                tenant_id, stored = found, float("nan")
            with db.session() as s:
                sizes = {
                    name: s.scalar(select(func.count()).select_from(model))
                    for name, model in (
                        ("versions", ConfigVersion),
                        ("sections", SearchSection),
                        ("items", SearchItem),
                        ("lines", SearchLine),
                        ("links", SearchLink),
                    )
                }
                text_bytes = s.scalar(select(func.sum(ConfigVersion.size)))
            print(
                f"{args.routers} routers, {text_bytes / 1e6:.0f} MB of configuration text,"
                f" stored and indexed in {stored:.1f} s"
                f" ({stored / args.routers * 1000:.1f} ms per router)"
            )
            print("index rows: " + ", ".join(f"{k} {v:,}" for k, v in sizes.items()))
            print()
            header = (
                f"{'query':48} {'routers':>8} {'lines':>7} {'indexed':>9} {'scan':>9} {'ratio':>7}"
            )
            print(header)
            print("-" * len(header))
            for query, pattern in QUERIES:
                indexed, result = best(
                    args.repeat, search_ops.search, db, tenant_id, query, max_lines=10**6
                )
                scanned, (scan_routers, _) = best(1, scan, db, tenant_id, pattern)
                routers = len({r.device for r in result.routers})
                print(
                    f"{query:48} {routers:>8} {result.lines:>7} {indexed * 1000:>7.0f}ms"
                    f" {scanned * 1000:>7.0f}ms {scanned / indexed:>6.1f}x"
                    + (f"  (scan found {scan_routers} routers)" if scan_routers != routers else "")
                )
        finally:
            db.dispose()


if __name__ == "__main__":
    main()
