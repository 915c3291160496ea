"""The compliance API: admins load rules, viewers read the report, a bad file is a 422."""

from __future__ import annotations

from pathlib import Path

import httpx
from tests.api.world import TenantWorld, api_settings, build_tenant

from tikguard.store.db import Database

RULES = """rules:
  - id: second-address
    severity: low
    must-not: /ip address interface=ether2
"""


async def test_rules_report_and_changes(
    client: httpx.AsyncClient, alpha: TenantWorld, beta: TenantWorld
) -> None:
    r = await client.put(
        "/api/v1/compliance/rules", json={"text": RULES}, headers=alpha.auth("operator")
    )
    assert r.status_code == 403
    r = await client.put("/api/v1/compliance/rules", json={"text": RULES}, headers=alpha.auth())
    assert r.status_code == 200, r.text
    assert r.json()["rules"][0]["query"] == "/ip address interface=ether2"
    r = await client.get("/api/v1/compliance", headers=alpha.auth("viewer"))
    body = r.json()
    assert body["violations"] == 1 and body["by_severity"]["low"] == 1
    rule = body["rules"][0]
    assert [v["device"] for v in rule["violations"]] == [alpha.device_name]
    assert rule["violations"][0]["lines"] == [
        "/ip address add address=198.51.100.1/24 interface=ether2"
    ]
    r = await client.get(
        "/api/v1/compliance/changes",
        params={"since": "2000-01-01T00:00:00"},
        headers=alpha.auth("viewer"),
    )
    assert [(c["kind"], c["device"]) for c in r.json()] == [("new", alpha.device_name)]
    other = await client.get("/api/v1/compliance", headers=beta.auth("viewer"))
    assert other.json()["rules"] == []
    r = await client.post("/api/v1/compliance/check", headers=alpha.auth("operator"))
    assert r.status_code == 200 and r.json()["violations"] == 1


async def test_a_bad_rules_file_is_a_422(client: httpx.AsyncClient, alpha: TenantWorld) -> None:
    r = await client.put(
        "/api/v1/compliance/rules",
        json={"text": "rules: [{id: a, must: '/ip nosuch'}]"},
        headers=alpha.auth(),
    )
    assert r.status_code == 422 and "no menu" in r.text


async def test_metrics_count_violations_per_rule(tmp_path: Path) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    from tikguard.api.app import create_app
    from tikguard.ops import compliance

    settings = api_settings(tmp_path / "data", metrics_token="scrape-0123456789abcdef")
    db = Database.open(settings)
    try:
        alpha = build_tenant(db, "alpha")
        compliance.load_rules(db, alpha.id, RULES, actor="test")
        app = create_app(settings, db=db, engine=False)
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            r = await client.get(
                "/metrics", headers={"Authorization": "Bearer scrape-0123456789abcdef"}
            )
        samples = {
            (s.name, s.labels.get("rule")): s.value
            for family in text_string_to_metric_families(r.text)
            for s in family.samples
        }
        assert samples[("tikguard_compliance_violations", "second-address")] == 1
        assert samples[("tikguard_compliance_passing", "second-address")] == 0
    finally:
        db.dispose()


async def test_ui_search_and_compliance_pages(
    client: httpx.AsyncClient, alpha: TenantWorld, db: Database
) -> None:
    from tests.api.test_ui_pages import login

    from tikguard.ops import compliance

    await login(client, alpha.users["viewer"])
    empty = await client.get("/compliance")
    assert empty.status_code == 200 and "No rules loaded" in empty.text
    page = await client.get("/search", params={"q": "/ip address interface=ether2"})
    assert page.status_code == 200 and "198.51.100.1/24" in page.text
    assert "1 of 1 routers match" in page.text
    bad = await client.get("/search", params={"q": "/ip nosuch"})
    assert bad.status_code == 200 and "has no menu" in bad.text
    hostile = await client.get("/search", params={"q": "re:<script>"})
    assert hostile.status_code == 200 and "<script>" not in hostile.text
    compliance.load_rules(db, alpha.id, RULES, actor="test")
    report = await client.get("/compliance")
    assert "second-address" in report.text and "0 of 1 routers compliant" in report.text
