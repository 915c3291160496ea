"""Compliance rules per tenant, and each router's verdict under them.

A tenant's rules are one YAML document (kept as loaded, checked when loaded)::

    rules:
      - id: no-telnet
        title: Telnet is off
        severity: high                 # info, low, medium (default), high, critical
        must-not: /ip service name=telnet disabled=no
        tags: [edge]                   # only routers with one of these tags (optional)
        sites: [north]                 # only routers at one of these sites (optional)
        fix: |
          /ip service set telnet disabled=yes

Each rule has exactly one of ``must`` (some line matches) or ``must-not`` (none does),
a query of the search language (:mod:`tikguard.routeros.query`). Verdicts are written
for each router's newest version: when a version is stored (:func:`evaluate_versions`,
called where versions are written, so no new version goes unchecked) and for the whole
fleet when the rules change or on request (:func:`evaluate_fleet`). A verdict that
changes (or a first violation) adds a :class:`ComplianceChange` row: ``new`` or
``resolved``; notifications read those.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import yaml
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from tikguard.routeros.patterns import PatternError
from tikguard.routeros.query import Query, QueryError, parse_query
from tikguard.store import search_index
from tikguard.store.errors import InvalidInput
from tikguard.store.models import (
    ComplianceChange,
    ComplianceResult,
    ComplianceRuleset,
    ConfigVersion,
    Device,
    DeviceTag,
    utcnow,
)

SEVERITIES: Final = ("info", "low", "medium", "high", "critical")
#: Largest rules file accepted, and most rules in it.
MAX_TEXT: Final = 256 * 1024
MAX_RULES: Final = 500
#: Lines kept per verdict (the offending lines of a must-not).
MAX_LINES: Final = 20
_KEYS: Final = frozenset({"id", "title", "severity", "must", "must-not", "tags", "sites", "fix"})


@dataclass(frozen=True)
class Rule:
    """One rule, checked: its query parsed, its scope and severity known."""

    id: str
    title: str
    severity: str
    must: bool
    query: Query
    tags: tuple[str, ...] = ()
    sites: tuple[str, ...] = ()
    fix: str | None = None

    def applies(self, tags: Iterable[str], site: str | None) -> bool:
        """Whether a router with ``tags`` at ``site`` is in the rule's scope."""
        if self.tags and not set(self.tags) & set(tags):
            return False
        return not self.sites or site in self.sites

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "severity": self.severity,
            "must": self.must,
            "query": self.query.canonical(),
            "tags": list(self.tags),
            "sites": list(self.sites),
            "fix": self.fix,
        }


def parse_rules(text: str) -> list[Rule]:
    """The rules of a YAML document; :class:`InvalidInput` names every bad rule."""
    if len(text) > MAX_TEXT:
        raise InvalidInput(f"the rules file is larger than {MAX_TEXT // 1024} KiB")
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        at = f" (line {where.line + 1}, column {where.column + 1})" if where else ""
        raise InvalidInput(
            f"the rules file is not YAML{at}: {getattr(exc, 'problem', exc)}"
        ) from None
    if doc is None:
        return []
    if (
        not isinstance(doc, dict)
        or set(doc) - {"rules"}
        or not isinstance(doc.get("rules", []), list)
    ):
        raise InvalidInput("the rules file must be a mapping with one key, rules: a list of rules")
    raw = doc.get("rules") or []
    if len(raw) > MAX_RULES:
        raise InvalidInput(f"the rules file has more than {MAX_RULES} rules")
    rules: list[Rule] = []
    errors: list[str] = []
    seen: set[str] = set()
    for index, entry in enumerate(raw, 1):
        try:
            rule = _rule(entry)
        except InvalidInput as exc:
            name = entry.get("id") if isinstance(entry, dict) else None
            errors.append(f"rule {index}{f' ({name})' if isinstance(name, str) else ''}: {exc}")
            continue
        if rule.id in seen:
            errors.append(f"rule {index}: the id {rule.id!r} is used twice")
        seen.add(rule.id)
        rules.append(rule)
    if errors:
        raise InvalidInput("; ".join(errors))
    return rules


def _text(entry: dict[str, Any], key: str, limit: int, required: bool = False) -> str | None:
    value = entry.get(key)
    if value is None:
        if required:
            raise InvalidInput(f"{key} is missing")
        return None
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise InvalidInput(f"{key} must be text")
    value = str(value)
    if len(value) > limit:
        raise InvalidInput(f"{key} is longer than {limit} characters")
    return value


def _words(entry: dict[str, Any], key: str) -> tuple[str, ...]:
    value = entry.get(key)
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise InvalidInput(f"{key} must be a name or a list of names")
    return tuple(value)


def _rule(entry: object) -> Rule:
    if not isinstance(entry, dict):
        raise InvalidInput("a rule is a mapping (id, must or must-not, ...)")
    unknown = sorted(set(map(str, entry)) - _KEYS)
    if unknown:
        raise InvalidInput(
            f"unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(_KEYS))})"
        )
    rule_id = _text(entry, "id", 128, required=True) or ""
    if not rule_id.replace("-", "").replace("_", "").replace(".", "").isalnum():
        raise InvalidInput(f"the id {rule_id!r} may hold letters, digits, '-', '_' and '.' only")
    must = _text(entry, "must", 1000)
    must_not = _text(entry, "must-not", 1000)
    if (must is None) == (must_not is None):
        raise InvalidInput("give exactly one of must or must-not")
    severity = _text(entry, "severity", 16) or "medium"
    if severity not in SEVERITIES:
        raise InvalidInput(f"severity {severity!r} is not one of {', '.join(SEVERITIES)}")
    try:
        query = parse_query(must if must is not None else must_not or "")
    except (QueryError, PatternError) as exc:
        raise InvalidInput(f"the query: {exc}") from None
    return Rule(
        id=rule_id,
        title=_text(entry, "title", 200) or rule_id,
        severity=severity,
        must=must is not None,
        query=query,
        tags=_words(entry, "tags"),
        sites=_words(entry, "sites"),
        fix=_text(entry, "fix", 64 * 1024),
    )


def load_rules(session: Session, tenant_id: int) -> tuple[str, list[Rule]]:
    """The tenant's rules file and its rules (empty when none was loaded)."""
    row = session.get(ComplianceRuleset, tenant_id)
    if row is None:
        return "", []
    return row.text, parse_rules(row.text)


def save_rules(session: Session, tenant_id: int, text: str, by: str) -> list[Rule]:
    """Check and store the tenant's rules file (replacing the previous one)."""
    rules = parse_rules(text)
    row = session.get(ComplianceRuleset, tenant_id)
    if row is None:
        session.add(ComplianceRuleset(tenant_id=tenant_id, text=text, updated_by=by))
    else:
        row.text = text
        row.updated_by = by
        row.updated_at = utcnow()
    kept = {r.id for r in rules}
    session.execute(
        delete(ComplianceResult).where(
            ComplianceResult.tenant_id == tenant_id, ComplianceResult.rule.not_in(kept)
        )
    )
    session.flush()
    return rules


@dataclass(frozen=True)
class _Router:
    device_id: int
    version_id: int
    tags: tuple[str, ...]
    site: str | None


def _routers(session: Session, tenant_id: int, version_ids: Sequence[int] | None) -> list[_Router]:
    """Routers with their newest version (or the given versions), tags and site."""
    v = ConfigVersion
    if version_ids is None:
        newest = (
            select(v.device_id, v.id)
            .where(v.tenant_id == tenant_id)
            .order_by(v.device_id, v.seq.desc())
        )
        pairs: dict[int, int] = {}
        for device_id, version_id in session.execute(newest):
            pairs.setdefault(device_id, version_id)
    else:
        pairs = dict(
            (d, i)
            for i, d in session.execute(
                select(v.id, v.device_id).where(
                    v.tenant_id == tenant_id, v.id.in_(list(version_ids))
                )
            )
        )
    if not pairs:
        return []
    sites = dict(
        session.execute(select(Device.id, Device.site).where(Device.tenant_id == tenant_id)).all()
    )
    tags: dict[int, list[str]] = defaultdict(list)
    for device_id, tag in session.execute(
        select(DeviceTag.device_id, DeviceTag.tag).where(DeviceTag.tenant_id == tenant_id)
    ):
        tags[device_id].append(tag)
    return [
        _Router(d, i, tuple(tags.get(d, ())), sites.get(d)) for d, i in pairs.items() if d in sites
    ]


def evaluate_versions(session: Session, tenant_id: int, version_ids: Sequence[int]) -> int:
    """Judge new versions (each its device's newest) by the tenant's rules; returns how
    many verdicts changed. No rules: nothing to do (one primary-key read)."""
    row = session.get(ComplianceRuleset, tenant_id)
    if row is None:
        return 0
    try:
        rules = parse_rules(row.text)
    except InvalidInput:
        return 0  # checked when loaded; a file this version cannot read never stops a backup
    return _evaluate(session, tenant_id, rules, version_ids, strict=False)


def evaluate_fleet(session: Session, tenant_id: int) -> int:
    """Judge every router's newest version by the tenant's rules (after the rules or
    the inventory changed); returns how many verdicts changed."""
    _, rules = load_rules(session, tenant_id)
    return _evaluate(session, tenant_id, rules, None, strict=True)


def _evaluate(
    session: Session,
    tenant_id: int,
    rules: list[Rule],
    version_ids: Sequence[int] | None,
    *,
    strict: bool,
) -> int:
    """Write the verdicts; ``strict``: a rule whose pattern runs out of time is an error
    (else it is skipped and its verdicts stay as they were: a backup never fails here)."""
    routers = _routers(session, tenant_id, version_ids)
    if not routers or not rules:
        return 0
    now = utcnow()
    by_version = {r.version_id: r for r in routers}
    existing = {
        (res.device_id, res.rule): res
        for res in session.scalars(
            select(ComplianceResult).where(
                ComplianceResult.tenant_id == tenant_id,
                ComplianceResult.device_id.in_([r.device_id for r in routers]),
            )
        )
    }
    changed = 0
    for rule in rules:
        try:
            hits = search_index.find(session, tenant_id, rule.query, version_ids=list(by_version))
        except PatternError as exc:
            if strict:
                raise InvalidInput(f"rule {rule.id}: {exc}") from None
            continue
        lines: dict[int, list[str]] = defaultdict(list)
        for hit in hits:
            if len(lines[hit.version_id]) < MAX_LINES:
                lines[hit.version_id].append(hit.line)
        for router in routers:
            key = (router.device_id, rule.id)
            old = existing.get(key)
            if not rule.applies(router.tags, router.site):
                if old is not None:
                    session.delete(old)
                continue
            found = router.version_id in lines
            ok = found if rule.must else not found
            shown = [] if rule.must else lines.get(router.version_id, [])
            if old is None:
                old = ComplianceResult(
                    device_id=router.device_id,
                    rule=rule.id,
                    tenant_id=tenant_id,
                    ok=ok,
                    since=now,
                )
                session.add(old)
                if not ok:
                    changed += _change(session, tenant_id, router, rule, "new", now)
            elif old.ok != ok:
                old.ok = ok
                old.since = now
                changed += _change(
                    session, tenant_id, router, rule, "resolved" if ok else "new", now
                )
            old.version_id = router.version_id
            old.severity = rule.severity
            old.lines = shown
            old.checked_at = now
    session.flush()
    return changed


def _change(
    session: Session, tenant_id: int, router: _Router, rule: Rule, kind: str, now: datetime
) -> int:
    session.add(
        ComplianceChange(
            tenant_id=tenant_id,
            device_id=router.device_id,
            rule=rule.id,
            kind=kind,
            severity=rule.severity,
            version_id=router.version_id,
            at=now,
        )
    )
    return 1


def results(session: Session, tenant_id: int) -> list[ComplianceResult]:
    """Every current verdict of the tenant."""
    return list(
        session.scalars(
            select(ComplianceResult)
            .where(ComplianceResult.tenant_id == tenant_id)
            .order_by(ComplianceResult.rule, ComplianceResult.device_id)
        )
    )


def changes_since(session: Session, tenant_id: int, since: datetime) -> list[ComplianceChange]:
    """Violations that appeared or were resolved at or after ``since``, oldest first."""
    return list(
        session.scalars(
            select(ComplianceChange)
            .where(ComplianceChange.tenant_id == tenant_id, ComplianceChange.at >= since)
            .order_by(ComplianceChange.id)
        )
    )


def recent_changes(session: Session, tenant_id: int, limit: int) -> list[ComplianceChange]:
    """The newest ``limit`` changes, newest first."""
    return list(
        session.scalars(
            select(ComplianceChange)
            .where(ComplianceChange.tenant_id == tenant_id)
            .order_by(ComplianceChange.id.desc())
            .limit(limit)
        )
    )
