"""The API's basic contract: auth, roles, JSON errors, write-only credentials."""

from __future__ import annotations

import httpx
from tests.api.world import TenantWorld

from tikguard.store import operations as store_ops
from tikguard.store.db import Database


async def test_health_needs_no_credentials(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/v1/health")
    assert r.status_code == 200 and r.json()["status"] == "ok"


async def test_no_token_is_401_json(client: httpx.AsyncClient, alpha: TenantWorld) -> None:
    r = await client.get("/api/v1/devices")
    assert r.status_code == 401
    assert r.json()["error"] == "unauthorized"
    r = await client.get("/api/v1/devices", headers={"Authorization": "Bearer tgk_nope"})
    assert r.status_code == 401
    r = await client.get("/api/v1/devices", headers={"Authorization": "Basic abc"})
    assert r.status_code == 401


async def test_fleet_lists_devices_with_status(
    client: httpx.AsyncClient, alpha: TenantWorld
) -> None:
    r = await client.get("/api/v1/devices", headers=alpha.auth("viewer"))
    assert r.status_code == 200, r.text
    (row,) = r.json()
    assert row["name"] == alpha.device_name
    assert row["versions"] == 2 and row["latest_version"] == 2
    assert row["drift"] is True  # v2 was found by a backup, not written by a push
    assert row["last_push_operation"] == alpha.op_id
    r = await client.get("/api/v1/devices?offset=1", headers=alpha.auth("viewer"))
    assert r.json() == []
    r = await client.get("/api/v1/devices?limit=0", headers=alpha.auth("viewer"))
    assert r.status_code == 422
    r = await client.get("/api/v1/devices?tag=nope", headers=alpha.auth("viewer"))
    assert r.json() == []
    r = await client.get(f"/api/v1/devices?site={alpha.name}-site", headers=alpha.auth("viewer"))
    assert len(r.json()) == 1


async def test_credentials_are_write_only(client: httpx.AsyncClient, alpha: TenantWorld) -> None:
    body = {"name": "r9", "host": "192.0.2.9", "username": "admin", "password": "s3cret-pw"}
    r = await client.post("/api/v1/devices", json=body, headers=alpha.auth("admin"))
    assert r.status_code == 201, r.text
    assert "s3cret-pw" not in r.text and r.json()["has_password"] is True
    device_id = r.json()["id"]
    for path in (f"/api/v1/devices/{device_id}", "/api/v1/devices", "/api/v1/audit"):
        r = await client.get(path, headers=alpha.auth("admin"))
        assert r.status_code == 200 and "s3cret-pw" not in r.text
    r = await client.patch(
        f"/api/v1/devices/{device_id}", json={"password": None, "site": "x"}, headers=alpha.auth()
    )
    assert r.status_code == 200 and r.json()["has_password"] is False and r.json()["site"] == "x"


async def test_roles(client: httpx.AsyncClient, alpha: TenantWorld) -> None:
    body = {"name": "r10", "host": "192.0.2.10"}
    r = await client.post("/api/v1/devices", json=body, headers=alpha.auth("operator"))
    assert r.status_code == 403 and "admin" in r.json()["message"]
    r = await client.post("/api/v1/backups", json={}, headers=alpha.auth("viewer"))
    assert r.status_code == 403
    r = await client.get(
        f"/api/v1/devices/{alpha.device_id}/versions/1?with_secrets=true",
        headers=alpha.auth("operator"),
    )
    assert r.status_code == 403
    r = await client.get(
        f"/api/v1/devices/{alpha.device_id}/versions/1?with_secrets=true", headers=alpha.auth()
    )
    assert r.status_code == 200 and r.json()["with_secrets"] is True
    r = await client.get("/api/v1/users", headers=alpha.auth("operator"))
    assert r.status_code == 403
    r = await client.get("/api/v1/workers", headers=alpha.auth("operator"))
    assert r.status_code == 403
    r = await client.get("/api/v1/workers", headers=alpha.auth())
    assert r.status_code == 200 and r.json() == []  # no engine ran on this database


async def test_versions_and_diff(client: httpx.AsyncClient, alpha: TenantWorld) -> None:
    h = alpha.auth("viewer")
    r = await client.get(f"/api/v1/devices/{alpha.device_id}/versions", headers=h)
    assert [v["seq"] for v in r.json()] == [2, 1]
    r = await client.get(f"/api/v1/devices/{alpha.device_id}/versions/latest", headers=h)
    assert "198.51.100.1" in r.json()["text"]
    r = await client.get(f"/api/v1/devices/{alpha.device_id}/diff?old=1&new=2", headers=h)
    body = r.json()
    assert r.status_code == 200 and not body["empty"]
    assert "+add address=198.51.100.1/24 interface=ether2" in body["unified"]
    assert body["semantic"]


async def test_malformed_and_unknown_are_4xx(client: httpx.AsyncClient, alpha: TenantWorld) -> None:
    h = alpha.auth()
    cases = [
        client.post(
            "/api/v1/devices",
            content=b"{not json",
            headers={**h, "content-type": "application/json"},
        ),
        client.post("/api/v1/devices", json={"name": "x"}, headers=h),
        client.post("/api/v1/devices", json={"name": "x", "host": "h", "port": 70000}, headers=h),
        client.post("/api/v1/devices", json={"name": "x", "host": "h", "bogus": 1}, headers=h),
        client.post("/api/v1/devices", json={"name": "a/b", "host": "h"}, headers=h),
        client.post("/api/v1/devices", json=[1, 2], headers=h),
        client.get("/api/v1/devices/999999", headers=h),
        client.get("/api/v1/devices/notanumber", headers=h),
        client.get(f"/api/v1/devices/{alpha.device_id}/versions/99", headers=h),
        client.get(f"/api/v1/devices/{alpha.device_id}/versions/abc", headers=h),
        client.get(f"/api/v1/devices/{alpha.device_id}/versions/99999999999999999999", headers=h),
        client.get(f"/api/v1/devices/{alpha.device_id}/diff?old=0", headers=h),
        client.get("/api/v1/operations/nope", headers=h),
        client.get("/api/v1/operations/nope/events", headers=h),
        client.post("/api/v1/operations/nope/confirm", headers=h),
        client.post("/api/v1/push", json={"devices": [], "script": ""}, headers=h),
        client.delete("/api/v1/tokens/424242", headers=h),
    ]
    for pending in cases:
        r = await pending
        assert 400 <= r.status_code < 500, (r.request.url, r.status_code, r.text)
        assert r.json()["message"], r.text


async def test_duplicate_device_is_409(client: httpx.AsyncClient, alpha: TenantWorld) -> None:
    body = {"name": alpha.device_name, "host": "192.0.2.1"}
    r = await client.post("/api/v1/devices", json=body, headers=alpha.auth())
    assert r.status_code == 409


async def test_oversized_body_is_413(client: httpx.AsyncClient, alpha: TenantWorld) -> None:
    big = "x" * (128 * 1024)
    r = await client.post(
        "/api/v1/push", json={"devices": [alpha.device_id], "script": big}, headers=alpha.auth()
    )
    assert r.status_code == 413 and r.json()["error"] == "too_large"

    async def chunks():  # type: ignore[no-untyped-def]
        for _ in range(16):
            yield b"x" * 8192

    r = await client.post(
        "/api/v1/push",
        content=chunks(),
        headers={**alpha.auth(), "content-type": "application/json"},
    )
    assert r.status_code == 413


async def test_events_and_audit(client: httpx.AsyncClient, alpha: TenantWorld) -> None:
    h = alpha.auth("viewer")
    r = await client.get(f"/api/v1/operations/{alpha.op_id}/events", headers=h)
    assert [e["stage"] for e in r.json()] == ["plan", "preflight"]
    r = await client.get(f"/api/v1/operations/{alpha.op_id}/events?after=1", headers=h)
    assert [e["seq"] for e in r.json()] == [2]
    r = await client.get("/api/v1/audit", headers=h)
    assert any(e["action"] == "device.add" for e in r.json())


async def test_tokens_shown_once_and_revocable(
    client: httpx.AsyncClient, alpha: TenantWorld
) -> None:
    r = await client.post(
        "/api/v1/tokens", json={"name": "ci", "role": "viewer"}, headers=alpha.auth()
    )
    assert r.status_code == 201
    token, token_id = r.json()["token"], r.json()["id"]
    listed = await client.get("/api/v1/tokens", headers=alpha.auth())
    assert token not in listed.text
    me = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.json()["role"] == "viewer"
    await client.delete(f"/api/v1/tokens/{token_id}", headers=alpha.auth())
    me = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 401


async def test_actions_need_the_engine(client: httpx.AsyncClient, alpha: TenantWorld) -> None:
    r = await client.post("/api/v1/backups", json={}, headers=alpha.auth("operator"))
    assert r.status_code == 503 and "tikguard serve" in r.json()["hint"]


async def test_operations_filter_by_outcome(
    client: httpx.AsyncClient, db: Database, alpha: TenantWorld
) -> None:
    h = alpha.auth("viewer")
    assert [
        o["id"] for o in (await client.get("/api/v1/operations?unfinished=true", headers=h)).json()
    ] == [alpha.op_id]
    assert (await client.get("/api/v1/operations?outcome=uncertain", headers=h)).json() == []
    with db.transaction() as s:
        store_ops.finish_operation(s, alpha.id, alpha.op_id, "uncertain")
    found = (await client.get("/api/v1/operations?outcome=uncertain", headers=h)).json()
    assert [o["id"] for o in found] == [alpha.op_id] and found[0]["device"] == alpha.device_name
    assert (await client.get("/api/v1/operations?unfinished=true", headers=h)).json() == []
    r = await client.get("/api/v1/operations?outcome=maybe", headers=h)
    assert r.status_code == 422
