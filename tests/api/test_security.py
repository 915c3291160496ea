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
from tikguard.store.reach import set_reach


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


def _reach(db: Database, world: TenantWorld, networks: str, share: bool = False) -> None:
    with db.transaction() as s:
        set_reach(s, world.id, networks=networks, share_hosts=share)


def _device(host: str, port: int = 22, name: str = "") -> dict[str, object]:
    # device names take no ':' (an IPv6 host becomes r-2001.db8..7-22)
    default = f"r-{host.replace(':', '.')}-{port}"
    return {"name": name or default, "host": host, "port": port, "username": "admin"}


async def test_devices_only_in_the_tenants_management_networks(
    client: httpx.AsyncClient, db: Database, alpha: TenantWorld, beta: TenantWorld
) -> None:
    admin = alpha.auth("admin")
    _reach(db, alpha, "")  # two tenants, no networks set: nowhere
    r = await client.post("/api/v1/devices", json=_device("192.0.2.7"), headers=admin)
    assert r.status_code == 422 and "no management networks" in r.text, r.text
    _reach(db, alpha, "192.0.2.0/24, 2001:db8::/32")
    for host in ("192.0.2.7", "2001:db8::7"):
        r = await client.post("/api/v1/devices", json=_device(host), headers=admin)
        assert r.status_code == 201, r.text
    for host in ("198.51.100.1", "127.0.0.1", "localhost", "::1"):
        r = await client.post("/api/v1/devices", json=_device(host), headers=admin)
        assert r.status_code == 422 and "outside tenant alpha" in r.text, (host, r.text)
    # moving a device out of the networks is refused the same way
    device_id = (await client.get("/api/v1/devices", headers=admin)).json()[0]["id"]
    r = await client.patch(f"/api/v1/devices/{device_id}", json={"host": "10.0.0.1"}, headers=admin)
    assert r.status_code == 422, r.text


async def test_the_whole_world_only_in_a_single_tenant_install(
    client: httpx.AsyncClient, db: Database, alpha: TenantWorld
) -> None:
    _reach(db, alpha, "")
    r = await client.post("/api/v1/devices", json=_device("203.0.113.9"), headers=alpha.auth())
    assert r.status_code == 201, r.text


async def test_a_host_another_tenant_manages_needs_the_operators_word(
    client: httpx.AsyncClient, db: Database, alpha: TenantWorld, beta: TenantWorld
) -> None:
    _reach(db, alpha, "127.0.0.0/8", share=False)
    theirs = _device("127.0.0.1", 9, "mine-now")  # beta's router
    r = await client.post("/api/v1/devices", json=theirs, headers=alpha.auth())
    assert r.status_code == 409 and "another tenant" in r.text, r.text
    r = await client.post("/api/v1/devices", json=_device("127.0.0.1", 10), headers=alpha.auth())
    assert r.status_code == 201, r.text
    _reach(db, alpha, "127.0.0.0/8", share=True)
    r = await client.post("/api/v1/devices", json=theirs, headers=alpha.auth())
    assert r.status_code == 201, r.text


async def test_device_adds_and_probes_are_rate_limited(
    app: FastAPI, client: httpx.AsyncClient, alpha: TenantWorld, beta: TenantWorld
) -> None:
    app.state.tikguard.limits.clock = Clock()  # no refill while the test runs
    codes = []
    for n in range(22):
        r = await client.post(
            "/api/v1/devices", json=_device("192.0.2.1", 2000 + n), headers=alpha.auth()
        )
        codes.append(r.status_code)
    assert codes[:20] == [201] * 20 and codes[20:] == [429, 429]
    assert int(r.headers["retry-after"]) >= 1
    # another tenant's budget is its own
    r = await client.post("/api/v1/devices", json=_device("192.0.2.1", 2999), headers=beta.auth())
    assert r.status_code == 201, r.text


#: (method, path, body) with ``{n}`` where an id goes.
ID_CASES: list[tuple[str, str, dict[str, object] | None]] = [
    ("GET", "/api/v1/devices/{n}", None),
    ("PATCH", "/api/v1/devices/{n}", {"site": "x"}),
    ("POST", "/api/v1/devices/{n}/probe", None),
    ("GET", "/api/v1/devices/{n}/versions", None),
    ("GET", "/api/v1/operations?device={n}", None),
    ("PUT", "/api/v1/users/{n}/password", {"password": "long-enough-pw"}),
    ("DELETE", "/api/v1/tokens/{n}", None),
    ("POST", "/api/v1/push", {"devices": ["{n}"], "script": "/ip dns set servers=1.1.1.1"}),
    ("POST", "/api/v1/restore", {"device": "{n}", "version": 1}),
    ("POST", "/api/v1/preview", {"device": 1, "version": "{n}", "mode": "restore"}),
]


def _fill(value: object, n: int) -> object:
    if value == "{n}":
        return n
    if isinstance(value, list):
        return [_fill(v, n) for v in value]
    return value


async def test_ids_out_of_range_are_invalid_not_errors(
    client: httpx.AsyncClient, alpha: TenantWorld
) -> None:
    for n in (2**63, 2**64 + 1, 0):
        for method, path, body in ID_CASES:
            sent = None if body is None else {k: _fill(v, n) for k, v in body.items()}
            r = await client.request(method, path.format(n=n), json=sent, headers=alpha.auth())
            assert r.status_code == 422, (method, path, n, r.text)
    # and the connection is still good for the next request
    assert (await client.get("/api/v1/health")).status_code == 200
