"""The Oxidized-compatible endpoints answer in the shapes their consumers parse.

The expected shapes are written from the public sources named in
``tikguard/api/routes/oxidized.py``: ytti/oxidized ``Node#serialize`` (node keys),
``Output::Git.update_cache`` (version keys, newest first), oxidized-web's ``out``
(``.json`` answers a string as its lines) and LibreNMS's ``showconfig.inc.php`` (the
calls it makes, in order, and the fields it reads). Tokens of one tenant never see
another tenant's routers; configurations are redacted.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi.routing import APIRoute
from tests.api import two_tenants
from tests.api.world import CONFIG_V1, CONFIG_V2, TenantWorld, build_tenant
from tests.browser.liveserver import LiveServer

from tikguard.api.routes import oxidized
from tikguard.routeros.secrets import split_text_secrets
from tikguard.store import devices as store_devices
from tikguard.store import versions as store_versions
from tikguard.store.db import Database

#: ``Node#serialize`` (lib/oxidized/node.rb), and what ``/nodes`` adds (webapp.rb).
NODE_KEYS = {"name", "full_name", "ip", "group", "model", "last", "vars", "mtime"}
LISTED_KEYS = NODE_KEYS | {"status", "time"}
LAST_KEYS = {"start", "end", "status", "time"}
#: ``Output::Git.update_cache`` (lib/oxidized/output/git.rb).
VERSION_KEYS = {"oid", "date", "time", "author", "message"}
AUTHOR_KEYS = {"name", "email", "time"}
#: Ruby's ``Time#to_s`` of a UTC time (job times) and of a commit time (version dates).
RUBY_UTC = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$")
RUBY_GIT = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+0000$")
SECRET = "ppp-Secret-42"


# The two-tenant world of tests/api/two_tenants.py, one for the whole module.
settings, db, alpha, beta, app = (
    two_tenants.settings,
    two_tenants.db,
    two_tenants.alpha,
    two_tenants.beta,
    two_tenants.app,
)


def extend_alpha(db: Database, world: TenantWorld) -> None:
    """alpha-r1 (site alpha-site, two versions, backed up) and a third version with a
    secret; ``core2`` with no site and no versions."""
    redacted, secrets = split_text_secrets(
        CONFIG_V2.format(name="alpha") + f"/ppp secret\nadd name=u password={SECRET}\n"
    )
    with db.transaction() as s:
        store_versions.record_backup(
            s,
            world.id,
            world.device_id,
            normalised_redacted_text=redacted,
            secrets=secrets,
            ros_version="7.16",
            trigger="scheduled",
        )
        store_devices.record_backup_result(s, world.id, world.device_id, status="changed")
        store_devices.add_device(
            s, world.id, name="core2", host="192.0.2.99", port=22, username="admin"
        )


def basic(world: TenantWorld, role: str = "viewer") -> dict[str, str]:
    """Credentials as a URL's ``user:token@`` sends them (LibreNMS's oxidized.url)."""
    raw = f"librenms:{world.tokens[role]}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def lines(text: str) -> list[str]:
    """Ruby's ``String#lines``: each line with its newline."""
    return text.splitlines(keepends=True)


async def test_nodes_lists_the_tenants_routers(
    client: httpx.AsyncClient, alpha: TenantWorld
) -> None:
    for path in ("/oxidized/nodes.json", "/oxidized/nodes?format=json", "/oxidized/nodes"):
        r = await client.get(path, headers=basic(alpha))
        assert r.status_code == 200, r.text
        nodes = {n["name"]: n for n in r.json()}
        assert set(nodes) == {"alpha-r1", "core2"}
        for node in nodes.values():
            assert set(node) == LISTED_KEYS
    r1, core2 = nodes["alpha-r1"], nodes["core2"]
    assert r1["full_name"] == "alpha-site/alpha-r1" and r1["group"] == "alpha-site"
    assert r1["ip"] == "127.0.0.1" and r1["model"] == "RouterOS" and r1["vars"] == {}
    assert set(r1["last"]) == LAST_KEYS and r1["last"]["status"] == "success"
    assert r1["status"] == "success" and RUBY_UTC.match(r1["time"])
    assert RUBY_UTC.match(r1["mtime"])
    assert core2["full_name"] == "core2" and core2["group"] == "default"
    assert core2["last"] is None and core2["status"] == "never" and core2["time"] == "never"
    assert core2["mtime"] == "unknown"
    r = await client.get("/oxidized/nodes/group/default.json", headers=basic(alpha))
    assert [n["name"] for n in r.json()] == ["core2"]
    r = await client.get("/oxidized/nodes/group/alpha-site", headers=basic(alpha))
    assert [n["name"] for n in r.json()] == ["alpha-r1"]
    r = await client.get("/oxidized/nodes/model/RouterOS.json", headers=basic(alpha))
    assert len(r.json()) == 2


async def test_librenms_config_tab(
    client: httpx.AsyncClient, db: Database, alpha: TenantWorld
) -> None:
    """The calls of LibreNMS's showconfig.inc.php, in its order, reading what it reads."""
    auth = basic(alpha)
    hostname = "alpha-r1"
    r = await client.get(f"/oxidized/node/show/{hostname}?format=json", headers=auth)
    node_info = r.json()
    assert set(node_info) == NODE_KEYS
    assert node_info["group"] == "alpha-site" and node_info["last"]["status"] == "success"
    assert RUBY_UTC.match(node_info["last"]["end"])

    r = await client.get(
        f"/oxidized/node/version?node_full={node_info['full_name']}&format=json", headers=auth
    )
    config_versions = r.json()
    assert [v["oid"] for v in config_versions] == ["3", "2", "1"]  # newest first
    for version in config_versions:
        assert set(version) == VERSION_KEYS and set(version["author"]) == AUTHOR_KEYS
        assert RUBY_GIT.match(version["date"]) and version["date"] == version["time"]
        assert version["author"]["name"] and version["message"]
    assert config_versions[0]["message"].startswith("scheduled: alpha-r1 (127.0.0.1)")

    current = config_versions[0]
    r = await client.get(
        f"/oxidized/node/version/view?node={hostname}&group={node_info['group']}"
        f"&oid={current['oid']}&date={current['date']}&num=3&format=text",
        headers=auth,
    )
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    assert r.text == newest_text(db, alpha) and SECRET not in r.text
    assert "tikguard-secret:" in r.text

    previous = config_versions[1]
    r = await client.get(
        f"/oxidized/node/version/diffs?node={hostname}&group={node_info['group']}"
        f"&oid={current['oid']}&date={current['date']}&num=3&oid2={previous['oid']}"
        "&format=text",
        headers=auth,
    )
    assert r.status_code == 200 and "+/ppp secret" in r.text and SECRET not in r.text
    r = await client.get(
        f"/oxidized/node/version/diffs?node={hostname}&oid=2&format=text", headers=auth
    )
    assert "+add address=198.51.100.1/24 interface=ether2" in r.text
    r = await client.get(f"/oxidized/node/version/diffs?node={hostname}&oid=1", headers=auth)
    assert r.text == "No diff available"

    # a single version: LibreNMS fetches the node itself (with its group)
    r = await client.get(f"/oxidized/node/fetch/{node_info['group']}/{hostname}", headers=auth)
    assert r.text == newest_text(db, alpha)


def newest_text(db: Database, world: TenantWorld) -> str:
    with db.session() as s:
        newest = store_versions.latest_version(s, world.id, world.device_id)
        assert newest is not None
        return store_versions.version_text(store_versions.get_version(s, world.id, newest.id))


async def test_fetch_forms(client: httpx.AsyncClient, db: Database, alpha: TenantWorld) -> None:
    text = newest_text(db, alpha)
    for path in (
        "/oxidized/node/fetch/alpha-r1",
        "/oxidized/node/fetch/alpha-site/alpha-r1",
        "/oxidized/node/fetch/any/group/alpha-r1",  # names are unique: the group is not needed
    ):
        r = await client.get(path, headers=alpha.auth("viewer"))
        assert r.status_code == 200 and r.text == text, path
    r = await client.get("/oxidized/node/fetch/alpha-site/alpha-r1.json", headers=basic(alpha))
    assert r.json() == lines(text) and "".join(r.json()) == text
    r = await client.get(
        "/oxidized/node/version/view.json?node=alpha-r1&oid=1", headers=basic(alpha)
    )
    assert "".join(r.json()) == CONFIG_V1.format(name="alpha")
    r = await client.get(
        "/oxidized/node/version/view?node=alpha-r1.json&oid=1", headers=basic(alpha)
    )
    assert "".join(r.json()) == CONFIG_V1.format(name="alpha")
    r = await client.get("/oxidized/node/fetch/alpha-r1?with_secrets=true", headers=basic(alpha))
    assert r.status_code == 403 and SECRET not in r.text
    r = await client.get(
        "/oxidized/node/fetch/alpha-r1?with_secrets=true", headers=basic(alpha, "admin")
    )
    assert r.status_code == 200 and SECRET in r.text
    # LibreNMS knows a router by its address: one device has it, so it is found
    r = await client.get("/oxidized/node/show/192.0.2.99.json", headers=basic(alpha))
    assert r.json()["name"] == "core2"
    r = await client.get("/oxidized/reload.json", headers=basic(alpha))
    assert r.json() == ["reloaded list of nodes"]


#: Every route that names a router, aimed at another tenant's (see the test below).
ANOTHER_TENANTS = (
    "/oxidized/node/show/beta-r1?format=json",
    "/oxidized/node/fetch/beta-r1",
    "/oxidized/node/fetch/beta-site/beta-r1",
    "/oxidized/node/version?node_full=beta-site/beta-r1&format=json",
    "/oxidized/node/version.json?node_full=beta-r1",
    "/oxidized/node/version/view?node=beta-r1&oid=1&format=text",
    "/oxidized/node/version/view.json?node=beta-r1&oid=1",
    "/oxidized/node/version/diffs?node=beta-r1&oid=2&format=text",
    "/oxidized/node/next/beta-r1.json",
)
#: Routes that name no router: they list only the caller's tenant (tested above).
NO_ROUTER = {"/oxidized/nodes", "/oxidized/nodes.json", "/oxidized/reload", "/oxidized/reload.json"}


def test_every_route_is_checked_for_tenants() -> None:
    """A new route under /oxidized fails here until it has a case (read from the
    router itself: ``app.routes`` does not list an included router's routes)."""
    covered = [p.split("?")[0] for p in ANOTHER_TENANTS] + ["/oxidized/nodes/group/x"]
    paths = {route.path for route in oxidized.router.routes if isinstance(route, APIRoute)}
    assert len(paths) > 10
    for path in paths - NO_ROUTER:
        regex = re.sub(r"\\{[a-z_]+(:path)?\\}", ".+", re.escape(path))
        assert any(re.fullmatch(regex, c) for c in covered), path


async def test_tenants_and_credentials(
    client: httpx.AsyncClient, alpha: TenantWorld, beta: TenantWorld
) -> None:
    for path in ANOTHER_TENANTS:
        r = await client.get(path, headers=basic(alpha, "admin"))
        assert r.status_code == 404, (path, r.text)
        assert r.headers["content-type"].startswith("text/plain")
        assert "unable to find 'beta-r1'" in r.text
        for leak in ("beta-site", "192.0.2.1", "planned"):
            assert leak not in r.text
        with pytest.raises(json.JSONDecodeError):
            json.loads(r.text)  # never decodes into something that looks like a node
    r = await client.get("/oxidized/nodes.json", headers=basic(beta))
    assert [n["name"] for n in r.json()] == ["beta-r1"]
    for path in ("/oxidized/nodes/group/beta-site.json", "/oxidized/nodes/model/RouterOS"):
        r = await client.get(path, headers=basic(alpha, "admin"))  # beta's by a filter
        assert r.status_code == 200 and "beta" not in r.text, r.text
    for headers in ({}, {"Authorization": "Basic " + base64.b64encode(b"u:tgk_no").decode()}):
        r = await client.get("/oxidized/nodes.json", headers=headers)
        assert r.status_code == 401 and r.headers["content-type"].startswith("text/plain")
    r = await client.get("/oxidized/nodes.json", headers={"Authorization": "Basic !!"})
    assert r.status_code == 401
    r = await client.put(
        "/oxidized/node/next/alpha-r1", json={"user": "x", "msg": "y"}, headers=basic(alpha)
    )
    assert r.status_code == 403  # a viewer token may read, not start a backup
    r = await client.put(
        "/oxidized/node/next/alpha-r1",
        json={"user": "x", "msg": "y"},
        headers=basic(alpha, "operator"),
    )
    assert r.status_code == 503  # this app runs no engine; the live test runs one


@pytest.fixture
async def live(tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, TenantWorld, LiveServer]]:
    server = LiveServer(tmp_path, routers=1).start()
    db = Database.open(server.settings)
    try:
        world = await asyncio.to_thread(build_tenant, db, "alpha")
        async with httpx.AsyncClient(base_url=server.url, timeout=60) as client:
            yield client, world, server
    finally:
        db.dispose()
        server.stop()


@pytest.mark.timeout(120)
async def test_next_backs_the_router_up(
    live: tuple[httpx.AsyncClient, TenantWorld, LiveServer],
) -> None:
    """LibreNMS's Refresh (``PUT /node/next/NAME`` with user and msg) runs a real
    backup of a simulated router; the new version is then listed and fetched."""
    client, world, server = live
    assert server.fleet is not None
    dev = server.fleet[0]
    body = {
        "name": "edge1",
        "host": dev.host,
        "port": dev.port,
        "username": dev.username,
        "password": dev.password,
    }
    r = await client.post("/api/v1/devices", json=body, headers=world.auth("admin"))
    assert r.status_code == 201, r.text
    r = await client.put(
        "/oxidized/node/next/edge1",
        json={"user": "noc", "msg": "LibreNMS GUI refresh"},
        headers=basic(world, "operator"),
        follow_redirects=True,
    )
    assert r.status_code == 200 and [n["name"] for n in r.json()] == ["alpha-r1", "edge1"]
    r = await client.get("/oxidized/node/next/edge1.json", headers=basic(world, "operator"))
    assert r.json() == ["ok"]
    for _ in range(600):
        r = await client.get(
            "/api/v1/operations?device=edge1&kind=backup", headers=world.auth("viewer")
        )
        ops = r.json()
        if len(ops) == 2 and all(o["outcome"] is not None for o in ops):
            break
        await asyncio.sleep(0.1)
    assert [o["outcome"] for o in ops] == ["succeeded", "succeeded"], ops
    assert {o["requested_by"] for o in ops} == {"token:alpha-operator"}
    r = await client.get("/oxidized/node/version.json?node_full=edge1", headers=basic(world))
    versions = r.json()
    assert len(versions) == 1 and versions[0]["oid"] == "1"  # the second found no change
    r = await client.get("/oxidized/node/fetch/edge1", headers=basic(world))
    assert r.status_code == 200 and "/system identity" in r.text
