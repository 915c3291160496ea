"""Rollouts over the API against simulated routers, with the engine in the server: plan
grouped by diff, template errors per router (422, nothing started), start with a manual
gate, follow the rollout over Server-Sent Events, continue, and see it complete."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.browser.liveserver import LiveServer

from tikguard.ops import accounts
from tikguard.ops.backup import backup
from tikguard.sim.fleet import SimFleet
from tikguard.store.db import Database

pytestmark = pytest.mark.timeout(180)
TOKENS: dict[str, str] = {}


async def _seed(db: Database, tenant_id: int, fleet: SimFleet) -> None:
    results = await backup(db, db.settings, tenant_id)
    assert all(r.ok for r in results), results
    with db.transaction() as s:
        TOKENS["operator"] = accounts.create_token(
            s, tenant_id, "rollouts", "operator", actor="test"
        ).token


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, LiveServer]]:
    server = await asyncio.to_thread(LiveServer(tmp_path, routers=3, seed=_seed).start)
    try:
        headers = {"Authorization": f"Bearer {TOKENS['operator']}"}
        async with httpx.AsyncClient(base_url=server.url, headers=headers, timeout=60) as c:
            yield c, server
    finally:
        await asyncio.to_thread(server.stop)


async def _states(client: httpx.AsyncClient, rollout_id: str, until: str) -> list[dict[str, Any]]:
    """The rollouts the stream sent, up to the first in state ``until``."""
    seen: list[dict[str, Any]] = []
    async with client.stream("GET", f"/api/v1/rollouts/{rollout_id}/stream") as r:
        assert r.status_code == 200
        kind = ""
        async for line in r.aiter_lines():
            if line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("data: ") and kind == "rollout":
                seen.append(json.loads(line[6:]))
                if seen[-1]["state"] == until:
                    return seen
            elif line.startswith("data: ") and kind == "end":
                return seen
    return seen


async def test_plan_start_gate_continue_over_the_api(
    api: tuple[httpx.AsyncClient, LiveServer],
) -> None:
    client, server = api
    assert server.fleet is not None
    names = [d.name for d in server.fleet]
    body: dict[str, Any] = {
        "all": True,
        "script": "/ip dns set servers={{ vars.dns }}\n",
        "template": True,
    }
    refused = await client.post("/api/v1/rollouts/plan", json=body)
    assert refused.status_code == 200
    assert {r["router"] for r in refused.json()["refused"]} == set(names)
    started = await client.post("/api/v1/rollouts", json=body)
    assert started.status_code == 422
    assert f"{names[0]}: template: template line 1: vars.dns is not defined" in started.text
    assert (await client.get("/api/v1/rollouts")).json() == []

    body = {**body, "script": "/ip dns set servers={{ '9.9.9.' ~ (device.name[-1:]) }}\n"}
    plan = (await client.post("/api/v1/rollouts/plan", json=body)).json()
    assert [g["count"] for g in plan["groups"]] == [1, 1, 1] and plan["waves"] == [1, 2]
    body.update(approve=True, window=1500)
    started = await client.post("/api/v1/rollouts", json=body)
    assert started.status_code == 202, started.text
    rollout_id = started.json()["id"]
    seen = await _states(client, rollout_id, "waiting")
    gate = seen[-1]
    assert gate["state"] == "waiting"
    assert [t["outcome"] for t in gate["targets"]] == ["committed", None, None]
    ok = await client.post(f"/api/v1/rollouts/{rollout_id}/continue")
    assert ok.status_code == 200, ok.text
    seen = await _states(client, rollout_id, "completed")
    assert seen[-1]["counts"] == {"committed": 3}
    again = await client.post(f"/api/v1/rollouts/{rollout_id}/continue")
    assert again.status_code == 409
