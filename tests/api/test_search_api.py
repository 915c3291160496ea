"""GET /api/v1/search: tenant-scoped, the CLI's shapes, clear errors for bad queries."""

from __future__ import annotations

import httpx
from tests.api.world import TenantWorld


async def test_search_sees_only_the_callers_tenant(
    client: httpx.AsyncClient, alpha: TenantWorld, beta: TenantWorld
) -> None:
    r = await client.get(
        "/api/v1/search", params={"q": "/ip address interface=ether2"}, headers=alpha.auth("viewer")
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["query"] == "/ip address interface=ether2" and body["structured"] is True
    assert [x["device"] for x in body["routers"]] == [alpha.device_name]
    assert body["routers"][0]["lines"] == [
        {"menu": "/ip address", "line": "/ip address add address=198.51.100.1/24 interface=ether2"}
    ]
    r = await client.get(
        "/api/v1/search",
        params={"q": f"re:name={beta.device_name}$", "history": "true"},
        headers=alpha.auth("viewer"),
    )
    assert r.status_code == 200 and r.json()["routers"] == []


async def test_bad_query_is_a_clear_422(client: httpx.AsyncClient, alpha: TenantWorld) -> None:
    r = await client.get(
        "/api/v1/search", params={"q": "/ppp secret password=x"}, headers=alpha.auth("viewer")
    )
    assert r.status_code == 422 and "secret" in r.text
    r = await client.get("/api/v1/search", params={"q": "/ip address"})
    assert r.status_code == 401
