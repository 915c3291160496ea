"""Notifications over the API: admins add channels and rules, operators test, viewers
read; nothing leaks a channel's secret or crosses tenants."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from tests.api.world import TenantWorld, api_settings
from tests.ops.receivers import http_receiver

from tikguard.ops import notify as notify_ops
from tikguard.settings import Settings
from tikguard.store.db import Database

BASE = "/api/v1/notify"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """The receivers are on loopback: a lab allows it (docs/notifications.md)."""
    return api_settings(tmp_path / "data", outbound_allow="127.0.0.1/32")


async def test_channels_rules_test_and_attempts(
    client: httpx.AsyncClient, alpha: TenantWorld, beta: TenantWorld
) -> None:
    with http_receiver() as hook:
        r = await client.post(
            f"{BASE}/channels/webhook",
            json={"name": "chat", "url": hook.url, "format": "slack"},
            headers=alpha.auth("admin"),
        )
        assert r.status_code == 201, r.text
        body = r.json()
        assert body["generated_secret"] and "T0KEN" not in body["channel"]["target"]
        r = await client.post(
            f"{BASE}/channels/webhook",
            json={"name": "x", "url": hook.url},
            headers=alpha.auth("operator"),
        )
        assert r.status_code == 403
        r = await client.post(
            f"{BASE}/rules",
            json={"name": "bad-pushes", "channel": "chat", "events": ["push-reverted"]},
            headers=alpha.auth("admin"),
        )
        assert r.status_code == 201, r.text
        r = await client.post(
            f"{BASE}/rules",
            json={"name": "r2", "channel": "chat", "events": ["nope"]},
            headers=alpha.auth("admin"),
        )
        assert r.status_code == 422 and "unknown event kind" in r.text
        r = await client.post(f"{BASE}/test/bad-pushes", headers=alpha.auth("operator"))
        assert r.status_code == 200, r.text
        assert r.json()["ok"] is True and r.json()["status"] == "HTTP 200"
        assert "test notification (rule bad-pushes)" in hook.requests[0].json()["text"]

    listing = (await client.get(f"{BASE}/channels", headers=alpha.auth("viewer"))).json()
    assert [(c["name"], c["rules"]) for c in listing] == [("chat", 1)]
    assert "T0KEN" not in str(listing)
    tried = (await client.get(f"{BASE}/attempts", headers=alpha.auth("viewer"))).json()
    assert [(a["channel"], a["ok"]) for a in tried] == [("chat", True)]
    assert (await client.get(f"{BASE}/channels", headers=beta.auth("admin"))).json() == []
    assert (await client.get(f"{BASE}/attempts", headers=beta.auth("admin"))).json() == []
    r = await client.post(f"{BASE}/test/bad-pushes", headers=beta.auth("admin"))
    assert r.status_code == 404
    r = await client.delete(f"{BASE}/channels/chat", headers=alpha.auth("admin"))
    assert r.status_code == 204
    assert (await client.get(f"{BASE}/rules", headers=alpha.auth("viewer"))).json() == []


async def test_the_notifications_page_lists_and_tests(
    client: httpx.AsyncClient, alpha: TenantWorld
) -> None:
    from tests.api.test_ui_pages import login

    with http_receiver() as hook:
        r = await client.post(
            f"{BASE}/channels/webhook",
            json={"name": "ops", "url": hook.url},
            headers=alpha.auth("admin"),
        )
        assert r.status_code == 201
        r = await client.post(
            f"{BASE}/rules",
            json={"name": "<b>all</b>", "channel": "ops"},
            headers=alpha.auth("admin"),
        )
        assert r.status_code == 422  # a rule name is one word
        r = await client.post(
            f"{BASE}/rules", json={"name": "all", "channel": "ops"}, headers=alpha.auth("admin")
        )
        token = await login(client, alpha.users["operator"])
        page = await client.get("/notifications")
        assert page.status_code == 200 and "Send a test" in page.text
        assert "T0KEN" not in page.text
        r = await client.post("/notifications/test", data={"name": "all", "csrf_token": token})
        assert r.status_code == 200 and "Test delivered to ops" in r.text
        r = await client.post("/notifications/test", data={"name": "all"})
        assert r.status_code == 403
    assert len(hook.requests) == 1


async def test_forbidden_targets_are_refused_when_added_and_when_sent(
    client: httpx.AsyncClient, alpha: TenantWorld, db: Database, settings: Settings
) -> None:
    """The controller is no scanner: a literal inward address is a 422 at once; a
    channel the operator allowed once and no longer does records the refusal."""
    admin = alpha.auth("admin")
    for path, body in (
        ("channels/webhook", {"name": "meta", "url": "http://169.254.169.254/latest/x"}),
        ("channels/webhook", {"name": "v6", "url": "http://[::ffff:a9fe:a9fe]:8080/x"}),
        ("channels/email", {"name": "m", "host": "10.0.0.5", "sender": "a@b.c", "to": ["d@e.f"]}),
    ):
        r = await client.post(f"{BASE}/{path}", json=body, headers=admin)
        assert r.status_code == 422, r.text
        assert "tikguard does not connect there" in r.json()["message"]
        assert "TIKGUARD_OUTBOUND_ALLOW" in r.json()["hint"]
    r = await client.post(
        "/api/v1/inventory/sources",
        json={"name": "nb", "kind": "http", "url": "http://localhost:8000/api/dcim/devices/"},
        headers=admin,
    )
    assert r.status_code == 422 and "loopback" in r.json()["message"]

    hook = notify_ops.WebhookChannel("lab", "http://127.0.0.1:9/hooks/T0KEN-in-path")
    notify_ops.add_webhook(db, settings, alpha.id, hook, actor="test")
    closed = settings.with_(outbound_allow="")  # the operator narrowed the setting since
    tried = notify_ops.test(db, closed, alpha.id, "lab", actor="test")
    assert not tried.ok and tried.final
    assert tried.status.startswith("refused: 127.0.0.1 is a loopback address")
    assert "T0KEN" not in tried.status
