"""Compliance: a tenant's rules over its routers' stored configurations.

Rules are queries of the fleet search language with ``must`` / ``must-not``, a scope
(tags, sites), a severity and an optional fix (:mod:`tikguard.store.compliance` holds the
file format and the verdicts). Every stored version is judged as it is written; this
module loads rules (audited, then judges the whole fleet), checks on request, reports,
lists the changes notifications tell about (:func:`changes_since`), and turns a rule's
fix into a guarded rollout over the routers that violate it (:func:`fix_request`).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime

from prometheus_client.core import GaugeMetricFamily, Metric
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tikguard.ops import metrics
from tikguard.ops import search as search_ops
from tikguard.ops.notify import sources as notify_sources
from tikguard.ops.rollout.service import RolloutRequest
from tikguard.ops.rollout.targets import Selector
from tikguard.store import compliance as store_compliance
from tikguard.store.audit import audit
from tikguard.store.compliance import SEVERITIES, Rule
from tikguard.store.db import Database
from tikguard.store.errors import InvalidInput, NotFound
from tikguard.store.models import ComplianceResult, ConfigVersion, Device, Tenant

__all__ = [
    "SEVERITIES",
    "Change",
    "Report",
    "RuleReport",
    "Violation",
    "changes_since",
    "check",
    "fix_request",
    "load_rules",
    "report",
    "rules",
]


def rules(db: Database, tenant_id: int) -> tuple[str, list[Rule]]:
    """The tenant's rules file as loaded, and its rules."""
    with db.session() as s:
        return store_compliance.load_rules(s, tenant_id)


def load_rules(db: Database, tenant_id: int, text: str, *, actor: str) -> list[Rule]:
    """Check and store a rules file, then judge the whole fleet by it (audited)."""
    search_ops.ensure_indexed(db, tenant_id)
    with db.transaction() as s:
        loaded = store_compliance.save_rules(s, tenant_id, text, actor)
        changed = store_compliance.evaluate_fleet(s, tenant_id)
        audit(
            s,
            tenant_id,
            actor=actor,
            action="compliance.rules",
            details={"rules": [r.id for r in loaded], "changes": changed},
        )
    return loaded


def check(db: Database, tenant_id: int) -> Report:
    """Judge every router's newest version now, then report."""
    search_ops.ensure_indexed(db, tenant_id)
    with db.transaction() as s:
        store_compliance.evaluate_fleet(s, tenant_id)
    return report(db, tenant_id)


@dataclass(frozen=True)
class Violation:
    """One router breaking one rule, since when, and the lines that show it."""

    device: str
    version: int | None
    since: datetime
    lines: list[str]


@dataclass
class RuleReport:
    """One rule across the fleet."""

    id: str
    title: str
    severity: str
    must: bool
    query: str
    fix: bool
    passing: int = 0
    violations: list[Violation] = field(default_factory=list)


@dataclass(frozen=True)
class Change:
    """A violation that appeared (``new``) or was resolved, for notifications."""

    id: int
    at: datetime
    kind: str
    rule: str
    severity: str
    device_id: int
    device: str
    version: int | None


@dataclass
class Report:
    """The fleet's compliance: per rule, and per severity the violations open."""

    rules: list[RuleReport]
    routers: int
    compliant: int
    by_severity: dict[str, int]
    changes: list[Change]

    @property
    def violations(self) -> int:
        return sum(len(r.violations) for r in self.rules)


def report(db: Database, tenant_id: int, *, recent: int = 20) -> Report:
    """The verdicts as they stand (``tikguard compliance report``, the API, the UI)."""
    with db.session() as s:
        _, loaded = store_compliance.load_rules(s, tenant_id)
        verdicts = store_compliance.results(s, tenant_id)
        names = dict(
            s.execute(select(Device.id, Device.name).where(Device.tenant_id == tenant_id)).all()
        )
        version_ids = {v.version_id for v in verdicts if v.version_id is not None}
        seqs = (
            dict(
                s.execute(
                    select(ConfigVersion.id, ConfigVersion.seq).where(
                        ConfigVersion.id.in_(version_ids)
                    )
                ).all()
            )
            if version_ids
            else {}
        )
        changes = [
            Change(
                c.id,
                c.at,
                c.kind,
                c.rule,
                c.severity,
                c.device_id,
                names.get(c.device_id, "?"),
                seqs.get(c.version_id or 0),
            )
            for c in store_compliance.recent_changes(s, tenant_id, recent)
        ]
    out = {
        r.id: RuleReport(r.id, r.title, r.severity, r.must, r.query.canonical(), r.fix is not None)
        for r in loaded
    }
    failing: set[int] = set()
    judged: set[int] = set()
    for verdict in verdicts:
        rule = out.get(verdict.rule)
        if rule is None:
            continue
        judged.add(verdict.device_id)
        if verdict.ok:
            rule.passing += 1
            continue
        failing.add(verdict.device_id)
        rule.violations.append(
            Violation(
                names.get(verdict.device_id, "?"),
                seqs.get(verdict.version_id or 0),
                verdict.since,
                list(verdict.lines),
            )
        )
    for rule in out.values():
        rule.violations.sort(key=lambda v: v.device)
    severity = Counter(r.severity for r in out.values() for _ in r.violations)
    return Report(
        rules=sorted(out.values(), key=lambda r: (-SEVERITIES.index(r.severity), r.id)),
        routers=len(judged),
        compliant=len(judged - failing),
        by_severity={s: severity.get(s, 0) for s in reversed(SEVERITIES)},
        changes=changes,
    )


def changes_since(db: Database, tenant_id: int, since: datetime) -> list[Change]:
    """Violations that appeared or were resolved since ``since``: what a notification
    source reports (each change has a unique id to key its event by); a time without a
    zone is UTC."""
    if since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    with db.session() as s:
        rows = store_compliance.changes_since(s, tenant_id, since)
        names = dict(
            s.execute(select(Device.id, Device.name).where(Device.tenant_id == tenant_id)).all()
        )
        seqs: dict[int, int] = defaultdict(int)
        ids = {c.version_id for c in rows if c.version_id is not None}
        if ids:
            seqs.update(
                s.execute(
                    select(ConfigVersion.id, ConfigVersion.seq).where(ConfigVersion.id.in_(ids))
                ).all()
            )
    return [
        Change(
            c.id,
            c.at,
            c.kind,
            c.rule,
            c.severity,
            c.device_id,
            names.get(c.device_id, "?"),
            seqs.get(c.version_id or 0),
        )
        for c in rows
    ]


def fix_request(
    db: Database, tenant_id: int, rule_id: str, *, actor: str, **policy: object
) -> RolloutRequest:
    """A rollout of the rule's fix to the routers that violate it now (canary, waves and
    every guard of a rollout; ``policy`` as :class:`RolloutRequest` takes it)."""
    current = report(db, tenant_id)
    rule = next((r for r in current.rules if r.id == rule_id), None)
    if rule is None:
        raise NotFound(f"no compliance rule {rule_id!r}", hint="see `tikguard compliance rules`")
    _, loaded = rules(db, tenant_id)
    fix = next(r.fix for r in loaded if r.id == rule_id)
    if not fix:
        raise InvalidInput(f"rule {rule_id} has no fix to roll out")
    if not rule.violations:
        raise InvalidInput(f"no router violates {rule_id}: nothing to fix")
    names = sorted({v.device for v in rule.violations})
    return RolloutRequest(
        selector=Selector(names=names),
        source=fix,
        requested_by=actor,
        **policy,  # type: ignore[arg-type]
    )


@notify_sources.register_source
def notify_source(session: Session, tenant_id: int, since: datetime) -> list[notify_sources.Found]:
    """Compliance changes since ``since`` as notification facts (the watcher of
    :mod:`tikguard.ops.notify.sources` calls this on every look; the change id keys the
    event, so each change is told once): ``compliance-violation`` for a new violation,
    ``compliance-resolved`` for a resolved one, with the rule, severity and lines."""
    rows = store_compliance.changes_since(session, tenant_id, since)
    if not rows:
        return []
    _, loaded = store_compliance.load_rules(session, tenant_id)
    titles = {r.id: r.title for r in loaded}
    ids = {c.device_id for c in rows}
    names = dict(session.execute(select(Device.id, Device.name).where(Device.id.in_(ids))).all())
    verdicts = {
        (v.device_id, v.rule): v
        for v in store_compliance.results(session, tenant_id)
        if v.device_id in ids
    }
    out: list[notify_sources.Found] = []
    for change in rows:
        name = names.get(change.device_id, "?")
        new = change.kind == "new"
        verdict = verdicts.get((change.device_id, change.rule))
        title = titles.get(change.rule, change.rule)
        out.append(
            notify_sources.Found(
                key=f"compliance-change:{change.id}",
                kind=notify_sources.COMPLIANCE_VIOLATION
                if new
                else notify_sources.COMPLIANCE_RESOLVED,
                title=f"{name}: {'violates' if new else 'complies again with'} {change.rule}"
                f" ({change.severity}): {title}",
                details={
                    "rule": change.rule,
                    "severity": change.severity,
                    "lines": list(verdict.lines) if verdict is not None and new else [],
                },
                device_id=change.device_id,
                device_name=name,
                link=f"/devices/{change.device_id}",
            )
        )
    return out


@metrics.register_source
def metrics_source(session: Session, now: datetime) -> list[Metric]:
    """``tikguard_compliance_violations{tenant, rule, severity}``: routers breaking each
    rule now, and ``tikguard_compliance_passing`` those that comply (for ``/metrics``)."""
    failing = GaugeMetricFamily(
        "tikguard_compliance_violations",
        "Routers whose newest version violates a compliance rule, by rule and severity.",
        labels=["tenant", "rule", "severity"],
    )
    passing = GaugeMetricFamily(
        "tikguard_compliance_passing",
        "Routers whose newest version complies with a compliance rule.",
        labels=["tenant", "rule", "severity"],
    )
    r = ComplianceResult
    rows = session.execute(
        select(Tenant.name, r.rule, r.severity, r.ok, func.count())
        .join(Tenant, Tenant.id == r.tenant_id)
        .group_by(Tenant.name, r.rule, r.severity, r.ok)
    ).all()
    counts: dict[tuple[str, str, str], list[int]] = defaultdict(lambda: [0, 0])
    for tenant, rule, severity, ok, count in rows:
        counts[(tenant, rule, severity)][1 if ok else 0] += count
    for labels, (bad, good) in sorted(counts.items()):
        failing.add_metric(list(labels), bad)
        passing.add_metric(list(labels), good)
    return [failing, passing]
