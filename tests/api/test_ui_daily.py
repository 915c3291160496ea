"""The web UI's daily pages without a browser: the fleet's filters, search and sort,
Users & tokens, a whole stored version, role-aware forms, and a login that keeps the
username. (Layout at phone and desktop widths: tests/browser/test_browser_pages.py.)"""

from __future__ import annotations

import re

import httpx
import pytest
from tests.api.test_ui_pages import login
from tests.api.world import PASSWORD, TenantWorld

from tikguard.ops import accounts
from tikguard.store import devices as store_devices
from tikguard.store import operations as store_ops
from tikguard.store.audit import audit, list_audit
from tikguard.store.db import Database
from tikguard.store.errors import StateError
from tikguard.store.models import Rollout, RolloutTarget


def names(page: str) -> list[str]:
    return re.findall(r'<a href="/devices/\d+">([^<]+)</a>', page)


async def test_failed_login_keeps_the_username(
    client: httpx.AsyncClient, alpha: TenantWorld
) -> None:
    r = await client.post("/login", data={"username": "alpha-viewer", "password": "wrong"})
    assert r.status_code == 401
    assert 'value="alpha-viewer"' in r.text
    assert 'type="password" autocomplete="current-password" required autofocus' in r.text


async def test_fleet_filters_search_and_sort(
    client: httpx.AsyncClient, db: Database, alpha: TenantWorld
) -> None:
    with db.transaction() as s:
        for name, site in (("zeta-1", "north"), ("beta-2", "south"), ("gamma-3", "north")):
            store_devices.add_device(
                s, alpha.id, name=name, host="192.0.2.7", username="a", site=site
            )
    await login(client, alpha.users["viewer"])
    page = (await client.get("/")).text
    assert names(page) == ["alpha-r1", "beta-2", "gamma-3", "zeta-1"]
    # the summary counts are links that filter
    assert 'href="/?status=never"' in page and "<strong>3</strong> never backed up" in page
    never = (await client.get("/?status=never")).text
    assert names(never) == ["beta-2", "gamma-3", "zeta-1"] and "3 of 4 devices" in never
    assert 'aria-current="true"' in never
    assert names((await client.get("/?status=drift")).text) == ["alpha-r1"]
    # every word of the search must match name, address, site, tags or version
    assert names((await client.get("/?q=NORTH")).text) == ["gamma-3", "zeta-1"]
    assert names((await client.get("/?q=north+zeta")).text) == ["zeta-1"]
    assert "match this view" in (await client.get("/?q=nothing-like-it")).text
    # sort by column, both ways; the links keep the other choices
    assert names((await client.get("/?sort=name&dir=desc")).text)[0] == "zeta-1"
    by_versions = await client.get("/?sort=versions&dir=desc&q=a")
    assert names(by_versions.text)[0] == "alpha-r1"
    assert "q=a" in by_versions.text.split('aria-label="pages"')[0]
    # a viewer gets no "back up" button
    assert "Back up all" not in page


async def test_back_up_all_needs_the_operator_role(
    client: httpx.AsyncClient, alpha: TenantWorld
) -> None:
    token = await login(client, alpha.users["viewer"])
    r = await client.post("/backup", data={"csrf_token": token})
    assert r.status_code == 403 and "operator" in r.text
    await client.post("/logout", data={"csrf_token": token})
    token = await login(client, alpha.users["operator"])
    assert "Back up all 1" in (await client.get("/")).text
    r = await client.post("/backup", data={"csrf_token": token, "q": "no-such-router"})
    assert r.status_code == 422 and "no routers match" in r.text


async def test_viewer_sees_no_push_form(client: httpx.AsyncClient, alpha: TenantWorld) -> None:
    await login(client, alpha.users["viewer"])
    fleet = (await client.get("/")).text
    assert 'href="/push"' not in fleet and 'href="/users"' not in fleet
    push = await client.get("/push")
    assert push.status_code == 200
    assert "<textarea" not in push.text and "operator role" in push.text
    rollouts = (await client.get("/rollouts")).text
    assert "<textarea" not in rollouts and "operator role" in rollouts


async def test_users_and_tokens_page(
    client: httpx.AsyncClient, db: Database, alpha: TenantWorld
) -> None:
    await login(client, alpha.users["viewer"])
    assert (await client.get("/users")).status_code == 403
    await client.post("/logout", data={"csrf_token": await login(client, alpha.users["viewer"])})
    token = await login(client, alpha.users["admin"])
    page = await client.get("/users")
    assert page.status_code == 200 and "alpha-operator" in page.text and "beta" not in page.text

    # a new user with a generated password, shown once
    r = await client.post(
        "/users", data={"csrf_token": token, "username": "night-shift", "role": "operator"}
    )
    assert r.status_code == 200
    shown = re.search(r'<pre class="secret" id="new-password">([^<]+)</pre>', r.text)
    assert shown
    assert shown.group(1) not in (await client.get("/users")).text
    with db.session() as s:
        new = next(u for u in accounts.list_users(s, alpha.id) if u.username == "night-shift")
    assert accounts.authenticate(db, "night-shift", shown.group(1)).role == "operator"
    # a refusal keeps what was typed
    again = await client.post(
        "/users", data={"csrf_token": token, "username": "night-shift", "role": "admin"}
    )
    assert again.status_code == 422 and "not available" in again.text
    assert 'value="night-shift"' in again.text

    # disable: the login is refused (and the tokens the user made stop); enable again
    with db.transaction() as s:
        theirs = accounts.create_token(s, alpha.id, "cron", "viewer", actor="t", user_id=new.id)
    assert accounts.principal_for_token(db, theirs.token).role == "viewer"
    r = await client.post(f"/users/{new.id}/disable", data={"csrf_token": token})
    with pytest.raises(accounts.AuthError):
        accounts.principal_for_token(db, theirs.token)
    assert r.status_code == 303
    other = httpx.AsyncClient(transport=client._transport, base_url=str(client.base_url))
    refused = await other.post(
        "/login", data={"username": "night-shift", "password": shown.group(1)}
    )
    assert refused.status_code == 401
    await client.post(f"/users/{new.id}/enable", data={"csrf_token": token})
    assert accounts.principal_for_token(db, theirs.token).role == "viewer"
    assert accounts.authenticate(db, "night-shift", shown.group(1))

    # a token: shown once, works on the API, revoked from the page
    r = await client.post(
        "/tokens", data={"csrf_token": token, "name": "grafana", "role": "viewer", "lifetime": "30"}
    )
    value = re.search(r'<pre class="secret" id="new-token">([^<]+)</pre>', r.text)
    assert value and value.group(1).startswith("tgk_")
    api = {"Authorization": f"Bearer {value.group(1)}"}
    assert (await other.get("/api/v1/me", headers=api)).json()["role"] == "viewer"
    with db.session() as s:
        made = next(t for t in accounts.list_tokens(s, alpha.id) if t.name == "grafana")
    await client.post(f"/tokens/{made.id}/revoke", data={"csrf_token": token})
    assert (await other.get("/api/v1/me", headers=api)).status_code == 401
    assert "revoked" in (await client.get("/users")).text
    await other.aclose()


def test_the_last_admin_cannot_be_disabled(db: Database, alpha: TenantWorld) -> None:
    def disable(user: str) -> None:
        with db.transaction() as s:
            accounts.set_disabled(s, alpha.id, user, True, actor="test")

    with pytest.raises(StateError, match="last admin"):
        disable(alpha.users["admin"])
    with db.transaction() as s:
        accounts.create_user(s, alpha.id, "alpha-admin2", PASSWORD, "admin", actor="test")
    disable("alpha-admin2")
    with pytest.raises(StateError, match="last admin"):
        disable(alpha.users["admin"])


async def test_version_page_redacts_unless_an_admin_asks(
    client: httpx.AsyncClient, alpha: TenantWorld
) -> None:
    await login(client, alpha.users["viewer"])
    page = await client.get(f"/devices/{alpha.device_id}/versions/2")
    assert page.status_code == 200 and "198.51.100.1/24" in page.text
    assert "Download .rsc" in page.text and "Show secrets" not in page.text
    assert (
        await client.get(f"/devices/{alpha.device_id}/versions/2?secrets=true")
    ).status_code == 403
    latest = await client.get(f"/devices/{alpha.device_id}/versions/latest/download")
    assert latest.status_code == 200 and latest.headers["content-type"].startswith("text/plain")
    assert 'filename="alpha-r1-v2.rsc"' in latest.headers["content-disposition"]
    assert "198.51.100.1/24" in latest.text
    await client.post("/logout", data={"csrf_token": await login(client, alpha.users["viewer"])})
    await login(client, alpha.users["admin"])
    shown = await client.get(f"/devices/{alpha.device_id}/versions/1?secrets=true")
    assert shown.status_code == 200 and "198.51.100.1/24" not in shown.text


async def test_operations_filters_and_one_row_per_request(
    client: httpx.AsyncClient, db: Database, alpha: TenantWorld
) -> None:
    with db.transaction() as s:
        second = store_devices.add_device(
            s, alpha.id, name="alpha-r2", host="192.0.2.8", username="a"
        )
        made = []
        for device_id in (alpha.device_id, second.id):
            row, _ = store_ops.create_operation(
                s, alpha.id, kind="backup", device_id=device_id, requested_by="user:alpha-admin"
            )
            made.append(row.id)
        store_ops.finish_operation(s, alpha.id, made[1], outcome="failed", error="no route to host")
        audit(
            s,
            alpha.id,
            actor="user:alpha-admin",
            action="backup.start",
            details={"operations": made},
        )
    await login(client, alpha.users["viewer"])
    page = (await client.get("/operations")).text
    assert page.count('<tr class="request">') == 1 and "2 routers" in page
    assert "1 failed" in page and "alpha-r2: no route to host" in page
    pushes = (await client.get("/operations?kind=push")).text
    assert alpha.op_id[:12] in pushes and "2 routers" not in pushes
    failed = (await client.get("/operations?outcome=failed")).text
    assert made[1][:12] in failed and '<tr class="request">' not in failed  # one left: a plain row
    assert alpha.op_id[:12] not in failed
    unfinished = (await client.get("/operations?unfinished=true&device=alpha-r1")).text
    assert alpha.op_id[:12] in unfinished and made[0][:12] in unfinished
    assert made[1][:12] not in unfinished
    assert (await client.get("/operations?kind=reboot")).status_code == 422
    assert (await client.get("/operations?device=nosuch")).status_code == 404


async def test_rollout_page_draws_each_push_on_one_time_axis(
    client: httpx.AsyncClient, db: Database, alpha: TenantWorld
) -> None:
    with db.transaction() as s:
        policy = {"window": 120, "max_failures": 0, "canary": 1}
        s.add(
            Rollout(
                id="ro1",
                tenant_id=alpha.id,
                state="running",
                source_enc=b"",
                waves=[1],
                policy=policy,
            )
        )
        s.add(
            RolloutTarget(
                tenant_id=alpha.id,
                rollout_id="ro1",
                device_id=alpha.device_id,
                device_name=alpha.device_name,
                position=0,
                wave=0,
                status="submitted",
                op_id=alpha.op_id,
            )
        )
    await login(client, alpha.users["viewer"])
    page = (await client.get("/rollouts/ro1")).text
    lanes = page.split('id="lanes"')[1]
    assert f'href="/operations/{alpha.op_id}">{alpha.device_name}</a>' in lanes
    assert 'class="lane-bar running"' in lanes


async def test_the_data_key_rotates_from_the_users_page(
    client: httpx.AsyncClient, db: Database, alpha: TenantWorld
) -> None:
    token = await login(client, alpha.users["admin"])
    # the world's push has not ended: its script still needs the current key
    r = await client.post("/keys/rotate", data={"csrf_token": token})
    assert r.status_code == 409 and alpha.op_id[:12] in r.text, r.text
    with db.transaction() as s:
        store_ops.finish_operation(s, alpha.id, alpha.op_id, "reverted")
    r = await client.post("/keys/rotate", data={"csrf_token": token})
    assert r.status_code == 200 and "Data key rotated: v1 → v2" in r.text, r.text
    with db.session() as s:
        (row,) = list_audit(s, alpha.id, action="keys.rotate-data", limit=5)
    assert row.actor == f"user:{alpha.users['admin']}" and row.target == "alpha"
    with db.session() as s:  # the device password opens with the new key
        assert store_devices.get_password(s, alpha.id, alpha.device_id) == "router-secret"
