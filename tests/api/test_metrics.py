"""``/metrics``: Prometheus text from the database, parsed with prometheus_client's own
parser; behind the metrics token on the main listener, open on a separate address."""

from __future__ import annotations

import asyncio
import socket
import urllib.request
from datetime import timedelta
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample
from tests.api.world import TenantWorld, api_settings, build_tenant

from tikguard.api.app import create_app
from tikguard.ops import metrics
from tikguard.store import operations as store_ops
from tikguard.store.db import Database
from tikguard.store.models import Operation, utcnow

TOKEN = "scrape-me-0123456789"


def _samples(text: str) -> dict[str, list[Sample]]:
    out: dict[str, list[Sample]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out.setdefault(sample.name, []).append(sample)
    return out


def _finish_push(db: Database, world: TenantWorld, outcome: str, seconds: float) -> None:
    with db.transaction() as s:
        op = s.get(Operation, world.op_id)
        assert op is not None
        store_ops.set_state(s, world.id, op.id, "running")
        op.started_at = utcnow() - timedelta(seconds=seconds)
        store_ops.finish_operation(s, world.id, op.id, outcome)


async def test_metrics_parse_and_count_from_the_database(tmp_path: Path, database_url: str) -> None:
    """The same numbers on SQLite and PostgreSQL (durations are computed in SQL)."""
    settings = api_settings(tmp_path / "data", metrics_token=TOKEN, database_url=database_url)
    db = Database.open(settings)
    alpha = build_tenant(db, "alpha")
    build_tenant(db, "beta")
    _finish_push(db, alpha, "committed", 42.0)
    app = create_app(settings, db=db, engine=False)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        assert (await client.get("/metrics")).status_code == 401
        assert (await client.get("/metrics", headers=alpha.auth("admin"))).status_code == 401
        r = await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    found = _samples(r.text)

    ops = {
        (s.labels["tenant"], s.labels["outcome"]): s.value
        for s in found["tikguard_operations_total"]
    }
    assert ops == {("alpha", "committed"): 1.0}
    unfinished = found["tikguard_operations_unfinished"]
    assert [(s.labels["tenant"], s.labels["state"]) for s in unfinished] == [("beta", "pending")]
    buckets = {
        s.labels["le"]: s.value
        for s in found["tikguard_push_duration_seconds_bucket"]
        if s.labels["tenant"] == "alpha"
    }
    assert buckets["30"] == 0.0 and buckets["60"] == 1.0 and buckets["+Inf"] == 1.0
    (total,) = found["tikguard_push_duration_seconds_sum"]
    assert 41.0 < total.value < 60.0
    ages = {
        s.labels["device"]: s.value for s in found["tikguard_device_last_good_backup_age_seconds"]
    }
    assert set(ages) == {"alpha-r1", "beta-r1"} and all(0 <= a < 600 for a in ages.values())
    versions = {s.labels["tenant"]: s.value for s in found["tikguard_config_versions_total"]}
    assert versions == {"alpha": 2.0, "beta": 2.0}
    never = {s.labels["tenant"]: s.value for s in found["tikguard_devices_by_last_backup"]}
    assert never == {"alpha": 1.0, "beta": 1.0}  # rows made by the store directly: "never"
    assert "tikguard_queue_workflows" in {f.name for f in text_string_to_metric_families(r.text)}
    db.dispose()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_a_separate_listener_serves_metrics_without_a_token(tmp_path: Path) -> None:
    port = _free_port()
    settings = api_settings(tmp_path / "data", metrics_listen=f"127.0.0.1:{port}")
    db = Database.open(settings)
    build_tenant(db, "alpha")
    app = create_app(settings, db=db, engine=False)
    async with app.router.lifespan_context(app):
        url = f"http://127.0.0.1:{port}/metrics"
        body = await asyncio.to_thread(lambda: urllib.request.urlopen(url, timeout=30).read())
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            assert (await client.get("/metrics")).status_code == 404  # no token set
    names = {f.name for f in text_string_to_metric_families(body.decode())}
    assert {"tikguard_operations", "tikguard_worker_up", "tikguard_rollouts"} <= names
    db.dispose()


def test_a_bad_listen_address_is_refused_clearly() -> None:
    for bad in ("9464", "host:", "host:99999"):
        try:
            metrics.parse_listen(bad)
        except ValueError as exc:
            assert "TIKGUARD_METRICS_LISTEN" in str(exc)
        else:
            raise AssertionError(bad)
    assert metrics.parse_listen("[::1]:9464") == ("::1", 9464)


DASHBOARD = Path(__file__).resolve().parents[2] / "docs" / "grafana-dashboard.json"
#: What Grafana needs of a dashboard to import it, and of each panel to draw it.
DASHBOARD_SCHEMA = {
    "type": "object",
    "required": ["title", "uid", "schemaVersion", "panels", "templating"],
    "properties": {
        "title": {"type": "string", "minLength": 1},
        "schemaVersion": {"type": "integer", "minimum": 30},
        "templating": {
            "type": "object",
            "required": ["list"],
            "properties": {"list": {"type": "array", "items": {"required": ["name", "type"]}}},
        },
        "panels": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["id", "type", "title", "gridPos", "targets", "datasource"],
                "properties": {
                    "type": {"enum": ["stat", "timeseries", "table", "gauge", "bargauge"]},
                    "gridPos": {
                        "type": "object",
                        "required": ["x", "y", "w", "h"],
                        "properties": {"w": {"maximum": 24}, "x": {"maximum": 23}},
                    },
                    "targets": {
                        "type": "array",
                        "minItems": 1,
                        "items": {"type": "object", "required": ["refId", "expr"]},
                    },
                },
            },
        },
    },
}


def test_the_grafana_dashboard_loads_and_uses_only_served_metrics(tmp_path: Path) -> None:
    import json
    import re

    import jsonschema_rs
    from prometheus_client import generate_latest

    doc = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    jsonschema_rs.validate(DASHBOARD_SCHEMA, doc)
    assert len({p["id"] for p in doc["panels"]}) == len(doc["panels"])

    settings = api_settings(tmp_path / "data")
    db = Database.open(settings)
    build_tenant(db, "alpha")
    scraped = generate_latest(metrics.registry(db, settings)).decode()
    db.dispose()
    served: set[str] = set()
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count")}
    for family in text_string_to_metric_families(scraped):
        served |= {family.name, *(family.name + s for s in suffixes.get(family.type, ()))}
    used = {
        name
        for panel in doc["panels"]
        for target in panel["targets"]
        for name in re.findall(r"\btikguard_[a-z_]+", target["expr"])
    }
    assert used and used <= served, sorted(used - served)
    for variable in doc["templating"]["list"]:
        for name in re.findall(r"\btikguard_[a-z_]+", str(variable.get("query", ""))):
            assert name in served
