"""Security walls against a real server and simulated routers over real SSH.

* Secrets pushed to a router (a PPP secret's password, a ``:local pw "..."`` in a
  script) never reach event rows, evidence, DBOS's recorded step outputs, the
  preview or a viewer's ``GET /operations/{id}/events``: the import's verbose echo
  carries them, and the event write path redacts it.
* Preview tags what it cannot analyse (``:execute``, ``/user remove admin``) loudly.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.api.test_api_live import read_sse
from tests.api.world import PASSWORD, TenantWorld, build_tenant
from tests.browser.liveserver import LiveServer, free_port

from tikguard.sim.fleet import SimFleet
from tikguard.store.db import Database

pytestmark = pytest.mark.timeout(180)

#: The revert window (device seconds; 24 s of wall time at the live server's scale):
#: long enough for a loaded machine and the bounded health-check match, and no slower
#: when the push commits (a commit does not wait for the window).
WINDOW = 1200

PPP = "TOPSECRET-PPP-7f3a"
VAR = "TOPSECRET-VAR-91bc"
SCRIPT = f"""/ppp secret
add name=u1 password={PPP} service=pppoe
/system script
add name=notify source=":local pw \\"{VAR}\\"; :log info \\$pw"
"""


@pytest.fixture
async def live(
    tmp_path: Path,
) -> AsyncIterator[tuple[httpx.AsyncClient, TenantWorld, SimFleet, LiveServer]]:
    server = LiveServer(tmp_path, routers=1).start()
    db = Database.open(server.settings)
    try:
        world = await asyncio.to_thread(build_tenant, db, "alpha")
        assert server.fleet is not None
        async with httpx.AsyncClient(base_url=server.url, timeout=60) as client:
            yield client, world, server.fleet, server
    finally:
        db.dispose()
        server.stop()


async def _device(client: httpx.AsyncClient, world: TenantWorld, fleet: SimFleet) -> int:
    dev = fleet[0]
    body = {
        "name": "edge1",
        "host": dev.host,
        "port": dev.port,
        "username": dev.username,
        "password": dev.password,
    }
    r = await client.post("/api/v1/devices", json=body, headers=world.auth("admin"))
    assert r.status_code == 201, r.text
    device_id: int = r.json()["id"]
    r = await client.post(f"/api/v1/devices/{device_id}/backup", headers=world.auth("operator"))
    (op,) = r.json()["operations"]
    _, end = await read_sse(client, f"/api/v1/operations/{op}/stream", world.auth("operator"))
    assert end is not None and end["outcome"] == "succeeded", end
    return device_id


def _no_secret(where: str, text: Any) -> None:
    shown = str(text)
    assert PPP not in shown and VAR not in shown, f"a pushed secret in {where}"


async def test_pushed_secrets_stay_out_of_events_steps_and_versions(
    live: tuple[httpx.AsyncClient, TenantWorld, SimFleet, LiveServer],
) -> None:
    client, world, fleet, server = live
    device_id = await _device(client, world, fleet)
    operator, viewer = world.auth("operator"), world.auth("viewer")

    r = await client.post(
        "/api/v1/preview", json={"device": device_id, "script": SCRIPT}, headers=operator
    )
    assert r.status_code == 200, r.text
    _no_secret("the preview", r.json())

    body = {"devices": [device_id], "script": SCRIPT, "window": WINDOW}
    r = await client.post("/api/v1/push", json=body, headers=operator)
    assert r.status_code == 202, r.text
    (op_id,) = r.json()["operations"]
    streamed, end = await read_sse(client, f"/api/v1/operations/{op_id}/stream", viewer)
    assert end is not None and end["outcome"] == "committed", (streamed, end)
    _no_secret("the event stream", streamed)

    r = await client.get(f"/api/v1/operations/{op_id}/events", headers=viewer)
    events = r.json()
    _no_secret("the events", events)
    (apply,) = [e for e in events if e["stage"] == "apply"]
    # the router echoed the lines as sent; the echo is kept, the values are not
    assert "password=(hidden)" in apply["data"]["output"], apply
    _no_secret("the operation", (await client.get(f"/api/v1/operations/{op_id}")).text)

    r = await client.get(f"/api/v1/devices/{device_id}/versions/latest", headers=viewer)
    assert r.status_code == 200, r.text
    assert ":local pw" in r.json()["text"]
    _no_secret("the stored version", r.json())

    for path in sorted(server.settings.data_dir.glob("*.sqlite*")):
        _no_secret(path.name, path.read_bytes().decode("latin-1"))


async def test_preview_tags_what_it_cannot_analyse(
    live: tuple[httpx.AsyncClient, TenantWorld, SimFleet, LiveServer],
) -> None:
    client, world, fleet, _server = live
    device_id = await _device(client, world, fleet)
    script = ':execute "/ip service set ssh disabled=yes"\n/user remove admin\n'
    r = await client.post(
        "/api/v1/preview", json={"device": device_id, "script": script}, headers=world.auth()
    )
    assert r.status_code == 200, r.text
    risk = {tag["tag"]: tag for tag in r.json()["risk"]}
    assert risk["runs-commands"]["title"].startswith("UNANALYSED, MAY LOCK OUT")
    assert risk["runs-commands"]["items"] == [':execute "/ip service set ssh disabled=yes"']
    assert risk["users"]["items"] == ["/user remove admin"]


async def test_a_backtracking_health_check_fails_the_check_not_the_server(
    live: tuple[httpx.AsyncClient, TenantWorld, SimFleet, LiveServer],
) -> None:
    client, world, fleet, _server = live
    device_id = await _device(client, world, fleet)
    operator = world.auth("operator")
    # (a|aa)+$ against a run of a's ending in b backtracks exponentially: Python's re
    # would hold the event loop (and the GIL) for longer than the universe has left
    check = [f':put "{"a" * 900}b"', "(a|aa)+$"]
    script = "/ip address\nadd address=10.92.0.1/24 interface=ether2\n"
    body = {"devices": [device_id], "script": script, "checks": [check], "window": WINDOW}
    r = await client.post("/api/v1/push", json=body, headers=operator)
    assert r.status_code == 202, r.text
    (op_id,) = r.json()["operations"]
    events, end = await read_sse(client, f"/api/v1/operations/{op_id}/stream", operator)
    assert end is not None and end["outcome"] == "reverted", (events, end)
    (verify,) = [e for e in events if e["stage"] == "verify"]
    assert "gave up matching" in verify["data"]["checks"][0], (verify["message"], verify["data"])


async def test_probe_errors_of_unverified_devices_are_uniform(
    live: tuple[httpx.AsyncClient, TenantWorld, SimFleet, LiveServer],
) -> None:
    client, world, fleet, _server = live
    dev = fleet[0]
    admin = world.auth("admin")
    # an SSH router refusing the login and a closed port read the same
    targets = {
        "wrong-password": (dev.port, "not-the-password"),
        "closed-port": (free_port(), "x"),
    }
    answers = {}
    for name, (port, password) in targets.items():
        body = {"name": name, "host": dev.host, "port": port, "username": dev.username}
        r = await client.post("/api/v1/devices", json={**body, "password": password}, headers=admin)
        assert r.status_code == 201, r.text
        r = await client.post(f"/api/v1/devices/{r.json()['id']}/probe", headers=admin)
        assert r.status_code == 502, r.text
        answers[name] = {k: str(v).replace(name, "X") for k, v in r.json().items()}
    assert answers["wrong-password"] == answers["closed-port"]
    assert answers["closed-port"]["reason"] == "unverified"


async def test_an_idempotency_key_names_one_request(
    live: tuple[httpx.AsyncClient, TenantWorld, SimFleet, LiveServer],
) -> None:
    client, world, fleet, _server = live
    device_id = await _device(client, world, fleet)
    operator = world.auth("operator")
    script = "/ip address\nadd address=10.93.0.1/24 interface=ether2\n"
    first = {
        "devices": [device_id],
        "script": script,
        "idempotency_key": "chg-7",
        "window": WINDOW,
    }
    r = await client.post("/api/v1/push", json=first, headers=operator)
    assert r.status_code == 202, r.text
    (op_id,) = r.json()["operations"]
    r = await client.post("/api/v1/push", json=first, headers=operator)
    assert r.status_code == 202 and r.json()["operations"] == [op_id]  # the same request
    other = {**first, "script": script.replace("10.93", "10.94")}
    r = await client.post("/api/v1/push", json=other, headers=operator)
    assert r.status_code == 409, r.text
    said = r.json()["message"]
    assert "'chg-7' was first used for a merge of edge1 with a 2-line script" in said
    assert op_id in said
    restore = {"device": device_id, "version": 1, "idempotency_key": "chg-7"}
    r = await client.post("/api/v1/restore", json=restore, headers=operator)
    assert r.status_code == 409, r.text
    _, end = await read_sse(client, f"/api/v1/operations/{op_id}/stream", operator)
    assert end is not None and end["outcome"] == "committed"
    r = await client.get(f"/api/v1/operations/{op_id}", headers=world.auth("viewer"))
    assert "request" not in r.json()["parameters"]


async def _login(client: httpx.AsyncClient, username: str) -> str:
    """Log in like a browser (cookie in ``client``); returns the page's CSRF token."""
    r = await client.post("/login", data={"username": username, "password": PASSWORD})
    assert r.status_code == 303, r.text
    page = await client.get("/")
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match, page.text
    return match.group(1)


@pytest.mark.parametrize("how", ["token revoked", "logout"])
async def test_an_open_stream_ends_when_its_credentials_do(
    live: tuple[httpx.AsyncClient, TenantWorld, SimFleet, LiveServer], how: str
) -> None:
    client, world, fleet, server = live
    device_id = await _device(client, world, fleet)
    admin, operator = world.auth("admin"), world.auth("operator")
    script = "/ip address\nadd address=10.95.0.1/24 interface=ether2\n"
    body = {"devices": [device_id], "script": script, "confirm": "manual", "window": WINDOW}
    (op_id,) = (await client.post("/api/v1/push", json=body, headers=operator)).json()["operations"]

    async with httpx.AsyncClient(base_url=server.url, timeout=60) as viewer:
        if how == "logout":
            csrf = await _login(viewer, world.users["viewer"])
            headers: dict[str, str] = {}

            async def end_credentials() -> None:
                r = await viewer.post("/logout", data={"csrf_token": csrf})
                assert r.status_code == 303, r.text

        else:
            new = {"name": "wall", "role": "viewer"}
            r = await client.post("/api/v1/tokens", json=new, headers=admin)
            assert r.status_code == 201, r.text
            headers = {"Authorization": f"Bearer {r.json()['token']}"}
            token_id = r.json()["id"]

            async def end_credentials() -> None:
                r = await client.delete(f"/api/v1/tokens/{token_id}", headers=admin)
                assert r.status_code == 204

        seen: list[str] = []
        ended: dict[str, Any] | None = None
        url = f"/api/v1/operations/{op_id}/stream"
        async with viewer.stream("GET", url, headers=headers) as r:
            assert r.status_code == 200
            kind = ""
            async for line in r.aiter_lines():
                if line.startswith("event: "):
                    kind = line[7:]
                elif line.startswith("data: ") and kind == "end":
                    ended = json.loads(line[6:])
                    break
                elif line.startswith("data: "):
                    seen.append(json.loads(line[6:])["stage"])
                    if seen[-1] == "waiting-confirm":
                        await end_credentials()
                        revoked_at = len(seen)
                        confirm = f"/api/v1/operations/{op_id}/confirm"
                        r2 = await client.post(confirm, headers=operator)
                        assert r2.status_code == 200, r2.text
    assert ended is not None and "revoked" in ended["error"], (seen, ended)
    assert len(seen) == revoked_at, seen  # nothing after the credentials ended
    _, end = await read_sse(client, url, operator)
    assert end is not None and end["outcome"] == "committed"
