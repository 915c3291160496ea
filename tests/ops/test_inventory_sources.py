"""Inventory sources on a real store: RANCID router.db, Oxidized CSV and an HTTP JSON
source (a real HTTP server in this process, NetBox-shaped, paginated, with a token):
dry-run and apply give the same plan, a re-sync changes nothing, wrong rows change
nothing, removal only of what a source added, secrets never shown, tenants apart.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pygit2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.api.world import api_settings
from tests.ops.netboxkit import TOKEN, NetBox, netbox_serving

from tikguard.ops import devices as device_ops
from tikguard.ops import inventory as inv
from tikguard.ops.inventory import formats
from tikguard.settings import Settings
from tikguard.store import devices as store_devices
from tikguard.store import versions as store_versions
from tikguard.store.audit import list_audit
from tikguard.store.db import Database
from tikguard.store.errors import NotFound
from tikguard.store.models import InventorySource
from tikguard.store.tenants import ensure_tenant

PASSWORD = "router-pass-not-shown"


@pytest.fixture
def cfg(tmp_path: Path) -> Settings:
    # NetBox is served on loopback: a lab allows it (docs/inventory-sources.md)
    return api_settings(tmp_path / "data", git_mirror="on", outbound_allow="127.0.0.1/32")


@pytest.fixture
def db(cfg: Settings) -> Iterator[Database]:
    database = Database.open(cfg)
    yield database
    database.dispose()


def tenant(db: Database, name: str = "default") -> int:
    with db.transaction() as s:
        return ensure_tenant(s, name).id


def names(db: Database, tenant_id: int) -> list[str]:
    return [d.name for d in device_ops.list_all(db, tenant_id)]


async def run(db: Database, cfg: Settings, tid: int, name: str, *, dry: bool) -> inv.Plan:
    return await inv.sync(db, cfg, tid, name, actor="cli:test@host", dry_run=dry, as_operator=True)


def add_file_source(db: Database, tid: int, name: str, kind: str, path: Path, **kw: Any) -> None:
    password = kw.pop("password", None)
    config = inv.build_config(kind, path=str(path), has_password=password is not None, **kw)
    inv.add_source(
        db, tid, actor="cli:test@host", name=name, kind=kind, config=config, password=password
    )


# --- formats (pure) --------------------------------------------------------------


def test_rancid_both_delimiters_comments_types_and_states() -> None:
    v3 = "# core\n\nEdge-1;mikrotik;up;rack 4\nsw1;cisco;up\nold;mikrotik;down\n"
    v2 = "# core\nedge-1:mikrotik:up\nsw1:cisco:up\nold:mikrotik:down\n"
    for text in (v3, v2):
        parsed = formats.parse_rancid(text)
        assert (parsed.rows[0].name, parsed.rows[0].host) == ("edge-1", "edge-1")
        assert [n.name for n in parsed.ignored] == ["sw1"]
        assert [n.name for n in parsed.held] == ["old"]
        assert not parsed.errors


def test_oxidized_csv_map_delimiter_nil_vars_and_models() -> None:
    rules = formats.RowRules(
        mapping={"name": 0, "model": 1, "ip": 2, "username": 3, "group": 4},
        vars_map={"dns": 5},
    )
    text = (
        "# name:model:ip:user:group:dns\n"
        "r1:routeros:10.0.0.1:backup:core:9.9.9.9\n"
        "r2:RouterOS:nil:nil\n"  # short line: missing columns are empty
        "sw1:ios:10.0.0.9:x:core\n"
    )
    parsed = formats.parse_delimited(text, rules, delimiter=":")
    r1, r2 = parsed.rows
    assert (r1.host, r1.username, r1.tags, r1.vars, r1.ref) == (
        "10.0.0.1",
        "backup",
        ("core",),
        {"dns": "9.9.9.9"},
        "line 2",
    )
    assert (r2.host, r2.username, r2.tags) == ("r2", None, ())
    assert [(n.ref, n.reason) for n in parsed.ignored] == [("line 4", "model 'ios'")]
    spaced = formats.parse_delimited("a ,routeros\n", rules, delimiter=r"\s*,\s*")
    assert [r.name for r in spaced.rows] == ["a"]


def test_navigate_is_oxidized_string_navigate_object() -> None:
    doc = {"a": {"b": [{"c": 1}, {"c": 2}]}, "ip": {"address": "192.0.2.7/24"}}
    assert formats.navigate(doc, "a.b[1].c") == 2
    assert formats.navigate(doc, "a.x.c") is None
    assert formats.navigate(doc, "a.b[5].c") is None
    parsed = formats.parse_json_items(
        [{"name": "r1", "ip": {"address": "192.0.2.7/24"}, "tags": [{"slug": "core"}]}],
        formats.RowRules({"name": "name", "ip": "ip.address", "tags": "tags"}),
    )
    assert (parsed.rows[0].host, parsed.rows[0].tags) == ("192.0.2.7", ("core",))


@pytest.mark.parametrize(
    ("text", "ref", "reason"),
    [
        ("r1;mikrotik\n", "line 1", "expected name;type;state"),
        ("ok;mikrotik;up\nx/y;mikrotik;up\n", "line 2", "device name 'x/y'"),
        ("a;mikrotik;up\n# c\na;mikrotik;up\n", "line 3", "listed twice (first at line 1)"),
    ],
)
def test_rancid_bad_rows_name_their_line(text: str, ref: str, reason: str) -> None:
    (error,) = formats.parse_rancid(text).errors
    assert error.ref == ref and reason in error.reason


names_st = st.lists(
    st.from_regex(r"[a-z][a-z0-9-]{0,12}", fullmatch=True), min_size=1, max_size=8, unique=True
)


@settings(max_examples=40, deadline=None)
@given(names_st, st.sampled_from([";", ":"]))
def test_rancid_and_oxidized_read_back_what_was_written(rows: list[str], sep: str) -> None:
    rancid = "".join(f"{n}{sep}mikrotik{sep}up{sep}comment\n" for n in rows)
    assert [r.name for r in formats.parse_rancid(rancid).rows] == rows
    rules = formats.RowRules({"name": 0, "model": 1, "ip": 2})
    csv = "".join(f"{n}:routeros:10.0.0.{i}\n" for i, n in enumerate(rows))
    parsed = formats.parse_delimited(csv, rules)
    assert [(r.name, r.host) for r in parsed.rows] == [
        (n, f"10.0.0.{i}") for i, n in enumerate(rows)
    ]


# --- file sources on a real store ----------------------------------------------------


async def test_rancid_dry_run_apply_resync_and_removal(
    db: Database, cfg: Settings, tmp_path: Path
) -> None:
    tid = tenant(db)
    device_ops.add(
        db,
        tid,
        actor="t",
        name="manual",
        host="10.9.9.9",
        username="a",
        password="p",
        as_operator=True,
    )
    path = tmp_path / "router.db"
    path.write_text("edge-1;mikrotik;up\nedge-2;mikrotik;up\nmanual;mikrotik;up\nsw;cisco;up\n")
    add_file_source(
        db,
        tid,
        "rancid",
        "rancid",
        path,
        username="backup",
        tags=["r"],
        remove=True,
        password=PASSWORD,
    )
    dry = await run(db, cfg, tid, "rancid", dry=True)
    assert names(db, tid) == ["manual"]  # a dry-run changes nothing
    real = await run(db, cfg, tid, "rancid", dry=False)
    assert dry.as_json() == real.as_json()
    assert [(c.action, c.device) for c in real.changes] == [
        ("add", "edge-1"),
        ("add", "edge-2"),
        ("conflict", "manual"),
    ]
    edge = device_ops.get(db, tid, device_ops.id_of(db, tid, "edge-1"))
    assert (edge.username, edge.tags, edge.has_password) == ("backup", ("r", "source:rancid"), True)
    assert PASSWORD not in json.dumps(real.as_json())
    again = await run(db, cfg, tid, "rancid", dry=False)
    assert again.counts()["unchanged"] == 2 and not [
        c for c in again.changes if c.action in ("add", "update", "remove")
    ]
    # edge-2 leaves, with a version: kept in the git mirror, then removed
    e2 = device_ops.id_of(db, tid, "edge-2")
    with db.transaction() as s:
        store_versions.record_backup(
            s,
            tid,
            e2,
            normalised_redacted_text="/system identity\n",
            secrets={},
            ros_version="7.16",
            trigger="manual",
        )
    path.write_text("edge-1;mikrotik;down\nmanual;mikrotik;up\n")
    plan = await run(db, cfg, tid, "rancid", dry=False)
    assert [(c.action, c.device) for c in plan.changes] == [
        ("conflict", "manual"),
        ("hold", "edge-1"),
        ("remove", "edge-2"),
    ]
    assert names(db, tid) == ["edge-1", "manual"]
    repo = pygit2.Repository(str(cfg.data_dir / "git" / "default.git"))
    messages = [c.message for c in repo.walk(repo.head.target)]
    assert messages[0].startswith("removed: edge-2")  # its history stays in the mirror
    assert any(m.startswith("manual: edge-2") for m in messages)
    with db.session() as s:
        rows = list_audit(s, tid, target="edge-2")
    assert ("device.remove", "cli:test@host") in [(r.action, r.actor) for r in rows]


async def test_removal_is_off_unless_the_source_says_so(
    db: Database, cfg: Settings, tmp_path: Path
) -> None:
    tid = tenant(db)
    path = tmp_path / "router.db"
    path.write_text("a;mikrotik;up\nb;mikrotik;up\n")
    add_file_source(db, tid, "r", "rancid", path)
    await run(db, cfg, tid, "r", dry=False)
    path.write_text("a;mikrotik;up\n")
    plan = await run(db, cfg, tid, "r", dry=False)
    assert [(c.action, c.device) for c in plan.changes] == [("stale", "b")]
    assert names(db, tid) == ["a", "b"]


async def test_empty_source_never_removes_everything(
    db: Database, cfg: Settings, tmp_path: Path
) -> None:
    tid = tenant(db)
    path = tmp_path / "router.db"
    path.write_text("a;mikrotik;up\n")
    add_file_source(db, tid, "r", "rancid", path, remove=True)
    await run(db, cfg, tid, "r", dry=False)
    path.write_text("# emptied by mistake\n")
    with pytest.raises(inv.SyncRefused, match="lists no routers"):
        await run(db, cfg, tid, "r", dry=False)
    assert names(db, tid) == ["a"]


async def test_oxidized_csv_bad_rows_change_nothing_and_name_lines(
    db: Database, cfg: Settings, tmp_path: Path
) -> None:
    tid = tenant(db)
    path = tmp_path / "router.db"
    path.write_text("r1:routeros:10.0.0.1\nr2:routeros:10.0.0.2:70000\n")
    add_file_source(
        db,
        tid,
        "ox",
        "oxidized-csv",
        path,
        mapping={"name": "0", "model": "1", "ip": "2", "port": "3"},
    )
    with pytest.raises(inv.SyncRefused) as refused:
        await run(db, cfg, tid, "ox", dry=False)
    assert [(e.ref, e.name) for e in refused.value.plan.errors] == [("line 2", "r2")]
    assert "line 2: port '70000'" in str(refused.value)
    assert names(db, tid) == []
    with db.session() as s:
        assert not list_audit(s, tid, action="device.add")
        source = s.query(InventorySource).one()
        assert source.last_sync is not None and not source.last_sync["ok"]
    dry = await run(db, cfg, tid, "ox", dry=True)  # the dry-run shows the same errors
    assert dry.errors == refused.value.plan.errors
    path.write_text("r1:routeros:10.0.0.1\nr2:routeros:10.0.0.2:2222\n")
    plan = await run(db, cfg, tid, "ox", dry=False)
    assert plan.counts()["add"] == 2
    path.write_text("r1:routeros:10.0.0.5\nr2:routeros:10.0.0.2:2222\n")
    plan = await run(db, cfg, tid, "ox", dry=False)
    assert [(c.action, dict(c.fields)) for c in plan.changes] == [
        ("update", {"host": ("10.0.0.1", "10.0.0.5")})
    ]


async def test_unreadable_file_is_a_clear_error(
    db: Database, cfg: Settings, tmp_path: Path
) -> None:
    tid = tenant(db)
    add_file_source(db, tid, "gone", "rancid", tmp_path / "missing.db")
    with pytest.raises(inv.SourceUnavailable, match=r"cannot read .*missing\.db"):
        await run(db, cfg, tid, "gone", dry=True)


async def test_tenants_are_apart(db: Database, cfg: Settings, tmp_path: Path) -> None:
    alpha, beta = tenant(db, "alpha"), tenant(db, "beta")
    path = tmp_path / "router.db"
    path.write_text("shared;mikrotik;up\n")
    add_file_source(db, alpha, "r", "rancid", path, remove=True)
    device_ops.add(
        db,
        beta,
        actor="t",
        name="shared",
        host="10.1.1.1",
        username="a",
        password=None,
        as_operator=True,
    )
    await run(db, cfg, alpha, "r", dry=False)
    assert [s.name for s in inv.list_sources(db, beta)] == []
    with pytest.raises(NotFound):
        await run(db, cfg, beta, "r", dry=True)
    beta_dev = device_ops.get(db, beta, device_ops.id_of(db, beta, "shared"))
    assert (beta_dev.host, beta_dev.tags) == ("10.1.1.1", ())
    # the same source name in beta is another source
    add_file_source(db, beta, "r", "rancid", path)
    plan = await run(db, cfg, beta, "r", dry=True)
    assert [(c.action, c.device) for c in plan.changes] == [("conflict", "shared")]


# --- the HTTP JSON source ------------------------------------------------------------


@pytest.fixture
def netbox() -> Iterator[NetBox]:
    with netbox_serving("r1", "r2", "r3") as server:
        yield server


def add_netbox(db: Database, tid: int, url: str, **kw: Any) -> None:
    config = inv.build_config(
        "http",
        url=url,
        hosts_location="results",
        pagination=True,
        mapping={
            "name": "name",
            "ip": "primary_ip.address",
            "model": "platform.slug",
            "site": "site.slug",
            "tags": "tags",
            "port": "custom_fields.ssh_port",
        },
        header_names=["Authorization"],
        **kw,
    )
    inv.add_source(
        db,
        tid,
        actor="cli:test@host",
        name="netbox",
        kind="http",
        config=config,
        headers={"Authorization": f"Token {TOKEN}"},
        password=PASSWORD,
    )


async def test_netbox_pages_token_dry_run_and_apply(
    db: Database, cfg: Settings, netbox: NetBox
) -> None:
    tid = tenant(db)
    add_netbox(db, tid, netbox.url, remove=True)
    dry = await run(db, cfg, tid, "netbox", dry=True)
    assert len(netbox.requests) == 2  # two pages followed
    assert [n.reason for n in dry.ignored] == ["model 'ios'"]
    real = await run(db, cfg, tid, "netbox", dry=False)
    assert dry.as_json() == real.as_json()
    r1 = device_ops.get(db, tid, device_ops.id_of(db, tid, "r1"))
    assert (r1.host, r1.site, r1.tags, r1.has_password) == (
        "192.0.2.1",
        "ams1",
        ("core", "source:netbox"),
        True,
    )
    again = await run(db, cfg, tid, "netbox", dry=False)
    assert again.changes == [] and again.counts()["unchanged"] == 3
    netbox.devices = netbox.devices[:2]  # r3 leaves NetBox
    plan = await run(db, cfg, tid, "netbox", dry=False)
    assert [(c.action, c.device) for c in plan.changes] == [("remove", "r3")]
    # the token is nowhere to be read back
    with db.session() as s:
        stored = s.query(InventorySource).one()
        assert TOKEN not in json.dumps(stored.config) + json.dumps(stored.last_sync)
        assert all(TOKEN not in json.dumps(r.details) for r in list_audit(s, tid))
        assert store_devices.get_password(s, tid, device_ops.id_of(db, tid, "r1")) == PASSWORD


async def test_failing_or_refusing_server_changes_nothing(
    db: Database, cfg: Settings, netbox: NetBox
) -> None:
    tid = tenant(db)
    add_netbox(db, tid, netbox.url)
    netbox.fail_with = 500
    with pytest.raises(inv.SourceUnavailable) as failed:
        await run(db, cfg, tid, "netbox", dry=False)
    assert f"GET {netbox.url} answered 500" in str(failed.value)
    assert names(db, tid) == []
    netbox.fail_with = None
    inv.remove_source(db, tid, "netbox", actor="t")
    config = inv.build_config("http", url=netbox.url, hosts_location="results")
    inv.add_source(
        db,
        tid,
        actor="t",
        name="netbox",
        kind="http",
        config=config,
        headers={"Authorization": "Token wrong-token"},
    )
    with pytest.raises(inv.SourceUnavailable, match="answered 403") as refused:
        await run(db, cfg, tid, "netbox", dry=False)
    assert "wrong-token" not in str(refused.value) and refused.value.hint
    with db.session() as s:
        last = s.query(InventorySource).one().last_sync
        assert last is not None and "403" in last["error"]
    netbox.close()
    with pytest.raises(inv.SourceUnavailable, match="failed"):
        await run(db, cfg, tid, "netbox", dry=True)
    assert names(db, tid) == []


def test_http_source_settings_are_checked() -> None:
    with pytest.raises(Exception, match="credentials in a header"):
        inv.build_config("http", url="https://u:p@netbox.example/api/dcim/devices/")
    with pytest.raises(Exception, match="http:// or https://"):
        inv.build_config("http", url="file:///etc/passwd")
    with pytest.raises(Exception, match="unknown field"):
        inv.build_config("http", url="https://nb.example/", mapping={"name": "n", "secret": "x"})


def test_data_key_rotation_keeps_source_secrets_readable(db: Database, tmp_path: Path) -> None:
    from tikguard.store.rotation import rotate_data_key
    from tikguard.store.sources import get_secrets
    from tikguard.store.vault import Vault

    tid = tenant(db)
    add_file_source(db, tid, "r", "rancid", tmp_path / "router.db", password=PASSWORD)
    assert rotate_data_key(db, tid).values == 1
    db.set_vault(Vault.from_settings(db.settings))  # no cached keys
    with db.session() as s:
        source = s.query(InventorySource).one()
        assert Vault.key_version_of(bytes(source.secrets_enc or b"")) == 2
        assert get_secrets(s, source) == {"password": PASSWORD}


async def test_a_tenant_admin_sync_keeps_to_the_tenant_networks(
    db: Database, cfg: Settings, tmp_path: Path
) -> None:
    from tikguard.store.reach import set_reach

    tid = tenant(db)
    tenant(db, "other")  # two tenants: a tenant's routers must be on its networks
    with db.transaction() as s:
        set_reach(s, tid, networks="10.0.0.0/24", share_hosts=False)
    path = tmp_path / "router.db"
    path.write_text("r1:routeros:10.0.0.1\nr2:routeros:192.0.2.1\n")
    add_file_source(
        db, tid, "ox", "oxidized-csv", path, mapping={"name": "0", "model": "1", "ip": "2"}
    )
    with pytest.raises(inv.SyncRefused) as refused:
        await inv.sync(db, cfg, tid, "ox", actor="user:admin")
    assert [(e.ref, e.name) for e in refused.value.plan.errors] == [("line 2", "r2")]
    assert names(db, tid) == []


async def test_scheduled_sync_runs_in_the_engine(tmp_path: Path) -> None:
    import asyncio
    import time

    from tikguard.ops import runtime

    cfg = api_settings(tmp_path / "data", schedule_min_interval=0.0)
    db = Database.open(cfg)
    try:
        tid = tenant(db)
        path = tmp_path / "router.db"
        path.write_text("a;mikrotik;up\n")
        add_file_source(db, tid, "r", "rancid", path)
        async with runtime.running(cfg):
            await inv.set_sync_schedule(cfg, tid, "r", "* * * * * *")
            assert await inv.sync_schedules(cfg, tid) == {"r": "* * * * * *"}
            deadline = time.monotonic() + 30
            while names(db, tid) != ["a"]:
                assert time.monotonic() < deadline, "the scheduled sync never ran"
                await asyncio.sleep(0.1)
            assert await inv.drop_sync_schedule(cfg, tid, "r")
            assert not await inv.drop_sync_schedule(cfg, tid, "r")
        with db.session() as s:
            (row,) = list_audit(s, tid, action="device.add", target="a")
            assert row.actor == "schedule:inventory:r"
    finally:
        db.dispose()


_tenants = iter(range(10**6))
_rows = st.dictionaries(
    st.from_regex(r"[a-z][a-z0-9]{0,6}", fullmatch=True),
    st.tuples(
        st.integers(1, 254),
        st.sampled_from(["22", "2222", ""]),
        st.sets(st.sampled_from(["core", "edge", "lab"])),
    ),
    max_size=6,
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(first=_rows, second=_rows)
def test_a_sync_makes_the_inventory_the_source_and_a_resync_changes_nothing(
    db: Database, first: dict[str, Any], second: dict[str, Any]
) -> None:
    from tikguard.ops.inventory.plan import Defaults, apply_plan, make_plan

    tid = tenant(db, f"p{next(_tenants)}")
    rules = formats.RowRules({"name": 0, "ip": 1, "port": 2, "tags": 3}, models=())
    defaults = Defaults(remove=True)
    for rows in (first, second):
        text = "".join(
            f"{n},10.0.0.{ip},{port},{';'.join(sorted(tags))}\n"
            for n, (ip, port, tags) in rows.items()
        )
        parsed = formats.parse_delimited(text, rules, delimiter=",")
        if not parsed.rows and rows == second and first:
            continue  # an empty source never removes everything (tested above)
        with db.transaction() as s:
            apply_plan(
                s, tid, make_plan(s, tid, "p", parsed, defaults, check_networks=False), actor="t"
            )
        with db.session() as s:
            again = make_plan(s, tid, "p", parsed, defaults, check_networks=False)
        assert again.changes == [] and again.unchanged == len(rows)
        views = {v.name: v for v in device_ops.list_all(db, tid)}
        assert sorted(views) == sorted(rows)
        for n, (ip, port, tags) in rows.items():
            assert (views[n].host, views[n].port) == (f"10.0.0.{ip}", int(port or 22))
            assert set(views[n].tags) == {*tags, "source:p"}


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        ({"raw": b"<html>login</html>"}, "the answer is not JSON"),
        ({"redirect": "http://elsewhere.example/login"}, "redirect to http://elsewhere.example"),
        ({"next_origin": "http://127.0.0.2:9"}, "'next' link http://127.0.0.2:9/api"),
    ],
)
async def test_http_answers_that_are_refused(
    db: Database, cfg: Settings, netbox: NetBox, fault: dict[str, Any], message: str
) -> None:
    tid = tenant(db)
    add_netbox(db, tid, netbox.url)
    for key, value in fault.items():
        setattr(netbox, key, value)
    with pytest.raises(inv.SourceUnavailable, match=message) as refused:
        await run(db, cfg, tid, "netbox", dry=False)
    assert TOKEN not in str(refused.value)
    assert names(db, tid) == []
    if "next_origin" in fault:
        assert len(netbox.requests) == 1  # the token never went to the other host
