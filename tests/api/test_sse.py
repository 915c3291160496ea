"""Event streams over a real socket: live events to many listeners from one feed,
resume after Last-Event-ID, and a listener that hangs up leaves nothing behind."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from tests.api.world import TenantWorld
from tests.browser.liveserver import free_port

from tikguard.api.deps import AppState
from tikguard.store import operations as store_ops
from tikguard.store.db import Database

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
async def base_url(app: FastAPI) -> AsyncIterator[str]:
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=port, log_level="warning", timeout_graceful_shutdown=2
        )
    )
    task = asyncio.create_task(server.serve())
    for _ in range(1000):
        if server.started:
            break
        await asyncio.sleep(0.01)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    await task


def emit(db: Database, world: TenantWorld, stage: str) -> None:
    with db.transaction() as s:
        store_ops.append_event(s, world.id, world.op_id, stage=stage, message=stage)


async def collect(
    client: httpx.AsyncClient, url: str, headers: dict[str, str], count: int
) -> list[dict[str, Any]]:
    got: list[dict[str, Any]] = []
    async with client.stream("GET", url, headers=headers) as r:
        assert r.status_code == 200
        async for line in r.aiter_lines():
            if line.startswith("data: "):
                got.append(json.loads(line[6:]))
                if len(got) == count:
                    break
    return got


async def test_many_listeners_one_feed_and_clean_hang_up(
    base_url: str, app: FastAPI, db: Database, alpha: TenantWorld
) -> None:
    hub = app.state.tikguard.hub
    assert isinstance(app.state.tikguard, AppState)
    url = f"/api/v1/operations/{alpha.op_id}/stream"
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        listeners = [
            asyncio.create_task(collect(client, url, alpha.auth("viewer"), 4)) for _ in range(25)
        ]
        for _ in range(1000):  # up to 20 s for all 25 to connect on a loaded machine
            if sum(f.listeners for f in hub._feeds.values()) == 25:
                break
            await asyncio.sleep(0.02)
        assert len(hub._feeds) == 1  # one database poll feeds all 25
        await asyncio.to_thread(emit, db, alpha, "apply")
        await asyncio.to_thread(emit, db, alpha, "verify")
        results = await asyncio.wait_for(asyncio.gather(*listeners), 20)
        for got in results:
            assert [e["stage"] for e in got] == ["plan", "preflight", "apply", "verify"]
        resumed = await collect(client, url, {**alpha.auth(), "Last-Event-ID": "3"}, 1)
        assert [e["seq"] for e in resumed] == [4]
        r = await client.get(url, headers={**alpha.auth(), "Last-Event-ID": "x"})
        assert r.status_code == 400
    for _ in range(50):  # every listener hung up: the feed stops polling
        if not hub._feeds:
            break
        await asyncio.sleep(0.1)
    assert not hub._feeds


async def test_stream_ends_with_the_outcome(
    base_url: str, db: Database, alpha: TenantWorld
) -> None:
    def finish() -> None:
        with db.transaction() as s:
            store_ops.append_event(s, alpha.id, alpha.op_id, stage="outcome", message="done")
            store_ops.finish_operation(s, alpha.id, alpha.op_id, "reverted")

    await asyncio.to_thread(finish)
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        r = await client.get(f"/api/v1/operations/{alpha.op_id}/stream", headers=alpha.auth())
    assert r.status_code == 200
    assert r.text.count("event: stage") == 3
    assert 'event: end\ndata: {"outcome": "reverted"' in r.text
