"""Tenant isolation: no endpoint reads or changes another tenant's data, whatever ids
are tried.

The matrix is built from the app's own route table, so a new endpoint without a case
here fails :func:`test_every_endpoint_is_in_the_matrix`. Each case is sent by tenant
alpha's admin (the strongest role) aimed at tenant beta's ids, and at ids that do not
exist; the answer must be a 4xx that reveals nothing, and beta's rows must be exactly
as before.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import create_engine, delete, select, text
from tests.api import two_tenants
from tests.api.world import PASSWORD, TenantWorld, build_tenant

from tikguard.api.app import create_app
from tikguard.ops import backup as backup_ops
from tikguard.ops import compliance
from tikguard.ops import inventory as inventory_ops
from tikguard.ops import notify as notify_ops
from tikguard.ops import workers as fleet_workers
from tikguard.ops.cluster import PUSH_WORKFLOW
from tikguard.ops.rollout import service as rollouts
from tikguard.ops.rollout.targets import Selector
from tikguard.settings import Settings
from tikguard.store import notify as store_notify
from tikguard.store import operations as store_ops
from tikguard.store.db import Database
from tikguard.store.errors import InvalidInput, NotFound
from tikguard.store.models import Base, Rollout, Worker, utcnow
from tikguard.web import accounts as web_accounts
from tikguard.web import notifications as web_notifications
from tikguard.web import rollouts as web_rollouts
from tikguard.web import routes as web_routes

Ids = dict[str, Any]
#: (method, path) -> body for the ids of the target tenant (None: no body).
Body = Callable[[Ids], Any] | None

SCRIPT = "/ip address\nadd address=10.9.9.9/24 interface=ether2\n"
BY_ID: dict[tuple[str, str], Body] = {
    ("GET", "/api/v1/devices/{device}"): None,
    ("PATCH", "/api/v1/devices/{device}"): lambda i: {"site": "pwned", "password": "x"},
    ("DELETE", "/api/v1/devices/{device}"): None,
    ("POST", "/api/v1/devices/{device}/probe"): None,
    ("POST", "/api/v1/devices/{device}/backup"): None,
    ("GET", "/api/v1/devices/{device}/host-key"): None,
    ("POST", "/api/v1/devices/{device}/host-key/accept"): lambda i: {"fingerprint": "SHA256:x"},
    ("GET", "/api/v1/devices/{device}/versions"): None,
    ("GET", "/api/v1/devices/{device}/versions/{ref}"): None,
    ("GET", "/api/v1/devices/{device}/versions/{ref}.rsc"): None,
    ("GET", "/api/v1/devices/{device}/diff"): None,
    ("POST", "/api/v1/backups"): lambda i: {"devices": [i["device"]]},
    ("POST", "/api/v1/push"): lambda i: {"devices": [i["device"]], "script": SCRIPT},
    ("POST", "/api/v1/restore"): lambda i: {"device": i["device"], "version": 1},
    ("POST", "/api/v1/replace"): lambda i: {"device": i["device"], "script": SCRIPT},
    ("POST", "/api/v1/preview"): lambda i: {"device": i["device"], "script": SCRIPT},
    ("GET", "/api/v1/operations/{op_id}"): None,
    ("GET", "/api/v1/operations/{op_id}/events"): None,
    ("GET", "/api/v1/operations/{op_id}/stream"): None,
    ("POST", "/api/v1/operations/{op_id}/confirm"): None,
    ("POST", "/api/v1/operations/{op_id}/recheck"): None,
    ("POST", "/api/v1/operations/{op_id}/revert"): None,
    ("GET", "/api/v1/rollouts/{rollout_id}"): None,
    ("GET", "/api/v1/rollouts/{rollout_id}/stream"): None,
    ("DELETE", "/api/v1/tokens/{token_id}"): None,
    ("PUT", "/api/v1/users/{user_id}/password"): lambda i: {"password": "pwned-password-1"},
    ("DELETE", "/api/v1/users/{user_id}"): None,
    # beta has a schedule for this tag; alpha has none: not found, beta's kept
    ("DELETE", "/api/v1/schedules?tag={tag}"): None,
    ("DELETE", "/api/v1/notify/channels/{channel}"): None,
    ("DELETE", "/api/v1/notify/rules/{rule}"): None,
    ("POST", "/api/v1/notify/test/{rule}"): None,
    ("POST", "/api/v1/notify/test/{channel}"): None,
    # a rule of alpha's sending to beta's channel: no such channel
    ("POST", "/api/v1/notify/rules"): lambda i: {"name": "stolen", "channel": i["channel"]},
    ("DELETE", "/api/v1/inventory/sources/{source}"): None,
    ("POST", "/api/v1/inventory/sources/{source}/sync"): None,
    ("POST", "/api/v1/inventory/sources/{source}/sync?dry_run=true"): None,
    ("POST", "/api/v1/rollouts/plan"): lambda i: {"names": [i["device_name"]], "script": SCRIPT},
    ("POST", "/api/v1/rollouts"): lambda i: {"names": [i["device_name"]], "script": SCRIPT},
    ("POST", "/api/v1/rollouts/{rollout_id}/abort"): None,
    ("POST", "/api/v1/rollouts/{rollout_id}/continue"): None,
}
#: Routes that hand work to the durable engine answer 503 before anything else when
#: there is none (this app runs none): the same for every id, so they disclose nothing;
#: :func:`test_rollout_writes_find_only_the_callers_rollouts` calls the service they
#: call, which looks the ids up.
NEEDS_ENGINE = {
    ("POST", "/api/v1/rollouts"),
    ("POST", "/api/v1/rollouts/{rollout_id}/abort"),
    ("POST", "/api/v1/rollouts/{rollout_id}/continue"),
}
#: Endpoints without ids: they must list only the caller's tenant; the value is what
#: the caller's own answer holds (tenant alpha's name unless said).
LISTS: dict[tuple[str, str], str] = {
    ("GET", "/api/v1/devices"): "alpha",
    ("GET", "/api/v1/operations"): "",
    ("GET", "/api/v1/audit"): "alpha",
    ("GET", "/api/v1/users"): "alpha",
    ("GET", "/api/v1/tokens"): "alpha",
    ("GET", "/api/v1/me"): "",
    ("GET", "/api/v1/operations?device={device}"): "",
    ("GET", "/api/v1/schedules"): "alpha",
    ("GET", "/api/v1/rollouts"): "alpha",
    ("GET", "/api/v1/notify/channels"): "alpha-hook",
    ("GET", "/api/v1/notify/rules"): "alpha-rule",
    ("GET", "/api/v1/notify/attempts"): "alpha-hook",
    ("GET", "/api/v1/notify/attempts?channel=beta-hook"): "",
    ("GET", "/api/v1/notify/kinds"): "push-reverted",  # no tenant's data at all
    ("GET", "/api/v1/inventory/sources"): "alpha-src",
    ("GET", "/api/v1/compliance"): "alpha-only",
    ("GET", "/api/v1/compliance/rules"): "alpha-only",
    ("GET", "/api/v1/compliance/changes?since=2000-01-01T00:00:00Z"): "alpha-r1",
    ("GET", "/api/v1/search?q=/ip address"): "alpha-r1",
    ("GET", "/api/v1/search?q=192.0.2&history=true"): "alpha-r1",
    ("GET", "/api/v1/search?q=/ip address&site=beta-site"): "",
    # system-wide by design (docs/security.md): every worker, but only the caller's
    # pushes counted (test_workers_count_only_the_callers_pushes)
    ("GET", "/api/v1/workers"): "",
}
#: Endpoints that create rows in the caller's own tenant (checked not to touch others).
CREATES: dict[tuple[str, str], Callable[[Ids], Any]] = {
    ("POST", "/api/v1/devices"): lambda i: {"name": "created-here", "host": "192.0.2.50"},
    # a router named like beta's is the caller's own here
    ("POST", "/api/v1/devices/import"): lambda i: {
        "csv": f"name,host\n{i['device_name']},192.0.2.51\n"
    },
    # the caller's data key only: beta's rows (its encrypted values) stay byte for byte
    ("POST", "/api/v1/keys/rotate"): lambda i: None,
    ("POST", "/api/v1/users"): lambda i: {"username": "newbie", "password": "long-enough-pw"},
    ("POST", "/api/v1/tokens"): lambda i: {"name": "t", "role": "viewer"},
    ("POST", "/api/v1/schedules"): lambda i: {"tag": "created-here", "cron": "0 4 * * *"},
    # a name another tenant uses is free here (names are per tenant)
    ("POST", "/api/v1/notify/channels/webhook"): lambda i: {
        "name": i["channel"],
        "url": "https://hooks.gamma.example/new",
    },
    ("POST", "/api/v1/notify/channels/email"): lambda i: {
        "name": "mail",
        "host": "smtp.gamma.example",
        "sender": "tikguard@gamma.example",
        "to": ["noc@gamma.example"],
    },
    ("POST", "/api/v1/inventory/sources"): lambda i: {
        "name": i["source"],
        "url": "https://inv.gamma.example/api",
    },
    # judged over the caller's routers only
    ("POST", "/api/v1/compliance/check"): lambda i: None,
    ("PUT", "/api/v1/compliance/rules"): lambda i: {"text": COMPLIANCE.format(name="gamma")},
}
COMPLIANCE = """rules:
  - id: {name}-only
    severity: low
    must-not: /ip address interface=ether2
"""
PUBLIC = {("GET", "/api/v1/health")}


# One store for the whole module (tests/api/two_tenants.py: argon2 hashing and
# migrations are the slow part); every case checks beta's rows before and after, so
# sharing cannot hide a leak. No test changes what another reads: a test that writes
# makes its own rows (creations happen in a tenant of their own, gamma), whatever the
# order the tests run in.
settings, db, alpha, beta = (
    two_tenants.settings,
    two_tenants.db,
    two_tenants.alpha,
    two_tenants.beta,
)


@pytest.fixture(scope="module")
def gamma(db: Database) -> TenantWorld:
    """The tenant that creates: rows named like beta's land here, never in alpha, whose
    listings the other tests read. Its push has ended, so its data key may rotate."""
    world = build_tenant(db, "gamma")
    with db.transaction() as s:
        store_ops.finish_operation(s, world.id, world.op_id, "committed")
    return world


@pytest.fixture(scope="module")
def app(settings: Settings, db: Database, alpha: TenantWorld, beta: TenantWorld) -> FastAPI:
    async def schedules() -> None:  # each tenant has one of its own
        for world in (alpha, beta):
            await backup_ops.change_schedule(
                db, settings, world.id, tag=f"{world.name}-core", actor="test"
            )

    asyncio.run(schedules())
    with db.transaction() as s:  # and a rollout of its own router
        for world in (alpha, beta):
            s.add(
                Rollout(
                    id=f"{world.name}rollout".ljust(32, "0"),
                    tenant_id=world.id,
                    source_enc=b"",
                    selector={"names": [world.device_name]},
                    waves=[1],
                    requested_by=f"token:{world.name}-operator",
                )
            )
    for world in (alpha, beta):  # notifications, an inventory source, compliance rules
        hook = notify_ops.WebhookChannel(
            f"{world.name}-hook", f"https://hooks.{world.name}.example/in"
        )
        notify_ops.add_webhook(db, settings, world.id, hook, actor="test")
        rule = notify_ops.Rule(f"{world.name}-rule", f"{world.name}-hook")
        notify_ops.add_rule(db, world.id, rule, actor="test")
        config = inventory_ops.build_config("http", url=f"https://inv.{world.name}.example/api")
        asyncio.run(
            inventory_ops.create_source(
                db,
                settings,
                world.id,
                actor="test",
                name=f"{world.name}-src",
                kind="http",
                config=config,
                headers={"Authorization": f"Token {world.name}-inventory-secret"},
            )
        )
        compliance.load_rules(db, world.id, COMPLIANCE.format(name=world.name), actor="test")
        with db.transaction() as s:  # and one delivery of an event to its channel
            event = store_notify.record_event(
                s,
                world.id,
                key="isolation",
                kind="push-reverted",
                title=f"push on {world.device_name} reverted",
                details={},
                device_id=world.device_id,
                device_name=world.device_name,
            )
            assert event is not None
            s.flush()
            store_notify.record_attempt(
                s,
                world.id,
                event_id=event.id,
                channel_id=None,
                channel_name=f"{world.name}-hook",
                attempt=1,
                ok=True,
                status="200",
                seconds=0.1,
                final=True,
            )
    return create_app(settings, db=db, engine=False)


def routes(app: FastAPI) -> set[tuple[str, str]]:
    """Every (method, path) of the API, from its OpenAPI document: ``app.routes`` does
    not list the routes of an included router (FastAPI 0.165), so walking it found
    none and the check below passed whatever the matrix held."""
    out: set[tuple[str, str]] = set()
    for path, operations in app.openapi()["paths"].items():
        if path.startswith("/api/v1"):
            out.update((m.upper(), path) for m in operations if m != "head")
    return out


#: Endpoints without an isolation case, each with the reason. A new endpoint is not to
#: be added here: write its case.
KNOWN_GAPS: dict[tuple[str, str], str] = {}


def shape(path: str) -> str:
    """A path without its query and with its parameters unnamed (the matrix names them
    for the ids it fills in: ``{channel}`` where the route says ``{name}``)."""
    return re.sub(r"\{[^}]+\}", "{}", path.split("?")[0])


def covered() -> set[tuple[str, str]]:
    return {(m, shape(p)) for m, p in [*BY_ID, *LISTS, *CREATES, *PUBLIC]}


def test_every_endpoint_is_in_the_matrix(app: FastAPI) -> None:
    found = {(m, shape(p)) for m, p in routes(app)}
    assert len(found) > 50  # the routes are really read
    gaps = {(m, shape(p)) for m, p in KNOWN_GAPS}
    missing = found - covered() - gaps
    assert not missing, f"endpoints without an isolation case: {sorted(missing)}"
    assert not (covered() | gaps) - found, "cases of endpoints that do not exist"
    assert not covered() & gaps, "a gap with a case is no gap"


def snapshot(db: Database, tenant_id: int) -> dict[str, Any]:
    """Every row of one tenant that an endpoint could change: every column of every
    table with a tenant (a new table is in here without a word), and its schedules."""
    with db.session() as s:
        out: dict[str, Any] = {
            table.name: [
                tuple(r)
                for r in s.execute(
                    select(table)
                    .where(table.c.tenant_id == tenant_id)
                    .order_by(*table.primary_key.columns)
                )
            ]
            for table in Base.metadata.sorted_tables
            if "tenant_id" in table.c
        }
    out["schedules"] = schedules_of(db, tenant_id)
    return out


def schedules_of(db: Database, tenant_id: int) -> list[tuple[Any, ...]]:
    """The tenant's backup schedules, read straight from the engine's database."""
    engine = create_engine(db.settings.dbos_database_url())
    try:
        with engine.connect() as conn:
            return [
                tuple(r)
                for r in conn.execute(
                    text(
                        "SELECT schedule_name, schedule, cron_timezone FROM workflow_schedules "
                        "WHERE schedule_name LIKE :p ORDER BY schedule_name"
                    ),
                    {"p": f"backup:{tenant_id}:%"},
                )
            ]
    finally:
        engine.dispose()


def target_ids(world: TenantWorld) -> list[Ids]:
    """The other tenant's real ids, and ids that exist nowhere; devices by id and by
    name (``device``)."""
    real = {
        "device": world.device_id,
        "device_id": world.device_id,
        "op_id": world.op_id,
        "token_id": world.token_id,
        "user_id": world.user_id,
        "tag": f"{world.name}-core",
        "ref": "1",
        "device_name": world.device_name,
        "rollout_id": f"{world.name}rollout".ljust(32, "0"),
        "channel": f"{world.name}-hook",
        "rule": f"{world.name}-rule",
        "source": f"{world.name}-src",
    }
    ghost = {
        "device": 987654,
        "device_id": 987654,
        "op_id": "0" * 32,
        "token_id": 987654,
        "user_id": 987654,
        "tag": "ghost",
        "ref": "-1",
        "device_name": "ghost",
        "rollout_id": "0" * 32,
        "channel": "ghost",
        "rule": "ghost",
        "source": "ghost",
    }
    by_name = [{**ids, "device": ids["device_name"]} for ids in (real, ghost)]
    return [real, ghost, *by_name]


#: What of beta's may never appear in an answer to alpha (unless alpha sent it).
LEAKS = (
    "beta-r1",
    "beta-site",
    "planned",
    "beta-admin",
    "192.0.2.1",
    "beta-hook",
    "beta-rule",
    "beta-src",
    "beta.example",
    "beta-only",
    "beta-inventory-secret",
)


def fill(path: str, ids: Ids) -> str:
    return path.format(**ids)


@pytest.mark.parametrize(("method", "path"), sorted(BY_ID))
@pytest.mark.parametrize("role", ["admin", "operator", "viewer"])
async def test_ids_of_another_tenant_are_not_found(
    client: httpx.AsyncClient,
    db: Database,
    alpha: TenantWorld,
    beta: TenantWorld,
    method: str,
    path: str,
    role: str,
) -> None:
    before = snapshot(db, beta.id)
    answers: list[int] = []
    for ids in target_ids(beta):
        make = BY_ID[(method, path)]
        kwargs: dict[str, Any] = {"headers": alpha.auth(role)}
        if make is not None:
            kwargs["json"] = make(ids)
        sent = fill(path, ids) + json.dumps(kwargs.get("json"))
        r = await client.request(method, fill(path, ids), **kwargs)
        allowed = (403, 404, 503) if (method, path) in NEEDS_ENGINE else (403, 404)
        assert r.status_code in allowed, (method, path, ids, r.status_code, r.text)
        answers.append(r.status_code)
        # The id or name asked for may be echoed; nothing else of beta's may appear.
        for leak in LEAKS:
            if leak not in sent:
                assert leak not in r.text, (method, path, r.text)
    # beta's real ids and ids that exist nowhere get the same answer (by id, by name):
    # the status tells nothing of what exists
    real, ghost, real_by_name, ghost_by_name = answers
    assert (real, real_by_name) == (ghost, ghost_by_name), (method, path, role, answers)
    assert snapshot(db, beta.id) == before


@pytest.mark.parametrize(("method", "path"), sorted(LISTS))
async def test_lists_show_only_the_callers_tenant(
    client: httpx.AsyncClient,
    db: Database,
    alpha: TenantWorld,
    beta: TenantWorld,
    method: str,
    path: str,
) -> None:
    for mine in (alpha.device_id, alpha.device_name):
        r = await client.request(method, fill(path, {"device": mine}), headers=alpha.auth("admin"))
        assert r.status_code == 200, r.text
        assert LISTS[(method, path)] in r.text
        for secret in (beta.device_name, beta.op_id, "beta-", "beta.example"):
            if secret not in path:
                assert secret not in r.text
    for theirs in (beta.device_id, beta.device_name):
        r = await client.request(
            method, fill(path, {"device": theirs}), headers=alpha.auth("admin")
        )
        assert r.status_code in (200, 404), r.text
        assert beta.op_id not in r.text and "beta-site" not in r.text


@pytest.mark.parametrize(("method", "path"), sorted(CREATES))
async def test_creating_never_touches_another_tenant(
    client: httpx.AsyncClient,
    db: Database,
    alpha: TenantWorld,
    beta: TenantWorld,
    gamma: TenantWorld,
    method: str,
    path: str,
) -> None:
    before = snapshot(db, beta.id), snapshot(db, alpha.id)
    body = CREATES[(method, path)](target_ids(beta)[0])
    r = await client.request(method, path, json=body, headers=gamma.auth("admin"))
    assert r.status_code in (200, 201), r.text  # done in gamma (names are per tenant)
    for leak in LEAKS:  # beta's channel and source names are gamma's own here
        assert leak not in r.text or leak in json.dumps(body), (leak, r.text)
    assert (snapshot(db, beta.id), snapshot(db, alpha.id)) == before


async def test_sse_of_another_tenant_is_404_even_resuming(
    client: httpx.AsyncClient, alpha: TenantWorld, beta: TenantWorld
) -> None:
    r = await client.get(
        f"/api/v1/operations/{beta.op_id}/stream",
        headers={**alpha.auth(), "Last-Event-ID": "0"},
    )
    assert r.status_code == 404 and "planned" not in r.text


#: Every UI route that takes an id (in its path or its form), aimed at beta's ids and at
#: ids that exist nowhere: (method, path, form).
UI_CASES: list[tuple[str, str, dict[str, Any]]] = [
    ("GET", "/devices/{device_id}", {}),
    ("GET", "/devices/{device_id}/diff?old=1&new=2", {}),
    ("GET", "/devices/{device_id}/versions/{ref}", {}),
    ("GET", "/devices/{device_id}/versions/{ref}/download", {}),
    ("POST", "/devices/{device_id}/backup", {}),
    ("POST", "/devices/{device_id}/restore", {"version": "1"}),
    ("POST", "/devices/{device_id}/host-key/accept", {"fingerprint": "SHA256:x"}),
    ("GET", "/operations/{op_id}", {}),
    ("POST", "/operations/{op_id}/confirm", {}),
    ("POST", "/operations/{op_id}/recheck", {}),
    ("POST", "/operations/{op_id}/revert", {}),
    ("GET", "/rollouts/{rollout_id}", {}),
    ("POST", "/rollouts/{rollout_id}/continue", {}),
    ("POST", "/rollouts/{rollout_id}/abort", {}),
    ("POST", "/users/{user_id}/disable", {}),
    ("POST", "/users/{user_id}/enable", {}),
    ("POST", "/tokens/{token_id}/revoke", {}),
    ("POST", "/notifications/test", {"name": "{rule}"}),
    ("POST", "/notifications/test", {"name": "{channel}"}),
    ("POST", "/schedules/remove", {"tag": "{tag}"}),
    ("POST", "/push", {"action": "preview", "device": "{device_id}", "script": SCRIPT}),
    ("POST", "/rollouts", {"action": "plan", "names": "{device_name}", "script": SCRIPT}),
]


def test_every_ui_route_with_an_id_has_a_case() -> None:
    """Read from the UI's own route tables: a new page with an id fails here first."""
    pages = [*web_routes.ROUTES, *web_rollouts.ROUTES, *web_accounts.ROUTES]
    pages += web_notifications.ROUTES
    with_id = {(m, p) for p, _, methods in pages for m in methods if "{" in p}
    assert len(with_id) > 10
    assert with_id <= {(m, p.split("?")[0]) for m, p, _ in UI_CASES}


@pytest.mark.parametrize(("method", "path", "form"), UI_CASES)
async def test_ui_pages_of_another_tenant_are_not_found(
    client: httpx.AsyncClient,
    db: Database,
    alpha: TenantWorld,
    beta: TenantWorld,
    method: str,
    path: str,
    form: dict[str, Any],
) -> None:
    r = await client.post(
        "/login",
        data={"username": alpha.users["admin"], "password": "correct-horse-battery"},
    )
    assert r.status_code == 303
    found = re.search(r'name="csrf_token" value="([^"]+)"', (await client.get("/")).text)
    assert found
    before = snapshot(db, beta.id)
    answers = []
    for ids in target_ids(beta)[:2]:  # the UI names routers by id
        ids = {**ids, "device_id": ids["device"]}
        data = {k: fill(v, ids) for k, v in form.items()}
        if method == "POST":
            r = await client.post(fill(path, ids), data={"csrf_token": found.group(1), **data})
        else:
            r = await client.get(fill(path, ids))
        assert r.status_code in (403, 404, 422, 503), (path, ids, r.status_code)
        answers.append(r.status_code)
        sent = fill(path, ids) + json.dumps(data)
        for leak in LEAKS:
            if leak not in sent:
                assert leak not in r.text, (path, leak)
    assert answers[0] == answers[1], (path, answers)  # beta's ids as if none existed
    assert snapshot(db, beta.id) == before
    r = await client.get("/")
    assert r.status_code == 200 and alpha.device_name in r.text and beta.device_name not in r.text


async def test_workers_count_only_the_callers_pushes(
    client: httpx.AsyncClient, db: Database, alpha: TenantWorld, beta: TenantWorld
) -> None:
    """The workers are the controller's and shared: a tenant's admin sees each one, but
    the pushes it holds are counted for the caller's tenant only (two pending push
    workflows on one worker, one of each tenant's: alpha's admin counts one). It takes
    them away again: other tests list the workers too."""
    with db.transaction() as s:
        now = utcnow()
        s.add(
            Worker(
                id="shared-worker",
                host="controller-1",
                pid=4242,
                data_dir="/var/lib/tikguard",
                version="test",
                incarnation="1",
                started_at=now,
                heartbeat_at=now,
            )
        )
    engine = create_engine(db.settings.dbos_database_url())
    stamp = int(utcnow().timestamp() * 1000)
    try:
        with engine.begin() as conn:
            for op_id in (alpha.op_id, beta.op_id):  # how a worker's engine records a push
                conn.execute(
                    text(
                        "INSERT INTO workflow_status (workflow_uuid, status, name, "
                        "executor_id, created_at, updated_at, priority) "
                        "VALUES (:id, 'PENDING', :name, 'shared-worker', :t, :t, 0)"
                    ),
                    {"id": op_id, "name": PUSH_WORKFLOW, "t": stamp},
                )
        r = await client.get("/api/v1/workers", headers=alpha.auth("admin"))
        assert r.status_code == 200, r.text
        assert [(w["id"], w["pushes_in_flight"]) for w in r.json()] == [("shared-worker", 1)]
        r = await client.get("/api/v1/workers", headers=alpha.auth("operator"))
        assert r.status_code == 403
        every = await fleet_workers.workers(db.settings, db, tenant_id=None)  # operator's CLI
        assert [(w.id, w.pushes_in_flight) for w in every] == [("shared-worker", 2)]
    finally:
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM workflow_status WHERE executor_id = 'shared-worker'"))
        engine.dispose()
        with db.transaction() as s:
            s.execute(delete(Worker).where(Worker.id == "shared-worker"))


@pytest.mark.parametrize(
    "selector",
    [
        Selector(names=["beta-r1"]),
        Selector(site="beta-site"),
        Selector(all=True, match="beta"),
    ],
)
async def test_rollout_writes_find_only_the_callers_rollouts(
    app: FastAPI, db: Database, alpha: TenantWorld, beta: TenantWorld, selector: Selector
) -> None:
    """What ``POST /rollouts``, ``.../abort`` and ``.../continue`` call (answered 503
    above, before any lookup, by an app without an engine): another tenant's rollout is
    not found and its routers are never targets, whoever is named and however."""
    before = snapshot(db, beta.id)
    beta_rollout = target_ids(beta)[0]["rollout_id"]
    for call in (rollouts.abort, rollouts.continue_):
        for rollout_id in (beta_rollout, beta_rollout[:8]):  # whole id, or a prefix
            with pytest.raises(NotFound) as found:
                await call(db, db.settings, alpha.id, rollout_id, "token:alpha-admin")
            assert "beta-" not in str(found.value)
    request = rollouts.RolloutRequest(selector=selector, source=SCRIPT, requested_by="test")
    with pytest.raises((NotFound, InvalidInput)) as refused:
        await asyncio.to_thread(rollouts.create, db, db.settings, alpha.id, request)
    for leak in LEAKS:
        if leak not in repr(selector):
            assert leak not in str(refused.value), str(refused.value)
    assert snapshot(db, beta.id) == before


async def test_metrics_are_the_controller_operators(
    settings: Settings, db: Database, app: FastAPI, alpha: TenantWorld
) -> None:
    """``/metrics`` is system-wide by design (every tenant's series, labelled with the
    tenant's name): only the controller's metrics token opens it, never a tenant's
    token of any role nor a UI session (docs/security.md)."""
    scraped = create_app(settings.with_(metrics_token="operator-token"), db=db, engine=False)
    transport = httpx.ASGITransport(app=scraped, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://tikguard.test") as c:
        for role in ("admin", "operator", "viewer"):
            r = await c.get("/metrics", headers=alpha.auth(role))
            assert r.status_code == 401 and "tenant=" not in r.text, r.text
        r = await c.post("/login", data={"username": alpha.users["admin"], "password": PASSWORD})
        assert r.status_code == 303
        r = await c.get("/metrics")
        assert r.status_code == 401 and "tenant=" not in r.text
        r = await c.get("/metrics", headers={"Authorization": "Bearer operator-token"})
        assert r.status_code == 200
        assert 'tenant="alpha"' in r.text and 'tenant="beta"' in r.text


async def test_a_rollout_by_tag_or_all_plans_only_the_callers_routers(
    app: FastAPI, db: Database, alpha: TenantWorld, beta: TenantWorld
) -> None:
    """Both tenants tag their router ``core``: alpha's plan by that tag, by every router
    or by a pattern both configurations hold, plans alpha's router alone."""
    both = (Selector(tag="core"), Selector(all=True), Selector(all=True, match="192.0.2.1"))
    for selector in both:
        request = rollouts.RolloutRequest(selector=selector, source=SCRIPT, requested_by="t")
        planned = json.dumps((await rollouts.plan(db, db.settings, alpha.id, request)).as_json())
        assert alpha.device_name in planned
        assert beta.device_name not in planned and "beta-site" not in planned, planned


async def test_ui_pages_without_an_id_show_only_the_callers_tenant(
    client: httpx.AsyncClient, app: FastAPI, alpha: TenantWorld, beta: TenantWorld
) -> None:
    """Every UI page without an id (read from the UI's route tables: the fleet,
    operations, rollouts, schedules, users, notifications, push ...) holds nothing of
    beta's, for alpha's admin who sees the most."""
    pages = [*web_routes.ROUTES, *web_rollouts.ROUTES, *web_accounts.ROUTES]
    pages += web_notifications.ROUTES
    listed = sorted({p for p, _, methods in pages if "GET" in methods and "{" not in p})
    assert len(listed) > 5
    r = await client.post("/login", data={"username": alpha.users["admin"], "password": PASSWORD})
    assert r.status_code == 303
    for path in listed:
        r = await client.get(path)
        assert r.status_code == 200, (path, r.status_code)
        assert not [leak for leak in LEAKS if leak in r.text], path
