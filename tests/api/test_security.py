"""Security walls of the API that need no router: input bounds, throttling, tenants.

Each test here was written against a finding of an adversarial review and failed
before the fix (see docs/security.md for the threat model and the list of walls).
"""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from tests.api.world import PASSWORD, TenantWorld

from tikguard.api.app import create_app
from tikguard.settings import Settings
from tikguard.store.db import Database


@pytest.mark.parametrize(
    ("pattern", "said"),
    [
        ("(", "missing )"),
        ("[a-", "is not a valid regular expression"),
        ("x" * 513, "limited to 512 characters"),
    ],
)
async def test_a_bad_health_check_pattern_is_refused_at_submit(
    client: httpx.AsyncClient, alpha: TenantWorld, pattern: str, said: str
) -> None:
    body = {
        "devices": [alpha.device_id],
        "script": "/ip address\nadd address=10.0.0.1/24 interface=ether1\n",
        "checks": [["/system resource print", pattern]],
    }
    r = await client.post("/api/v1/push", json=body, headers=alpha.auth("operator"))
    assert r.status_code == 422, r.text
    assert said in r.text


class Clock:
    """The throttle's clock, moved by the test (no sleeping)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(app: FastAPI) -> Clock:
    tick = Clock()
    app.state.tikguard.throttle.clock = tick
    return tick


async def _login(
    client: httpx.AsyncClient, username: str, password: str, **headers: str
) -> httpx.Response:
    return await client.post(
        "/login", data={"username": username, "password": password}, headers=headers
    )


async def test_a_correct_password_gets_in_after_a_bounded_wait(
    client: httpx.AsyncClient, alpha: TenantWorld, clock: Clock
) -> None:
    user = alpha.users["viewer"]
    refused = 0
    for _ in range(200):  # a guesser hammering the account from the user's own NAT
        r = await _login(client, user, "guess-guess")
        assert r.status_code in (401, 429)
        refused += r.status_code == 429
        clock.now += 1.0
    assert refused > 150  # most guesses were never looked at
    r = await _login(client, user, PASSWORD)
    assert r.status_code == 429
    wait = int(r.headers["retry-after"])
    assert 0 < wait <= 301  # never a lockout: at most the longest backoff
    clock.now += wait
    r = await _login(client, user, PASSWORD)
    assert r.status_code == 303, r.text
    # another user behind the same address was never held up by the guesser
    r = await _login(client, alpha.users["operator"], PASSWORD)
    assert r.status_code == 303


async def test_x_forwarded_for_does_not_choose_the_throttle_key(
    client: httpx.AsyncClient, alpha: TenantWorld, clock: Clock
) -> None:
    user = alpha.users["viewer"]
    for n in range(8):
        await _login(client, user, "guess-guess", **{"X-Forwarded-For": f"198.51.100.{n}"})
    r = await _login(client, user, "guess-guess", **{"X-Forwarded-For": "203.0.113.77"})
    assert r.status_code == 429


async def test_x_forwarded_for_is_believed_from_a_trusted_proxy(
    settings: Settings, db: Database, alpha: TenantWorld
) -> None:
    app = create_app(settings.with_(trusted_proxies="127.0.0.1/32"), db=db, engine=False)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://tikguard.test") as c:
        user = alpha.users["viewer"]
        for _ in range(8):
            await _login(c, user, "guess-guess", **{"X-Forwarded-For": "198.51.100.1"})
        r = await _login(c, user, "guess-guess", **{"X-Forwarded-For": "198.51.100.1"})
        assert r.status_code == 429
        # a client behind the proxy cannot pick its address by prepending to the header
        r = await _login(c, user, PASSWORD, **{"X-Forwarded-For": "10.9.9.9, 198.51.100.1"})
        assert r.status_code == 429
        r = await _login(c, user, PASSWORD, **{"X-Forwarded-For": "198.51.100.2"})
        assert r.status_code == 303, r.text


async def test_a_username_taken_in_another_tenant_is_not_disclosed(
    client: httpx.AsyncClient, alpha: TenantWorld, beta: TenantWorld
) -> None:
    body = {"username": alpha.users["viewer"], "password": "a-long-password-1", "role": "viewer"}
    theirs = await client.post("/api/v1/users", json=body, headers=beta.auth("admin"))
    body["username"] = beta.users["viewer"]
    ours = await client.post("/api/v1/users", json=body, headers=beta.auth("admin"))
    assert theirs.status_code == ours.status_code == 409
    assert "exists" not in theirs.text
    assert theirs.json()["message"].replace(alpha.name, "X") == ours.json()["message"].replace(
        beta.name, "X"
    )


@pytest.mark.parametrize(
    ("password", "said"),
    [("short", "at least"), ("new-admin-1", "not be the username"), ("a" * 12, "repeated")],
)
async def test_password_policy(
    client: httpx.AsyncClient, alpha: TenantWorld, password: str, said: str
) -> None:
    body = {"username": "new-admin-1", "password": password, "role": "admin"}
    r = await client.post("/api/v1/users", json=body, headers=alpha.auth("admin"))
    assert r.status_code == 422 and said in r.text, r.text


async def test_hardening_headers_on_pages_api_and_docs(client: httpx.AsyncClient) -> None:
    for path in ("/login", "/api/v1/health", "/api/v1/nope", "/static/style.css"):
        r = await client.get(path)
        assert r.headers["x-frame-options"] == "DENY", path
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["referrer-policy"] == "no-referrer"
        csp = r.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
    r = await client.get("/api/v1/docs")
    assert r.status_code == 200 and "frame-ancestors 'none'" in r.headers["content-security-policy"]


async def test_cookies_are_secure_behind_a_tls_proxy(
    settings: Settings, db: Database, alpha: TenantWorld
) -> None:
    for behind, secure in ((False, False), (True, True)):
        app = create_app(settings.with_(behind_tls_proxy=behind), db=db, engine=False)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://tikguard.test") as c:
            r = await _login(c, alpha.users["viewer"], PASSWORD)
            assert r.status_code == 303
            assert ("secure" in r.headers["set-cookie"].lower()) is secure
