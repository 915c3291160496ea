"""The API against simulated routers over real SSH, with the engine running in the app:
add a device, back it up asynchronously, diff against live, push a change that cuts
management access, and follow the operation over Server-Sent Events (resuming with
Last-Event-ID) until the router has reverted by itself.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.api.world import TenantWorld, build_tenant
from tests.browser.liveserver import LiveServer

from tikguard.sim.fleet import SimDevice, SimFleet
from tikguard.store.db import Database

pytestmark = pytest.mark.timeout(120)


async def read_sse(
    client: httpx.AsyncClient,
    url: str,
    headers: dict[str, str],
    stop_after: int | None = None,
    until_stage: str | None = None,
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """Events (and the end message) of an SSE stream; stop early after ``stop_after``."""
    events: list[dict[str, Any]] = []
    end: dict[str, Any] | None = None
    async with client.stream("GET", url, headers=headers) as r:
        assert r.status_code == 200, await r.aread()
        assert r.headers["content-type"].startswith("text/event-stream")
        kind, data = "message", ""
        async for line in r.aiter_lines():
            if line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("data: "):
                data = line[6:]
            elif line == "" and data:
                if kind == "end":
                    end = json.loads(data)
                    break
                events.append(json.loads(data))
                kind, data = "message", ""
                if stop_after is not None and len(events) >= stop_after:
                    break
                if until_stage is not None and events[-1]["stage"] == until_stage:
                    break
    return events, end


@pytest.fixture
async def live(tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, TenantWorld, SimFleet]]:
    """A real server (uvicorn over TCP, so event streams really stream) in its own thread."""
    server = LiveServer(tmp_path, routers=1).start()
    db = Database.open(server.settings)
    try:
        world = await asyncio.to_thread(build_tenant, db, "alpha")
        assert server.fleet is not None
        async with httpx.AsyncClient(base_url=server.url, timeout=60) as client:
            yield client, world, server.fleet
    finally:
        db.dispose()
        server.stop()


async def test_backup_diff_push_revert_over_the_api(
    live: tuple[httpx.AsyncClient, TenantWorld, SimFleet],
) -> None:
    client, world, fleet = live
    dev = fleet[0]
    admin, op_h = world.auth("admin"), world.auth("operator")
    body = {
        "name": "edge1",
        "host": dev.host,
        "port": dev.port,
        "username": dev.username,
        "password": dev.password,
        "tags": ["edge"],
    }
    r = await client.post("/api/v1/devices", json=body, headers=admin)
    assert r.status_code == 201, r.text
    device_id = r.json()["id"]

    r = await client.post(f"/api/v1/devices/{device_id}/backup", headers=op_h)
    assert r.status_code == 202, r.text
    (backup_op,) = r.json()["operations"]
    events, end = await read_sse(client, f"/api/v1/operations/{backup_op}/stream", op_h)
    assert end is not None and end["outcome"] == "succeeded", (events, end)
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))

    r = await client.get(f"/api/v1/devices/{device_id}/diff?old=-1&new=live", headers=op_h)
    assert r.status_code == 200 and r.json()["empty"], r.text

    r = await client.post(f"/api/v1/devices/{device_id}/probe", headers=op_h)
    assert r.status_code == 200 and r.json()["version"], r.text

    cut = "/ip service\nset ssh disabled=yes\n"
    r = await client.post(
        "/api/v1/push", json={"devices": [device_id], "script": cut}, headers=op_h
    )
    assert r.status_code == 202, r.text
    (push_op,) = r.json()["operations"]
    url = f"/api/v1/operations/{push_op}/stream"
    first, end = await read_sse(client, url, op_h, stop_after=2)
    assert end is None and len(first) == 2
    # Reconnect as a browser does: only what came after the last event seen.
    rest, end = await read_sse(client, url, {**op_h, "Last-Event-ID": str(first[-1]["seq"])})
    assert end is not None and end["outcome"] == "reverted", (rest, end)
    seqs = [e["seq"] for e in first + rest]
    assert seqs == list(range(1, len(seqs) + 1))
    stages = {e["stage"] for e in first + rest}
    assert {"armed", "apply"} <= stages

    r = await client.get(f"/api/v1/operations/{push_op}", headers=world.auth("viewer"))
    op = r.json()
    assert op["outcome"] == "reverted" and op["evidence"]["rebooted"] is True
    r = await client.get("/api/v1/devices", headers=op_h)
    row = next(d for d in r.json() if d["id"] == device_id)
    assert row["last_push_outcome"] == "reverted"
    r = await client.get("/api/v1/audit?action=push.merge", headers=op_h)
    assert r.json() and r.json()[0]["actor"] == "token:alpha-operator"


async def add_and_back_up(
    client: httpx.AsyncClient, world: TenantWorld, dev: SimDevice, name: str
) -> int:
    """Add the simulated router as ``name`` (admin) and back it up (operator): its key
    is pinned, so it can be pushed to."""
    admin, op_h = world.auth("admin"), world.auth("operator")
    body = {
        "name": name,
        "host": dev.host,
        "port": dev.port,
        "username": dev.username,
        "password": dev.password,
    }
    device_id = int((await client.post("/api/v1/devices", json=body, headers=admin)).json()["id"])
    r = await client.post(f"/api/v1/devices/{device_id}/backup", headers=op_h)
    (backup_op,) = r.json()["operations"]
    _, end = await read_sse(client, f"/api/v1/operations/{backup_op}/stream", op_h)
    assert end is not None and end["outcome"] == "succeeded"
    return device_id


async def manual_push(
    client: httpx.AsyncClient, headers: dict[str, str], device_id: int, address: str
) -> str:
    """A manual-confirm push adding ``address`` on ether2; its operation id."""
    script = f"/ip address\nadd address={address} interface=ether2\n"
    body = {"devices": [device_id], "script": script, "confirm": "manual", "window": 600}
    r = await client.post("/api/v1/push", json=body, headers=headers)
    (op_id,) = r.json()["operations"]
    return str(op_id)


async def test_manual_confirm_commits(
    live: tuple[httpx.AsyncClient, TenantWorld, SimFleet],
) -> None:
    client, world, fleet = live
    dev = fleet[0]
    op_h = world.auth("operator")
    device_id = await add_and_back_up(client, world, dev, "edge2")

    op_id = await manual_push(client, op_h, device_id, "10.91.0.1/24")
    r = await client.post(f"/api/v1/operations/{op_id}/confirm", headers=world.auth("viewer"))
    assert r.status_code == 403
    events, _ = await read_sse(
        client,
        f"/api/v1/operations/{op_id}/stream",
        op_h,
        stop_after=99,
        until_stage="waiting-confirm",
    )
    assert events[-1]["stage"] == "waiting-confirm"
    r = await client.post(f"/api/v1/operations/{op_id}/confirm", headers=op_h)
    assert r.status_code == 200, r.text
    rest, end = await read_sse(client, f"/api/v1/operations/{op_id}/stream", op_h)
    assert end is not None and end["outcome"] == "committed", (rest, end)
    assert "10.91.0.1/24" in dev.router.config_text()
    r = await client.post(f"/api/v1/operations/{op_id}/confirm", headers=op_h)
    assert r.status_code == 409  # already ended


async def test_changed_host_key_is_accepted_by_fingerprint(
    live: tuple[httpx.AsyncClient, TenantWorld, SimFleet],
) -> None:
    client, world, fleet = live
    dev = fleet[0]
    admin, op_h = world.auth("admin"), world.auth("operator")
    body = {
        "name": "edge3",
        "host": dev.host,
        "port": dev.port,
        "username": dev.username,
        "password": dev.password,
    }
    device_id = (await client.post("/api/v1/devices", json=body, headers=admin)).json()["id"]

    async def backup() -> dict[str, Any] | None:
        r = await client.post(f"/api/v1/devices/{device_id}/backup", headers=op_h)
        (op_id,) = r.json()["operations"]
        return (await read_sse(client, f"/api/v1/operations/{op_id}/stream", op_h))[1]

    assert (await backup() or {}).get("outcome") == "succeeded"  # pins the key
    new_fp = dev.change_host_key()
    end = await backup()
    assert end is not None and end["outcome"] == "failed"
    r = await client.get(f"/api/v1/devices/{device_id}", headers=op_h)
    assert r.json()["pending_host_key_fingerprint"]
    r = await client.get(f"/api/v1/devices/{device_id}/host-key", headers=op_h)
    assert r.status_code == 403
    offer = (await client.get(f"/api/v1/devices/{device_id}/host-key", headers=admin)).json()
    assert offer["offered_fingerprint"] != offer["pinned_fingerprint"]
    assert offer["offered_fingerprint"] == new_fp
    r = await client.post(
        f"/api/v1/devices/{device_id}/host-key/accept",
        json={"fingerprint": "SHA256:not-what-was-offered"},
        headers=admin,
    )
    assert r.status_code == 409
    r = await client.post(
        f"/api/v1/devices/{device_id}/host-key/accept",
        json={"fingerprint": offer["offered_fingerprint"]},
        headers=admin,
    )
    assert r.status_code == 200 and r.json()["host_key_fingerprint"] == offer["offered_fingerprint"]
    assert (await backup() or {}).get("outcome") == "succeeded"
    r = await client.get("/api/v1/audit?action=device.accept-host-key", headers=op_h)
    assert r.json()[0]["details"]["new"] == offer["offered_fingerprint"]


async def test_recheck_and_revert_over_the_api(
    live: tuple[httpx.AsyncClient, TenantWorld, SimFleet],
) -> None:
    """A push waiting for its confirm: recheck refuses it (still running), revert makes
    it revert; once it ended, both refuse it saying why; a viewer may do neither."""
    client, world, fleet = live
    dev = fleet[0]
    op_h = world.auth("operator")
    device_id = await add_and_back_up(client, world, dev, "edge3")
    before = dev.router.config_text()
    op_id = await manual_push(client, op_h, device_id, "10.92.0.1/24")
    await read_sse(
        client,
        f"/api/v1/operations/{op_id}/stream",
        op_h,
        stop_after=99,
        until_stage="waiting-confirm",
    )
    for action in ("recheck", "revert"):
        r = await client.post(f"/api/v1/operations/{op_id}/{action}", headers=world.auth("viewer"))
        assert r.status_code == 403
    r = await client.post(f"/api/v1/operations/{op_id}/recheck", headers=op_h)
    assert r.status_code == 409 and "still running" in r.text
    r = await client.post(f"/api/v1/operations/{op_id}/revert", headers=op_h)
    assert r.status_code == 200, r.text
    _, end = await read_sse(client, f"/api/v1/operations/{op_id}/stream", op_h)
    assert end is not None and end["outcome"] == "reverted", end
    await dev.wait_up(within=30)
    assert dev.router.config_text() == before
    for action in ("recheck", "revert"):
        r = await client.post(f"/api/v1/operations/{op_id}/{action}", headers=op_h)
        assert r.status_code == 409 and "ended reverted" in r.text
