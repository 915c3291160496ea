"""Prometheus metrics, computed from the database at scrape time.

Why from the database and not from counters in this process: a cluster runs any
number of ``tikguard serve`` workers on one PostgreSQL database, and a push that one
worker started may be finished by another after a takeover. In-process counters would
differ per worker, reset at every restart and count a taken-over push twice or never;
the database holds every outcome exactly once. So every scrape of any worker answers
the same cluster-wide numbers (scrape one worker, or several and keep one series), and
a restart loses nothing. The cost is a few aggregate queries per scrape: 0.5 CPU s for
10,000 routers on SQLite, about what reading every device row once costs
(``bench/bench_metrics.py``).

Counters (``*_total``) are counts of rows that are never deleted (finished operations,
config versions, delivery attempts), so they only grow, as Prometheus expects; removing
a tenant or router removes its series.

Other parts of tikguard add families with :func:`register_source` (compliance: its
violations per rule and severity) without touching this module.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from prometheus_client import CollectorRegistry
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from sqlalchemy.orm import Session

from tikguard.logs import get_logger
from tikguard.ops.fleet import PUSH_KINDS
from tikguard.process import STATE
from tikguard.settings import Settings
from tikguard.store import scope
from tikguard.store import workers as store_workers
from tikguard.store.db import Database
from tikguard.store.models import (
    ConfigVersion,
    Device,
    NotifyAttempt,
    NotifyChannel,
    NotifyEvent,
    Operation,
    OperationState,
    Rollout,
    Tenant,
)

log = get_logger(__name__)

#: Push duration buckets (seconds): a push lasts about its settle time plus a few
#: commands when it commits, and a revert window plus a reboot when it does not.
PUSH_BUCKETS = (5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 180.0, 300.0, 600.0, 1200.0, 3600.0)

Source = Callable[[Session, datetime], Iterable[Metric]]


@dataclass
class MetricSources:
    """The metric sources :func:`register_source` added (held in :data:`tikguard.process.STATE`)."""

    sources: list[Source] = field(default_factory=list)


def register_source(source: Source) -> Source:
    """Add ``source(session, now)``'s metric families to every scrape."""
    sources = STATE.of(MetricSources).sources
    if source not in sources:
        sources.append(source)
    return source


def _tenants(session: Session) -> dict[int, str]:
    return {int(i): str(n) for i, n in session.execute(sa.select(Tenant.id, Tenant.name)).all()}


def _counted(
    session: Session,
    tenants: dict[int, str],
    family: CounterMetricFamily | GaugeMetricFamily,
    columns: tuple[Any, ...],
    where: sa.ColumnElement[bool] | None = None,
    empty: str = "",
) -> Metric:
    """``family`` with one sample per tenant and value of ``columns`` (the first is the
    table's tenant id): how many rows have it. A NULL value is labelled ``empty``."""
    query = sa.select(*columns, sa.func.count()).group_by(*columns)
    if where is not None:
        query = query.where(where)
    for tenant_id, *values, count in session.execute(query).all():
        shown = [empty if v is None else str(v) for v in values]
        family.add_metric([tenants.get(tenant_id, "?"), *shown], float(count))
    return family


def _operations(session: Session, tenants: dict[int, str]) -> Iterator[Metric]:
    done = Operation.state == OperationState.DONE.value
    yield _counted(
        session,
        tenants,
        CounterMetricFamily(
            "tikguard_operations",
            "Finished operations by kind (push, restore, replace, backup) and outcome.",
            labels=["tenant", "kind", "outcome"],
        ),
        (Operation.tenant_id, Operation.kind, Operation.outcome),
        done,
    )
    yield _counted(
        session,
        tenants,
        GaugeMetricFamily(
            "tikguard_operations_unfinished",
            "Operations not finished yet, by kind and state (pending, running, waiting).",
            labels=["tenant", "kind", "state"],
        ),
        (Operation.tenant_id, Operation.kind, Operation.state),
        ~done,
    )


def _duration(session: Session) -> sa.ColumnElement[Any]:
    if session.get_bind().dialect.name == "postgresql":
        return sa.extract("epoch", Operation.finished_at - Operation.started_at)
    return (sa.func.julianday(Operation.finished_at) - sa.func.julianday(Operation.started_at)) * (
        86400.0
    )


def _push_durations(session: Session, tenants: dict[int, str]) -> Iterator[Metric]:
    """One query: per tenant and outcome, the count at or under each bucket, the sum."""
    seconds = _duration(session)
    columns = [sa.func.sum(sa.case((seconds <= bound, 1), else_=0)) for bound in PUSH_BUCKETS]
    rows = session.execute(
        sa.select(
            Operation.tenant_id,
            Operation.outcome,
            sa.func.count(),
            sa.func.coalesce(sa.func.sum(seconds), 0.0),
            *columns,
        )
        .where(
            Operation.kind.in_(PUSH_KINDS),
            Operation.state == OperationState.DONE.value,
            Operation.started_at.is_not(None),
            Operation.finished_at.is_not(None),
        )
        .group_by(Operation.tenant_id, Operation.outcome)
    ).all()
    family = HistogramMetricFamily(
        "tikguard_push_duration_seconds",
        "Time from a push's start to its proven outcome (push, restore, replace).",
        labels=["tenant", "outcome"],
    )
    for tenant_id, outcome, count, total, *under in rows:
        buckets = [(f"{b:g}", float(n or 0)) for b, n in zip(PUSH_BUCKETS, under, strict=True)]
        buckets.append(("+Inf", float(count)))
        family.add_metric(
            [tenants.get(tenant_id, "?"), outcome or ""], buckets, sum_value=float(total or 0)
        )
    yield family


def _backups(session: Session, tenants: dict[int, str], now: datetime) -> Iterator[Metric]:
    yield _counted(
        session,
        tenants,
        GaugeMetricFamily(
            "tikguard_devices_by_last_backup",
            "Routers by how their last backup ended (changed, unchanged, failed, never).",
            labels=["tenant", "outcome"],
        ),
        (Device.tenant_id, Device.last_backup_status),
        empty="never",
    )
    yield _counted(
        session,
        tenants,
        CounterMetricFamily(
            "tikguard_config_versions",
            "Configuration versions stored (each a change), by what stored it.",
            labels=["tenant", "trigger"],
        ),
        (ConfigVersion.tenant_id, ConfigVersion.trigger),
    )
    age = GaugeMetricFamily(
        "tikguard_device_last_good_backup_age_seconds",
        "Seconds since the router's configuration was last read successfully.",
        labels=["tenant", "device", "site"],
    )
    failures = GaugeMetricFamily(
        "tikguard_device_backup_failures",
        "Failed backups of the router in a row since its last good one.",
        labels=["tenant", "device", "site"],
    )
    good = (
        sa.select(ConfigVersion.device_id, sa.func.max(ConfigVersion.last_checked_at).label("at"))
        .group_by(ConfigVersion.device_id)
        .subquery()
    )
    per_device = session.execute(
        sa.select(Device.tenant_id, Device.name, Device.site, Device.backup_failures, good.c.at)
        .outerjoin(good, good.c.device_id == Device.id)
        .order_by(Device.tenant_id, Device.name)
    ).all()
    for tenant_id, name, site, failed, at in per_device:
        labels = [tenants.get(tenant_id, "?"), name, site or ""]
        failures.add_metric(labels, float(failed or 0))
        if at is not None:
            when = at if at.tzinfo else at.replace(tzinfo=now.tzinfo)
            age.add_metric(labels, max(0.0, (now - when).total_seconds()))
    yield age
    yield failures


def _rollouts(session: Session, tenants: dict[int, str]) -> Iterator[Metric]:
    yield _counted(
        session,
        tenants,
        GaugeMetricFamily(
            "tikguard_rollouts",
            "Rollouts by state (running, waiting, halted, completed, aborted, ...).",
            labels=["tenant", "state"],
        ),
        (Rollout.tenant_id, Rollout.state),
    )


def _workers(session: Session, now: datetime, settings: Settings) -> Iterator[Metric]:
    lease = timedelta(seconds=settings.seconds(settings.worker_lease))
    heartbeat = GaugeMetricFamily(
        "tikguard_worker_heartbeat_age_seconds",
        "Seconds since each worker's last heartbeat.",
        labels=["worker", "host"],
    )
    up = GaugeMetricFamily(
        "tikguard_worker_up",
        "1 while the worker heartbeats within its lease, else 0 (stopped or dead).",
        labels=["worker", "host"],
    )
    for worker in store_workers.list_workers(session):
        labels = [worker.id, worker.host]
        heartbeat.add_metric(labels, max(0.0, (now - worker.heartbeat_at).total_seconds()))
        up.add_metric(labels, 1.0 if store_workers.alive(worker, now, lease) else 0.0)
    yield heartbeat
    yield up


def _notifications(session: Session, tenants: dict[int, str]) -> Iterator[Metric]:
    attempts = CounterMetricFamily(
        "tikguard_notification_attempts",
        "Notification delivery tries by channel kind and result.",
        labels=["tenant", "kind", "result"],
    )
    rows = session.execute(
        sa.select(NotifyAttempt.tenant_id, NotifyChannel.kind, NotifyAttempt.ok, sa.func.count())
        .outerjoin(NotifyChannel, NotifyChannel.id == NotifyAttempt.channel_id)
        .group_by(NotifyAttempt.tenant_id, NotifyChannel.kind, NotifyAttempt.ok)
    ).all()
    for tenant_id, kind, ok, count in rows:
        labels = [tenants.get(tenant_id, "?"), kind or "removed", "ok" if ok else "failed"]
        attempts.add_metric(labels, float(count))
    yield attempts
    waiting = GaugeMetricFamily(
        "tikguard_notification_events_undispatched",
        "Notification events whose deliveries are not queued yet.",
    )
    undispatched = session.scalar(
        sa.select(sa.func.count())
        .select_from(NotifyEvent)
        .where(NotifyEvent.dispatched_at.is_(None))
    )
    waiting.add_metric([], float(undispatched or 0))
    yield waiting


class _SystemDatabase:
    """Queue depths from the engine's (DBOS) system database, read-only."""

    def __init__(self, settings: Settings) -> None:
        self.url = settings.dbos_database_url()
        self._engine: sa.Engine | None = None

    def queues(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            "tikguard_queue_workflows",
            "Workflows in each engine queue: ENQUEUED (waiting for a worker) or PENDING.",
            labels=["queue", "status"],
        )
        table = "workflow_status"
        if self.url.startswith("postgresql"):
            table = "dbos.workflow_status"
        elif not self._sqlite_exists():
            yield family  # no engine ever ran here: empty queues
            return
        if self._engine is None:
            self._engine = sa.create_engine(self.url, poolclass=sa.pool.NullPool)
        query = sa.text(
            f"SELECT queue_name, status, count(*) FROM {table} "  # noqa: S608 (fixed names)
            "WHERE queue_name IS NOT NULL AND status IN ('ENQUEUED', 'PENDING') "
            "GROUP BY queue_name, status"
        )
        try:
            with self._engine.connect() as conn:
                rows = conn.execute(query).all()
        except sa.exc.SQLAlchemyError:  # not migrated yet, or out of reach: say empty
            log.warning("queue depths: the engine's database is not readable", exc_info=True)
            rows = []
        for queue, status, count in rows:
            family.add_metric([str(queue), str(status)], float(count))
        yield family

    def _sqlite_exists(self) -> bool:
        path = self.url.removeprefix("sqlite:///")
        return Path(path).exists()

    def dispose(self) -> None:
        if self._engine is not None:
            self._engine.dispose()


class StoreCollector(Collector):
    """Collects every family from the database on each scrape."""

    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings
        self.system = _SystemDatabase(settings)

    def collect(self) -> Iterator[Metric]:
        started = time.monotonic()
        with scope.scoped(None), self.db.session() as session:
            now = store_workers.db_now(session)
            tenants = _tenants(session)
            yield from _operations(session, tenants)
            yield from _push_durations(session, tenants)
            yield from _backups(session, tenants, now)
            yield from _rollouts(session, tenants)
            yield from _workers(session, now, self.settings)
            yield from _notifications(session, tenants)
            for source in list(STATE.of(MetricSources).sources):
                yield from source(session, now)
        yield from self.system.queues()
        took = GaugeMetricFamily(
            "tikguard_scrape_duration_seconds", "Seconds this scrape spent in the databases."
        )
        took.add_metric([], time.monotonic() - started)
        yield took


def registry(db: Database, settings: Settings) -> CollectorRegistry:
    """A registry holding only tikguard's collector (no process or platform metrics:
    those differ per worker and are the node exporter's job)."""
    found = CollectorRegistry(auto_describe=False)
    found.register(StoreCollector(db, settings))
    return found


def parse_listen(value: str) -> tuple[str, int]:
    """``host:port`` (``[::1]:9464`` for IPv6) of ``TIKGUARD_METRICS_LISTEN``."""
    host, sep, port = value.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(
            f"TIKGUARD_METRICS_LISTEN must be host:port (e.g. 10.0.0.5:9464), got {value!r}"
        )
    return host, int(port)


def listen(db: Database, settings: Settings) -> Callable[[], None]:
    """Serve ``/metrics`` (no token) on ``settings.metrics_listen`` in a thread; returns
    the function that stops it."""
    from prometheus_client import start_http_server

    host, port = parse_listen(settings.metrics_listen)
    server, thread = start_http_server(port, addr=host, registry=registry(db, settings))

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(5)

    return stop
