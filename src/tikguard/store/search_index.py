"""The fleet search index: each stored version's sections, items and lines.

Written in the transaction that stores a version (:mod:`tikguard.store.versions` calls
:func:`index_versions`), so a search never misses a version that exists. A section is
stored once per tenant however many versions share it (its digest is its key), so a
fleet of routers built from templates costs its distinct sections, not routers x size;
each version gets one link per section, and ``latest`` marks the device's newest
version's links so a fleet search reads only those. Versions stored before the index
existed are indexed by :func:`backfill` (a search runs it first).

:func:`find` answers a parsed query (:mod:`tikguard.routeros.query`): a structured one
evaluates the conditions on the *distinct* items of its menu and then follows the
links; a regex runs over the distinct lines, within one time budget. Both return the
same :class:`Hit` rows a brute-force search of the texts would.
"""

from __future__ import annotations

import bisect
import zlib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

import regex
from sqlalchemy import Table, and_, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from tikguard.routeros.patterns import Budget
from tikguard.routeros.query import Query
from tikguard.routeros.searchable import (
    Section,
    excerpt,
    section_items,
    section_lines,
    sections,
)
from tikguard.store.models import (
    ConfigVersion,
    SearchItem,
    SearchLine,
    SearchLink,
    SearchSection,
)

#: The time one regex query may take over all the lines it reads (seconds).
REGEX_BUDGET: Final = 2.0
#: Ids per ``IN (...)`` list.
_CHUNK: Final = 900
_SECTIONS: Table = SearchSection.__table__  # type: ignore[assignment]
_ITEMS: Table = SearchItem.__table__  # type: ignore[assignment]
_LINES: Table = SearchLine.__table__  # type: ignore[assignment]
_LINKS: Table = SearchLink.__table__  # type: ignore[assignment]
_VERSIONS: Table = ConfigVersion.__table__  # type: ignore[assignment]


@dataclass(frozen=True)
class Indexable:
    """One stored version to index: its text is the normalised, redacted export."""

    version_id: int
    device_id: int
    seq: int
    text: str
    ros_version: str | None


@dataclass(frozen=True)
class Hit:
    """One matching line of one version."""

    version_id: int
    device_id: int
    seq: int
    menu: str
    line: str


def _chunks(values: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]


def index_versions(session: Session, tenant_id: int, versions: Sequence[Indexable]) -> None:
    """Index ``versions`` (new ones; their devices' newest links move to them)."""
    if not versions:
        return
    wanted: dict[str, tuple[Section, str | None]] = {}
    per_version: list[tuple[Indexable, list[str]]] = []
    for version in versions:
        digests: list[str] = []
        for section in sections(version.text):
            digest = section.digest(version.ros_version)
            wanted.setdefault(digest, (section, version.ros_version))
            digests.append(digest)
        per_version.append((version, list(dict.fromkeys(digests))))
    ids = _section_ids(session, tenant_id, wanted)
    rows = [
        {
            "version_id": version.version_id,
            "section_id": ids[digest],
            "tenant_id": tenant_id,
            "device_id": version.device_id,
            "seq": version.seq,
            "latest": False,
        }
        for version, digests in per_version
        for digest in digests
    ]
    if rows:
        session.execute(insert(_LINKS), rows)
    refresh_latest(session, tenant_id, sorted({v.device_id for v in versions}))


def _section_ids(
    session: Session, tenant_id: int, wanted: dict[str, tuple[Section, str | None]]
) -> dict[str, int]:
    """The ids of the sections ``wanted`` names, storing (and parsing) the new ones."""
    digests = list(wanted)
    ids = _known(session, tenant_id, digests)
    missing = [d for d in digests if d not in ids]
    if not missing:
        return ids
    dialect = session.get_bind().dialect.name
    maker = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = (
        maker(_SECTIONS).on_conflict_do_nothing().returning(_SECTIONS.c.id, _SECTIONS.c.digest)
    )
    created: dict[str, int] = {}
    for chunk in _chunks(missing):
        values = [
            {"tenant_id": tenant_id, "digest": d, "menu": wanted[d][0].menu[:255]} for d in chunk
        ]
        for row in session.execute(statement, values):
            created[row.digest] = row.id
    # Sections another transaction stored meanwhile (PostgreSQL waits for it on conflict).
    ids.update(created)
    ids.update(_known(session, tenant_id, [d for d in missing if d not in created]))
    items: list[dict[str, Any]] = []
    lines: list[dict[str, Any]] = []
    for digest, section_id in created.items():
        section, ros_version = wanted[digest]
        for item in section_items(section, ros_version):
            items.append(
                {
                    "tenant_id": tenant_id,
                    "section_id": section_id,
                    "menu": item.menu[:255],
                    "line": item.line,
                    "props": item.props,
                }
            )
        for position, text in enumerate(section_lines(section)):
            lines.append(
                {
                    "tenant_id": tenant_id,
                    "section_id": section_id,
                    "position": position,
                    "text": text,
                }
            )
    if items:
        session.execute(insert(_ITEMS), items)
    if lines:
        session.execute(insert(_LINES), lines)
    return ids


def _known(session: Session, tenant_id: int, digests: Sequence[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    c = _SECTIONS.c
    for chunk in _chunks(digests):
        query = select(c.digest, c.id).where(c.tenant_id == tenant_id, c.digest.in_(chunk))
        out.update((row.digest, row.id) for row in session.execute(query))
    return out


def refresh_latest(session: Session, tenant_id: int, device_ids: Sequence[int]) -> None:
    """Mark the links of each device's newest stored version ``latest``, no others."""
    v = _VERSIONS.c
    for chunk in _chunks(device_ids):
        newest_seq = (
            select(v.device_id, func.max(v.seq).label("seq"))
            .where(v.tenant_id == tenant_id, v.device_id.in_(chunk))
            .group_by(v.device_id)
            .subquery()
        )
        newest = list(
            session.scalars(
                select(v.id).join(
                    newest_seq,
                    and_(v.device_id == newest_seq.c.device_id, v.seq == newest_seq.c.seq),
                )
            )
        )
        l = _LINKS.c  # noqa: E741
        session.execute(
            update(_LINKS)
            .where(l.tenant_id == tenant_id, l.device_id.in_(chunk), l.latest.is_(True))
            .values(latest=False),
            execution_options={"synchronize_session": False},
        )
        session.execute(
            update(_LINKS).where(l.version_id.in_(newest)).values(latest=True),
            execution_options={"synchronize_session": False},
        )


def backfill(session: Session, tenant_id: int, batch: int = 200) -> int:
    """Index the tenant's versions that have no links yet (stored before the index
    existed); returns how many. Oldest first, so each device's newest ends ``latest``."""
    v = _VERSIONS.c
    linked = select(_LINKS.c.version_id).where(_LINKS.c.version_id == v.id).exists()
    todo = list(
        session.execute(
            select(v.id, v.device_id).where(v.tenant_id == tenant_id, ~linked).order_by(v.seq)
        )
    )
    for chunk in _chunks_of([row.id for row in todo], batch):
        rows = session.execute(
            select(v.id, v.device_id, v.seq, v.content, v.ros_version).where(v.id.in_(chunk))
        )
        index_versions(
            session,
            tenant_id,
            [
                Indexable(
                    r.id,
                    r.device_id,
                    r.seq,
                    zlib.decompress(r.content).decode("utf-8", "surrogateescape"),
                    r.ros_version,
                )
                for r in rows
            ],
        )
    return len(todo)


def _chunks_of(values: list[int], size: int) -> Iterable[list[int]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def find(
    session: Session,
    tenant_id: int,
    query: Query,
    *,
    history: bool = False,
    version_ids: Sequence[int] | None = None,
) -> list[Hit]:
    """The lines ``query`` matches in the tenant's newest versions (every version with
    ``history``; only ``version_ids`` when given), grouped per version in section order."""
    if query.structured:
        matched = _structured(session, tenant_id, query)
    else:
        matched = _regex(session, tenant_id, query, version_ids)
    if not matched:
        return []
    l = _LINKS.c  # noqa: E741
    hits: list[Hit] = []
    ids = sorted(matched)
    for chunk in _chunks(ids):
        where = [l.tenant_id == tenant_id, l.section_id.in_(chunk)]
        if version_ids is not None:
            where.append(l.version_id.in_(list(version_ids)))
        elif not history:
            where.append(l.latest.is_(True))
        rows = session.execute(select(l.version_id, l.device_id, l.section_id, l.seq).where(*where))
        for link in rows:
            for menu, line in matched[link.section_id]:
                hits.append(Hit(link.version_id, link.device_id, link.seq, menu, line))
    return hits


#: Patterns whose meaning depends on what is around a line (start or end of the whole
#: text, lookbehind): matched line by line, never through the joined text.
_CONTEXT: Final = ("\\A", "\\Z", "\\z", "\\G", "(?<")


def _candidates(pattern: regex.Pattern[str], lines: list[str], budget: Budget) -> list[int]:
    """The indexes of the lines that may match: one scan of all lines joined (a line that
    matches is touched by a match of the joined text, since ``^``/``$`` match at line
    ends), instead of one call per line; each candidate is then checked alone."""
    if any(token in pattern.pattern for token in _CONTEXT):
        return list(range(len(lines)))
    starts: list[int] = []
    offset = 0
    for line in lines:
        starts.append(offset)
        offset += len(line) + 1
    joined = "\n".join(lines)
    out: list[int] = []
    position = 0
    search = pattern.search
    try:
        while position <= len(joined):
            match = search(joined, position, timeout=budget.left())
            if match is None:
                break
            first = bisect.bisect_right(starts, match.start()) - 1
            last = bisect.bisect_right(starts, max(match.start(), match.end() - 1)) - 1
            out.extend(range(max(first, out[-1] + 1 if out else 0), last + 1))
            # The lines touched are candidates already: go on from the next line.
            position = starts[last + 1] if last + 1 < len(starts) else len(joined) + 1
    except TimeoutError:
        raise budget.exceeded() from None
    return out


def _structured(session: Session, tenant_id: int, query: Query) -> dict[int, list[tuple[str, str]]]:
    c = _ITEMS.c
    matched: dict[int, list[tuple[str, str]]] = defaultdict(list)
    statement = select(c.section_id, c.line, c.props).where(
        c.tenant_id == tenant_id, c.menu == query.menu
    )
    for condition in query.conditions:
        if condition.op == "=" and condition.value:
            # Narrowed in SQL (JSON value of the key); every condition is still checked
            # below, so this only saves reading items that cannot match.
            statement = statement.where(c.props[condition.key].as_string() == condition.value)
    rows = session.execute(statement.order_by(c.id))
    for row in rows:
        if query.matches(query.menu or "", row.props):
            matched[row.section_id].append((query.menu or "", row.line))
    return matched


def _regex(
    session: Session, tenant_id: int, query: Query, version_ids: Sequence[int] | None
) -> dict[int, list[tuple[str, str]]]:
    assert query.pattern is not None
    c = _LINES.c
    s = _SECTIONS.c
    l = _LINKS.c  # noqa: E741
    statement = (
        select(c.section_id, c.text)
        .where(c.tenant_id == tenant_id)
        .order_by(c.section_id, c.position)
    )
    if version_ids is not None:
        # One router's version (a compliance check as it is stored): only its sections.
        scope = select(l.section_id).where(
            l.tenant_id == tenant_id, l.version_id.in_(list(version_ids))
        )
        statement = statement.where(c.section_id.in_(scope))
    # Otherwise every distinct line of the tenant, fewer than its routers' lines: the
    # links then keep the sections of the versions asked for (:func:`find`).
    rows = session.execute(statement).all()
    budget = Budget("the query", REGEX_BUDGET)
    matched: dict[int, list[tuple[str, str]]] = defaultdict(list)
    for index in _candidates(query.pattern, [row.text for row in rows], budget):
        section_id, text = rows[index]
        try:
            found = query.pattern.search(text, timeout=budget.left())
        except TimeoutError:
            raise budget.exceeded() from None
        if found is not None:
            matched[section_id].append(("", excerpt(text, found.start(), found.end())))
    menus: dict[int, str] = {}
    for chunk in _chunks(sorted(matched)):
        rows_menu = session.execute(select(s.id, s.menu).where(s.id.in_(chunk)))
        menus.update((row.id, row.menu) for row in rows_menu)
    for section_id, lines in matched.items():
        menu = menus.get(section_id, "")
        matched[section_id] = [(menu, line) for _, line in lines]
    return matched
