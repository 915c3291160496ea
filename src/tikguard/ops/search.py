"""Fleet config search: which routers have what, answered from the search index.

``tikguard search``, ``GET /api/v1/search`` and the compliance rules all run queries of
one language (:mod:`tikguard.routeros.query`) through :func:`search`. Results are
grouped by router, each with its matching lines (secrets never shown: the index holds
none). Versions stored before the index existed are indexed first, once.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Final

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tikguard.routeros.patterns import PatternError
from tikguard.routeros.query import Query, QueryError, parse_query
from tikguard.store import search_index
from tikguard.store.db import Database
from tikguard.store.errors import InvalidInput
from tikguard.store.models import ConfigVersion, Device, DeviceTag, SearchLink

#: Lines shown per router at most (the count says how many matched).
MAX_LINES: Final = 50


@dataclass(frozen=True)
class Match:
    """One matching line: the menu it is in and the command in terse form."""

    menu: str
    line: str


@dataclass
class RouterMatches:
    """One router's matching lines in one version."""

    device: str
    device_id: int
    version: int
    version_id: int
    count: int = 0
    lines: list[Match] = field(default_factory=list)


@dataclass
class SearchResult:
    """A query's answer: the routers that match, by name (newest version first within a
    router with ``history``)."""

    query: str
    structured: bool
    history: bool
    routers: list[RouterMatches]
    #: Routers of the tenant (in scope) that have a stored version at all.
    searched: int

    @property
    def lines(self) -> int:
        return sum(r.count for r in self.routers)


def compile_query(text: str, *, regex: bool = False) -> Query:
    """Parse a query (``regex``: the whole text is a regular expression), with a clear
    error for bad input."""
    try:
        return parse_query(("re:" + text) if regex and not text.startswith("re:") else text)
    except (QueryError, PatternError) as exc:
        raise InvalidInput(str(exc)) from None


def ensure_indexed(db: Database, tenant_id: int) -> int:
    """Index the tenant's versions stored before the index existed; how many."""
    with db.session() as s:
        if not _unindexed(s, tenant_id):
            return 0
    with db.transaction() as s:
        return search_index.backfill(s, tenant_id)


def _unindexed(session: Session, tenant_id: int) -> bool:
    v = ConfigVersion
    linked = select(SearchLink.version_id).where(SearchLink.version_id == v.id).exists()
    return (
        session.scalar(select(v.id).where(v.tenant_id == tenant_id, ~linked).limit(1)) is not None
    )


def search(
    db: Database,
    tenant_id: int,
    text: str,
    *,
    regex: bool = False,
    history: bool = False,
    tag: str | None = None,
    site: str | None = None,
    max_lines: int = MAX_LINES,
) -> SearchResult:
    """Run a query over the tenant's routers (newest versions; every version with
    ``history``), optionally only those with a tag or at a site."""
    query = compile_query(text, regex=regex)
    ensure_indexed(db, tenant_id)
    with db.session() as s:
        try:
            hits = search_index.find(s, tenant_id, query, history=history)
        except PatternError as exc:
            raise InvalidInput(str(exc)) from None
        devices = _in_scope(s, tenant_id, tag, site)
        has_version = select(ConfigVersion.id).where(ConfigVersion.device_id == Device.id).exists()
        searched = s.scalar(
            _scoped(select(func.count()).select_from(Device), tenant_id, tag, site).where(
                has_version
            )
        )
    grouped: dict[int, RouterMatches] = {}
    for hit in hits:
        device = devices.get(hit.device_id)
        if device is None:
            continue
        found = grouped.get(hit.version_id)
        if found is None:
            found = grouped[hit.version_id] = RouterMatches(
                device, hit.device_id, hit.seq, hit.version_id
            )
        found.count += 1
        if len(found.lines) < max_lines:
            found.lines.append(Match(hit.menu, hit.line))
    routers = sorted(grouped.values(), key=lambda r: (r.device, -r.version))
    return SearchResult(
        query.canonical(),
        query.structured,
        history,
        routers,
        searched=searched or 0,
    )


def _in_scope(
    session: Session, tenant_id: int, tag: str | None, site: str | None
) -> dict[int, str]:
    """The tenant's routers (with ``tag``, at ``site``) by id: their names."""
    query = _scoped(select(Device.id, Device.name), tenant_id, tag, site)
    return {row.id: row.name for row in session.execute(query)}


def _scoped(query: Any, tenant_id: int, tag: str | None, site: str | None) -> Any:
    """``query`` (a select over devices) kept to the tenant's routers in scope."""
    query = query.where(Device.tenant_id == tenant_id)
    if site is not None:
        query = query.where(Device.site == site)
    if tag is not None:
        tagged = select(DeviceTag.device_id).where(
            DeviceTag.tenant_id == tenant_id, DeviceTag.tag == tag
        )
        query = query.where(Device.id.in_(tagged))
    return query


def matching_devices(result: SearchResult) -> list[str]:
    """The names of the routers a result names, each once, sorted."""
    return sorted({r.device for r in result.routers})


def by_device(result: SearchResult) -> dict[str, list[RouterMatches]]:
    out: dict[str, list[RouterMatches]] = defaultdict(list)
    for r in result.routers:
        out[r.device].append(r)
    return out
