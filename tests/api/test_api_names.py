"""Devices by name as well as by id (paths, bodies, filters), a version as plain text
(``.rsc`` and ``Accept: text/plain``, redacted unless an admin asks), and error bodies
that always carry a hint."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.api import two_tenants
from tests.api.world import TenantWorld

from tikguard.ops import devices as devices_ops
from tikguard.routeros.secrets import split_text_secrets
from tikguard.store import devices as store_devices
from tikguard.store import versions as store_versions
from tikguard.store.db import Database
from tikguard.store.errors import InvalidInput, NotFound

SECRET = "ppp-Secret-42"
WITH_SECRET = f"""/ip address
add address=192.0.2.1/24 interface=ether1
/ppp secret
add name=alice password={SECRET} service=pppoe
"""


# The two-tenant world of tests/api/two_tenants.py, one for the whole module.
settings, db, alpha, beta, app = (
    two_tenants.settings,
    two_tenants.db,
    two_tenants.alpha,
    two_tenants.beta,
    two_tenants.app,
)


def extend_alpha(db: Database, world: TenantWorld) -> None:
    """A router whose name is a number, and a version with a secret."""
    redacted, secrets = split_text_secrets(WITH_SECRET)
    with db.transaction() as s:
        store_devices.add_device(
            s, world.id, name="1001", host="192.0.2.77", port=22, username="admin"
        )
        store_versions.record_backup(
            s,
            world.id,
            world.device_id,
            normalised_redacted_text=redacted,
            secrets=secrets,
            ros_version="7.16",
            trigger="manual",
        )


# -- the rule ------------------------------------------------------------------------------


@given(st.text(min_size=1, max_size=40))
def test_a_reference_is_an_id_only_when_it_is_digits(text: str) -> None:
    if text.startswith(devices_ops.NAME_PREFIX):
        assert devices_ops.parse_ref(text) == text[len(devices_ops.NAME_PREFIX) :]
    elif text.isascii() and text.isdigit():
        value = int(text)
        if 1 <= value <= devices_ops.MAX_ID:
            assert devices_ops.parse_ref(text) == value
        else:
            with pytest.raises(InvalidInput):
                devices_ops.parse_ref(text)
    else:
        assert devices_ops.parse_ref(text) == text
    # ``name:`` always names, whatever follows
    assert devices_ops.parse_ref(devices_ops.NAME_PREFIX + text) == text


def test_resolve_all_keeps_order_and_checks_every_one(db: Database, alpha: TenantWorld) -> None:
    number = devices_ops.id_of(db, alpha.id, "1001")
    refs: list[int | str] = ["name:1001", alpha.device_id, alpha.device_name, str(number)]
    assert devices_ops.resolve_all(db, alpha.id, refs) == [
        number,
        alpha.device_id,
        alpha.device_id,
        number,
    ]
    with pytest.raises(NotFound):
        devices_ops.resolve_all(db, alpha.id, [alpha.device_id, "beta-r1"])


# -- paths ---------------------------------------------------------------------------------


async def test_every_device_path_takes_the_name(
    client: httpx.AsyncClient, alpha: TenantWorld
) -> None:
    by_id, by_name = str(alpha.device_id), alpha.device_name
    for tail in ("", "/versions", "/versions/1", "/versions/latest", "/diff?old=1&new=2"):
        a = await client.get(f"/api/v1/devices/{by_id}{tail}", headers=alpha.auth("viewer"))
        b = await client.get(f"/api/v1/devices/{by_name}{tail}", headers=alpha.auth("viewer"))
        assert a.status_code == 200, (tail, a.text)
        assert a.json() == b.json(), tail


async def test_digits_are_an_id_and_the_prefix_forces_a_name(
    client: httpx.AsyncClient, db: Database, alpha: TenantWorld
) -> None:
    number = devices_ops.id_of(db, alpha.id, "1001")
    r = await client.get("/api/v1/devices/name:1001", headers=alpha.auth("viewer"))
    assert r.status_code == 200 and r.json()["id"] == number
    r = await client.get(f"/api/v1/devices/{number}", headers=alpha.auth("viewer"))
    assert r.json()["name"] == "1001"
    r = await client.get("/api/v1/devices/1001", headers=alpha.auth("viewer"))
    assert r.status_code == 404  # id 1001 does not exist: digits never mean a name
    r = await client.get(f"/api/v1/devices/{2**63}", headers=alpha.auth("viewer"))
    assert r.status_code == 422 and "name:" in r.json()["hint"]


async def test_patch_by_name_and_names_of_another_tenant(
    client: httpx.AsyncClient, alpha: TenantWorld, beta: TenantWorld
) -> None:
    r = await client.patch(
        "/api/v1/devices/name:1001", json={"site": "by-name"}, headers=alpha.auth("admin")
    )
    assert r.status_code == 200 and r.json()["site"] == "by-name"
    r = await client.patch(
        "/api/v1/devices/name:ghost", json={"site": "x"}, headers=alpha.auth("admin")
    )
    assert r.status_code == 404 and "ghost" in r.json()["message"]
    r = await client.get(f"/api/v1/devices/{beta.device_name}", headers=alpha.auth("admin"))
    assert r.status_code == 404 and "beta-site" not in r.text


# -- bodies and filters ----------------------------------------------------------------------


async def test_bodies_take_names(
    client: httpx.AsyncClient, alpha: TenantWorld, beta: TenantWorld
) -> None:
    """Names resolve before the engine is needed: a name of the tenant reaches the 503
    (no engine in this app), a name of another tenant or of nothing is a 404."""
    cases: list[tuple[str, Any]] = [
        ("/api/v1/backups", lambda d: {"devices": [d]}),
        ("/api/v1/push", lambda d: {"devices": [alpha.device_id, d], "script": "/ip dns\n"}),
        ("/api/v1/restore", lambda d: {"device": d, "version": 1}),
        ("/api/v1/replace", lambda d: {"device": d, "script": "/ip dns\n"}),
    ]
    for path, body in cases:
        r = await client.post(path, json=body(alpha.device_name), headers=alpha.auth("operator"))
        assert r.status_code == 503, (path, r.text)
        for other in (beta.device_name, "ghost", "name:1001x"):
            r = await client.post(path, json=body(other), headers=alpha.auth("operator"))
            assert r.status_code == 404, (path, other, r.text)
            assert r.json()["hint"]
    r = await client.post("/api/v1/push", json={"devices": [True], "script": "x"})
    assert r.status_code in (401, 422)
    r = await client.post(
        "/api/v1/push", json={"devices": [1.5], "script": "x"}, headers=alpha.auth("operator")
    )
    assert r.status_code == 422 and r.json()["details"]


async def test_operations_filter_by_name(client: httpx.AsyncClient, alpha: TenantWorld) -> None:
    a = await client.get(
        f"/api/v1/operations?device={alpha.device_id}", headers=alpha.auth("viewer")
    )
    b = await client.get(
        f"/api/v1/operations?device={alpha.device_name}", headers=alpha.auth("viewer")
    )
    assert a.status_code == 200 and a.json() == b.json() and len(a.json()) == 1
    r = await client.get("/api/v1/operations?device=ghost", headers=alpha.auth("viewer"))
    assert r.status_code == 404


# -- plain text ----------------------------------------------------------------------------


async def test_latest_rsc_is_the_redacted_export(
    client: httpx.AsyncClient, db: Database, alpha: TenantWorld
) -> None:
    stored = store_versions_text(db, alpha)
    for path in (
        f"/api/v1/devices/{alpha.device_name}/versions/latest.rsc",
        f"/api/v1/devices/{alpha.device_id}/versions/-1.rsc",
        f"/api/v1/devices/{alpha.device_name}/versions/3.rsc",
    ):
        r = await client.get(path, headers=alpha.auth("viewer"))
        assert r.status_code == 200, (path, r.text)
        assert r.headers["content-type"].startswith("text/plain")
        assert r.text == stored
        assert SECRET not in r.text and "tikguard-secret:" in r.text
        assert r.headers["x-tikguard-version"] == "3"
        assert r.headers["x-tikguard-redacted"] == "true"
    r = await client.get(
        f"/api/v1/devices/{alpha.device_name}/versions/1",
        headers={**alpha.auth("viewer"), "Accept": "text/plain"},
    )
    assert r.headers["content-type"].startswith("text/plain")
    assert r.text.startswith("/system identity") and r.headers["x-tikguard-version"] == "1"
    r = await client.get(
        f"/api/v1/devices/{alpha.device_name}/versions/1",
        headers={**alpha.auth("viewer"), "Accept": "application/json, text/plain"},
    )
    assert r.json()["version"]["seq"] == 1


def store_versions_text(db: Database, world: TenantWorld) -> str:
    with db.session() as s:
        newest = store_versions.latest_version(s, world.id, world.device_id)
        assert newest is not None
        return store_versions.version_text(store_versions.get_version(s, world.id, newest.id))


async def test_secrets_only_for_admins_who_ask(
    client: httpx.AsyncClient, alpha: TenantWorld
) -> None:
    path = f"/api/v1/devices/{alpha.device_name}/versions/latest.rsc"
    r = await client.get(path + "?with_secrets=true", headers=alpha.auth("admin"))
    assert r.status_code == 200 and SECRET in r.text
    assert r.headers["x-tikguard-redacted"] == "false" and "etag" not in r.headers
    r = await client.get(path, headers=alpha.auth("admin"))
    assert SECRET not in r.text
    for role in ("viewer", "operator"):
        r = await client.get(path + "?with_secrets=true", headers=alpha.auth(role))
        assert r.status_code == 403 and SECRET not in r.text
        assert r.json()["hint"]


async def test_text_of_missing_versions_and_devices(
    client: httpx.AsyncClient, alpha: TenantWorld, beta: TenantWorld
) -> None:
    for path in (
        f"/api/v1/devices/{alpha.device_name}/versions/99.rsc",
        f"/api/v1/devices/{beta.device_name}/versions/latest.rsc",
        f"/api/v1/devices/{beta.device_id}/versions/latest.rsc",
    ):
        r = await client.get(path, headers=alpha.auth("admin"))
        assert r.status_code == 404, path
        assert r.json()["error"] == "not_found" and r.json()["hint"]
        assert "beta-site" not in r.text and "192.0.2.1" not in r.text
    r = await client.get(
        f"/api/v1/devices/{alpha.device_name}/versions/nope.rsc", headers=alpha.auth()
    )
    assert r.status_code == 422 and r.json()["hint"]


# -- error bodies --------------------------------------------------------------------------


async def test_every_4xx_has_error_message_and_hint(
    client: httpx.AsyncClient, alpha: TenantWorld
) -> None:
    viewer, admin = alpha.auth("viewer"), alpha.auth("admin")
    cases: list[tuple[str, str, dict[str, str], Any, int]] = [
        ("GET", "/api/v1/devices", {}, None, 401),
        ("GET", "/api/v1/devices", {"Authorization": "Bearer tgk_nope"}, None, 401),
        ("DELETE", f"/api/v1/devices/{alpha.device_name}", viewer, None, 403),
        ("GET", "/api/v1/devices/ghost", viewer, None, 404),
        ("GET", "/api/v1/nowhere", viewer, None, 404),
        ("PUT", "/api/v1/devices", admin, {}, 405),
        ("POST", "/api/v1/devices", admin, {"name": alpha.device_name, "host": "192.0.2.60"}, 409),
        ("POST", "/api/v1/devices", admin, {"name": "x"}, 422),
        ("GET", f"/api/v1/devices/{alpha.device_name}/versions/99", viewer, None, 404),
        ("GET", "/api/v1/devices?limit=0", viewer, None, 422),
    ]
    for method, path, headers, body, status in cases:
        r = await client.request(method, path, headers=headers, json=body)
        assert r.status_code == status, (method, path, r.status_code, r.text)
        data = r.json()
        assert isinstance(data["error"], str) and data["error"], (path, data)
        assert isinstance(data["message"], str) and data["message"], (path, data)
        assert isinstance(data["hint"], str) and data["hint"], (path, data)
        if status == 422 and body is not None:
            assert data["details"][0]["field"] == "host"  # kept for clients that parse it
