"""The web UI without a browser: login, CSRF on every form, the pages render from the
same store, and errors are pages (a login redirect for 401), never a 500.
"""

from __future__ import annotations

import re

import httpx
from tests.api.world import PASSWORD, TenantWorld

from tikguard.store import devices as store_devices
from tikguard.store import operations as store_ops
from tikguard.store.db import Database


async def login(client: httpx.AsyncClient, username: str) -> str:
    r = await client.post("/login", data={"username": username, "password": PASSWORD})
    assert r.status_code == 303, r.text
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie
    page = await client.get("/")
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match
    return match.group(1)


async def test_pages_need_a_login(client: httpx.AsyncClient, alpha: TenantWorld) -> None:
    r = await client.get("/devices/1")
    assert r.status_code == 303 and r.headers["location"].startswith("/login?next=/devices/1")
    r = await client.post("/login", data={"username": alpha.users["admin"], "password": "wrong"})
    assert r.status_code == 401 and "wrong username or password" in r.text


async def test_fleet_device_diff_and_operation_pages(
    client: httpx.AsyncClient, alpha: TenantWorld
) -> None:
    await login(client, alpha.users["viewer"])
    r = await client.get("/")
    assert r.status_code == 200 and alpha.device_name in r.text and "changed" in r.text
    r = await client.get("/?tag=core")
    assert alpha.device_name in r.text
    r = await client.get("/?site=nowhere")
    assert alpha.device_name not in r.text
    r = await client.get(f"/devices/{alpha.device_id}")
    assert r.status_code == 200 and "v2" in r.text and "v1" in r.text
    assert "Back up now" not in r.text  # a viewer sees no action buttons
    r = await client.get(f"/devices/{alpha.device_id}/diff?old=1&new=2")
    assert r.status_code == 200
    assert 'class="insert"' in r.text and "198.51.100.1/24" in r.text
    r = await client.get(f"/operations/{alpha.op_id}")
    assert r.status_code == 200 and "planned" in r.text and "live.js" in r.text
    r = await client.get("/operations")
    assert alpha.op_id[:12] in r.text


async def test_forms_need_the_csrf_token_and_the_role(
    client: httpx.AsyncClient, alpha: TenantWorld
) -> None:
    token = await login(client, alpha.users["viewer"])
    r = await client.post(f"/devices/{alpha.device_id}/backup", data={})
    assert r.status_code == 403 and "security token" in r.text
    r = await client.post(f"/devices/{alpha.device_id}/backup", data={"csrf_token": token})
    assert r.status_code == 403 and "operator" in r.text
    # The API refuses a cookie-authenticated change without the token in a header.
    r = await client.post(f"/api/v1/operations/{alpha.op_id}/confirm")
    assert r.status_code == 403 and "CSRF" in r.json()["message"]


async def test_push_form_checks_its_input(client: httpx.AsyncClient, alpha: TenantWorld) -> None:
    token = await login(client, alpha.users["operator"])
    r = await client.get("/push")
    assert r.status_code == 200 and alpha.device_name in r.text
    r = await client.post("/push", data={"csrf_token": token, "action": "preview"})
    assert r.status_code == 422 and "choose at least one router" in r.text
    r = await client.post(
        "/push",
        data={"csrf_token": token, "action": "preview", "device": "999", "script": "/x\n"},
    )
    assert r.status_code == 404
    r = await client.post(
        "/push",
        data={"csrf_token": token, "action": "preview", "device": str(alpha.device_id)},
        files={"file": ("big.rsc", b"x" * (128 * 1024), "text/plain")},
    )
    assert r.status_code == 413


async def test_unknown_pages_are_404_pages(client: httpx.AsyncClient, alpha: TenantWorld) -> None:
    await login(client, alpha.users["viewer"])
    for path in ("/devices/424242", "/operations/nope", "/devices/1/diff?old=9&new=1"):
        r = await client.get(path)
        assert r.status_code == 404 and "<html" in r.text, path
    r = await client.get("/devices/abc")
    assert r.status_code == 422 and "<html" in r.text


async def test_logout_ends_the_session(client: httpx.AsyncClient, alpha: TenantWorld) -> None:
    token = await login(client, alpha.users["viewer"])
    r = await client.post("/logout", data={"csrf_token": token})
    assert r.status_code == 303
    r = await client.get("/")
    assert r.status_code == 303


async def test_password_guessing_is_throttled(
    client: httpx.AsyncClient, alpha: TenantWorld
) -> None:
    user = alpha.users["viewer"]
    codes = []
    for _ in range(10):
        r = await client.post("/login", data={"username": user, "password": "guess"})
        codes.append(r.status_code)
    # five free guesses, then each one waits (1 s, 2 s, 4 s, ...) before it is looked at
    assert codes[:5] == [401] * 5 and 429 in codes
    r = await client.post("/login", data={"username": user, "password": PASSWORD})
    assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
    assert "too many wrong passwords" in r.text


async def test_fleet_page_summarises_and_pages(
    client: httpx.AsyncClient, db: Database, alpha: TenantWorld
) -> None:
    with db.transaction() as s:
        for i in range(260):
            store_devices.add_device(
                s, alpha.id, name=f"bulk-{i:03d}", host="192.0.2.9", username="admin"
            )
    await login(client, alpha.users["viewer"])
    first = await client.get("/")
    assert "261 devices" in first.text and "<strong>260</strong> never backed up" in first.text
    assert first.text.count('<a href="/devices/') == 250
    second = await client.get("/?page=2")
    assert second.text.count('<a href="/devices/') == 11
    beyond = await client.get("/?page=99")
    assert beyond.status_code == 200 and beyond.text.count('<a href="/devices/') == 11


async def test_names_are_escaped(
    client: httpx.AsyncClient, db: Database, alpha: TenantWorld
) -> None:
    with db.transaction() as s:  # a device name cannot hold markup: its login and site can
        device = store_devices.add_device(
            s,
            alpha.id,
            name="x-script",
            host="192.0.2.9",
            username="x<script>alert(1)<x",
            site="<img src=x onerror=alert(2)>",
        )
    await login(client, alpha.users["viewer"])
    page = (await client.get("/")).text
    assert "<img src=x" not in page and "&lt;img src=x" in page
    page = (await client.get(f"/devices/{device.id}")).text
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)" in page


async def test_uncertain_alert_and_confirm_button(
    client: httpx.AsyncClient, db: Database, alpha: TenantWorld
) -> None:
    await login(client, alpha.users["viewer"])
    page = (await client.get(f"/operations/{alpha.op_id}")).text
    assert "Confirm and commit" not in page  # viewers cannot confirm
    assert "Recheck from the router" not in page
    await client.post("/logout", data={"csrf_token": await login(client, alpha.users["viewer"])})
    await login(client, alpha.users["operator"])
    page = (await client.get(f"/operations/{alpha.op_id}")).text
    assert "Confirm and commit" in page  # a manual-confirm push without an outcome
    assert "Outcome uncertain" not in page
    with db.transaction() as s:
        store_ops.finish_operation(
            s,
            alpha.id,
            alpha.op_id,
            "uncertain",
            evidence={"outcome_unknowns": ["timer state"], "reason": "no answer after reboot"},
        )
    for path in ("/", f"/devices/{alpha.device_id}", f"/operations/{alpha.op_id}"):
        page = (await client.get(path)).text
        assert "Outcome uncertain" in page and alpha.op_id[:8] in page, path
    page = (await client.get(f"/operations/{alpha.op_id}")).text
    assert "Confirm and commit" not in page and "no answer after reboot" in page
    assert "Not known: timer state." in page
    # a way out of uncertain for operators: recheck and revert buttons
    assert 'action="/operations/' + alpha.op_id + '/recheck"' in page
    assert 'action="/operations/' + alpha.op_id + '/revert"' in page


async def test_uploaded_snippet_is_previewed(client: httpx.AsyncClient, alpha: TenantWorld) -> None:
    token = await login(client, alpha.users["operator"])
    r = await client.post(
        "/push",
        data={"csrf_token": token, "action": "preview", "device": str(alpha.device_id)},
        files={"file": ("change.rsc", b"/ip dns\nset servers=192.0.2.53\n", "text/plain")},
    )
    # The snippet from the file fills the form; the (unreachable) router's preview
    # says why it failed instead of hiding the others.
    assert r.status_code == 200 and "set servers=192.0.2.53" in r.text
    assert 'class="card preview"' in r.text and 'class="error"' in r.text
    r = await client.post(
        "/push",
        data={"csrf_token": token, "action": "preview", "device": str(alpha.device_id)},
        files={"file": ("bin.rsc", b"\xff\xfe\x00", "application/octet-stream")},
    )
    assert r.status_code == 422 and "not UTF-8" in r.text


async def test_push_to_every_router_with_a_tag(
    client: httpx.AsyncClient, db: Database, alpha: TenantWorld
) -> None:
    with db.transaction() as s:
        store_devices.add_device(
            s, alpha.id, name="edge-2", host="192.0.2.9", username="a", tags=["core"]
        )
        store_devices.add_device(s, alpha.id, name="edge-3", host="192.0.2.9", username="a")
    token = await login(client, alpha.users["operator"])
    r = await client.post(
        "/push",
        data={"csrf_token": token, "action": "preview", "tag": "core", "script": "/ip dns\n"},
    )
    assert r.status_code == 200
    previewed = set(re.findall(r"<h3>([^<]+)</h3>", r.text))
    assert previewed == {alpha.device_name, "edge-2"}
