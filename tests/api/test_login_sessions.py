"""Login sessions are rows: logout, a new password and removing the user end them at
once, so a copied session cookie stops working before it expires.
"""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from tests.api.test_ui_pages import login
from tests.api.world import PASSWORD, TenantWorld

from tikguard.ops import accounts
from tikguard.server.sessions import COOKIE
from tikguard.store.db import Database
from tikguard.store.models import ApiToken, LoginSession


def client_for(app: FastAPI) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://tikguard.test")


async def copied(app: FastAPI, cookie: str) -> httpx.AsyncClient:
    """Another browser holding a copy of the cookie."""
    other = client_for(app)
    other.cookies.set(COOKIE, cookie)
    return other


def sessions_of(db: Database, user_id: int | None = None) -> int:
    with db.session() as s:
        q = select(func.count(LoginSession.id))
        if user_id is not None:
            q = q.where(LoginSession.user_id == user_id)
        return int(s.scalar(q) or 0)


async def test_logout_revokes_a_copied_cookie(
    app: FastAPI, client: httpx.AsyncClient, db: Database, alpha: TenantWorld
) -> None:
    token = await login(client, alpha.users["operator"])
    cookie = client.cookies[COOKIE]
    async with await copied(app, cookie) as thief:
        assert (await thief.get("/")).status_code == 200
        assert (await thief.get("/api/v1/me")).json()["role"] == "operator"
        assert (await client.post("/logout", data={"csrf_token": token})).status_code == 303
        assert sessions_of(db) == 0
        r = await thief.get("/")
        assert r.status_code == 303 and r.headers["location"].startswith("/login")
        r = await thief.get("/api/v1/me")
        assert r.status_code == 401 and r.json()["error"] == "unauthorized"
        # a change with the old CSRF token is refused too
        r = await thief.post(
            "/api/v1/backups", json={"devices": []}, headers={"x-csrf-token": token}
        )
        assert r.status_code == 401


async def test_each_login_is_its_own_session(
    app: FastAPI, client: httpx.AsyncClient, db: Database, alpha: TenantWorld
) -> None:
    first = await login(client, alpha.users["viewer"])
    first_cookie = client.cookies[COOKIE]
    async with client_for(app) as laptop:
        await login(laptop, alpha.users["viewer"])
        assert sessions_of(db) == 2
        await client.post("/logout", data={"csrf_token": first})
        assert (await laptop.get("/")).status_code == 200  # the other login lives on
    async with await copied(app, first_cookie) as thief:
        assert (await thief.get("/")).status_code == 303


async def test_new_password_ends_every_session_of_the_user(
    app: FastAPI, client: httpx.AsyncClient, db: Database, alpha: TenantWorld
) -> None:
    await login(client, alpha.users["viewer"])
    async with client_for(app) as other:
        await login(other, alpha.users["operator"])
        r = await client.put(
            f"/api/v1/users/{alpha.user_id}/password",
            json={"password": "a-brand-new-password"},
            headers=alpha.auth("admin"),
        )
        assert r.status_code == 204, r.text
        assert (await client.get("/")).status_code == 303  # the viewer is logged out
        assert (await other.get("/")).status_code == 200  # another user is not
    assert sessions_of(db, alpha.user_id) == 0
    r = await client.post("/login", data={"username": alpha.users["viewer"], "password": PASSWORD})
    assert r.status_code == 401
    r = await client.post(
        "/login", data={"username": alpha.users["viewer"], "password": "a-brand-new-password"}
    )
    assert r.status_code == 303
    r = await client.get("/api/v1/audit?action=user.password", headers=alpha.auth("viewer"))
    assert r.json()[0]["target"] == alpha.users["viewer"]
    assert "a-brand-new-password" not in r.text


async def test_removing_a_user_ends_their_sessions_and_tokens(
    app: FastAPI, client: httpx.AsyncClient, db: Database, alpha: TenantWorld
) -> None:
    await login(client, alpha.users["viewer"])
    with db.transaction() as s:
        own = accounts.create_token(
            s, alpha.id, "viewer-own", "viewer", actor="test", user_id=alpha.user_id
        )
    r = await client.delete(f"/api/v1/users/{alpha.user_id}", headers=alpha.auth("admin"))
    assert r.status_code == 204, r.text
    assert (await client.get("/")).status_code == 303
    assert sessions_of(db, alpha.user_id) == 0
    r = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {own.token}"})
    assert r.status_code == 401
    with db.session() as s:
        assert s.scalar(select(ApiToken).where(ApiToken.user_id == alpha.user_id)) is None
    r = await client.get("/api/v1/users", headers=alpha.auth("admin"))
    assert alpha.users["viewer"] not in r.text
    r = await client.delete(f"/api/v1/users/{alpha.user_id}", headers=alpha.auth("admin"))
    assert r.status_code == 404


async def test_the_last_admin_stays_and_roles_are_checked(
    client: httpx.AsyncClient, db: Database, alpha: TenantWorld
) -> None:
    users = (await client.get("/api/v1/users", headers=alpha.auth("admin"))).json()
    admin_id = next(u["id"] for u in users if u["role"] == "admin")
    r = await client.delete(f"/api/v1/users/{admin_id}", headers=alpha.auth("admin"))
    assert r.status_code == 409 and "last admin" in r.json()["message"]
    for role in ("viewer", "operator"):
        r = await client.delete(f"/api/v1/users/{alpha.user_id}", headers=alpha.auth(role))
        assert r.status_code == 403
        r = await client.put(
            f"/api/v1/users/{alpha.user_id}/password",
            json={"password": "0123456789abc"},
            headers=alpha.auth(role),
        )
        assert r.status_code == 403
    r = await client.put(
        f"/api/v1/users/{alpha.user_id}/password",
        json={"password": "short"},
        headers=alpha.auth("admin"),
    )
    assert r.status_code == 422


async def test_a_cookie_without_a_session_row_is_refused(app: FastAPI, alpha: TenantWorld) -> None:
    """A validly signed cookie whose session was never opened (or is gone) is refused."""
    state = app.state.tikguard
    forged = state.signer.issue(alpha.user_id, "never-opened")
    async with await copied(app, forged) as c:
        assert (await c.get("/")).status_code == 303
        assert (await c.get("/api/v1/me")).status_code == 401


@pytest.mark.parametrize("hours", [0.0])
async def test_an_expired_session_row_is_refused(
    app: FastAPI, db: Database, alpha: TenantWorld, hours: float
) -> None:
    session_id = accounts.open_session(db, alpha.user_id, hours * 3600)
    cookie = app.state.tikguard.signer.issue(alpha.user_id, session_id)
    async with await copied(app, cookie) as c:
        assert (await c.get("/api/v1/me")).status_code == 401
