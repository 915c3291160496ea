"""A fleet of corpus configurations in a real SQLite store, and a brute-force search.

The brute force reads every stored text and evaluates a query item by item and line by
line, with none of the index (no sections shared, no links, no SQL): the search and the
compliance tests check that the index answers exactly the same.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Final

from tests.conftest import corpus_exports

from tikguard.ops.backup.snapshot import prepare
from tikguard.routeros.query import Query
from tikguard.routeros.searchable import (
    SearchItem,
    config_items,
    excerpt,
    section_lines,
    sections,
)
from tikguard.settings import Settings
from tikguard.store import devices as store_devices
from tikguard.store import versions as store_versions
from tikguard.store.db import Database
from tikguard.store.tenants import create_tenant


@dataclass
class Fleet:
    db: Database
    tenant_id: int
    #: device name -> [(text, ros_version)] oldest first.
    versions: dict[str, list[tuple[str, str | None]]]
    sites: dict[str, str]
    #: Every secret value the corpus exports hold (kept out of the store by redaction).
    secrets: set[str]


def corpus_texts(secrets: set[str] | None = None) -> list[tuple[str, str, str | None]]:
    """(file stem, redacted text, RouterOS version) of every corpus export that parses;
    the secret values split off go into ``secrets``."""
    out = []
    for path in corpus_exports():
        raw = path.read_bytes().decode("utf-8", "surrogateescape")
        try:
            redacted, found, version, _ = prepare(raw)
        except Exception:
            continue
        if secrets is not None:
            secrets.update(found.values())
        out.append((path.stem, redacted, version))
    return out


#: A router whose secrets are unique strings, so a leak cannot hide behind a coincidence.
SECRET_ROUTER: Final = r"""# 2026-12-03 10:00:00 by RouterOS 7.16
# model = CHR
/interface wireless security-profiles
add name=office mode=dynamic-keys wpa2-pre-shared-key=Zq8secretWPA
/ppp secret
add name=alice password=Zq8secretPPP service=pppoe
/snmp community
add name=Zq8secretCOMMUNITY addresses=10.0.0.0/8
/system script
add name=mail source=":local pw \"Zq8secretSCRIPT\"\r\n/tool e-mail send password=\$pw"
"""
SECRET_MARK: Final = "Zq8secret"


def build_fleet(data_dir: Path) -> Fleet:
    """Every corpus export as a router with two versions: an older one (with an extra
    DNS server and a note) and the export itself; sites alternate north/south."""
    db = Database.open(Settings(data_dir=data_dir))
    secrets: set[str] = set()
    texts = corpus_texts(secrets)
    redacted, _, version, _ = prepare(SECRET_ROUTER)
    texts.append(("secret-router", redacted, version))
    versions: dict[str, list[tuple[str, str | None]]] = {}
    sites: dict[str, str] = {}
    with db.transaction() as s:
        tenant = create_tenant(s, "acme")
        other = create_tenant(s, "other")
        for index, (stem, text, version) in enumerate(texts):
            name = f"r{index:02d}"
            site = "north" if index % 2 else "south"
            sites[name] = site
            device = store_devices.add_device(
                s, tenant.id, name=name, host=f"10.0.0.{index + 1}", username="u", site=site
            )
            device.host_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPlaceholderKeyForPlansOnly"
            older = (
                text + f"/ip dns\nset servers=192.0.2.{index}\n/system note\nset note=old-{stem}\n"
            )
            versions[name] = [(older, version), (text, version)]
            for body in (older, text):
                store_versions.record_backup(
                    s,
                    tenant.id,
                    device.id,
                    normalised_redacted_text=body,
                    secrets={},
                    ros_version=version,
                    trigger="manual",
                )
        # Another tenant with one router of the same configuration: never in acme's results.
        twin = store_devices.add_device(s, other.id, name="twin", host="10.9.9.9", username="u")
        store_versions.record_backup(
            s,
            other.id,
            twin.id,
            normalised_redacted_text=texts[0][1],
            secrets={},
            ros_version=texts[0][2],
            trigger="manual",
        )
    return Fleet(db, tenant.id, versions, sites, secrets)


@lru_cache(maxsize=256)
def _items(text: str, version: str | None) -> list[SearchItem]:
    return config_items(text, version)


@lru_cache(maxsize=256)
def _lines(text: str) -> list[str]:
    return [line for section in sections(text) for line in section_lines(section)]


def _holds(op: str, want: str, value: str | None, pattern: re.Pattern[str] | None) -> bool:
    if op in ("=", "!="):
        equal = (value or "") == "" if want == "" else value == want
        return equal if op == "=" else not equal
    assert pattern is not None
    found = pattern.search(value or "") is not None
    return found if op == "~" else not found


def brute_force(
    fleet: Fleet, query: Query, *, history: bool = False
) -> Counter[tuple[str, int, str]]:
    """``(device, version index, line)`` counted, for every match of ``query``."""
    out: Counter[tuple[str, int, str]] = Counter()
    for name, stored in fleet.versions.items():
        chosen = list(enumerate(stored)) if history else [(len(stored) - 1, stored[-1])]
        for index, (text, version) in chosen:
            if query.structured:
                conditions = [
                    (c.key, c.op, c.value, re.compile(c.value, re.M) if "~" in c.op else None)
                    for c in query.conditions
                ]
                for item in _items(text, version):
                    if item.menu == query.menu and all(
                        _holds(op, want, item.props.get(key), pat)
                        for key, op, want, pat in conditions
                    ):
                        out[(name, index, item.line)] += 1
            else:
                assert query.pattern is not None
                for line in _lines(text):
                    found = query.pattern.search(line)
                    if found:
                        out[(name, index, excerpt(line, found.start(), found.end()))] += 1
    return out
