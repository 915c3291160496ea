"""PostgreSQL row-level security: the second wall behind the query helpers' filters.

With a request's tenant scope set, the database itself hides other tenants' rows and
refuses writes into them -- shown here by dropping the tenant filter from a helper on
purpose (a bug the first wall would have) and watching the API still answer 404.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import DBAPIError
from tests.api.world import TenantWorld, api_settings, build_tenant
from tests.pgtemp import fresh_database

from tikguard.api.app import create_app
from tikguard.ops import compliance
from tikguard.ops import inventory as inventory_ops
from tikguard.ops import notify as notify_ops
from tikguard.store import devices as store_devices
from tikguard.store import scope
from tikguard.store.db import Database
from tikguard.store.errors import NotFound
from tikguard.store.models import Base, Device

pytestmark = pytest.mark.postgres
PG_ENV = "TIKGUARD_TEST_POSTGRES_URL"


@pytest.fixture
def pg_db(tmp_path: Path) -> Iterator[Database]:
    base_url = os.environ.get(PG_ENV, "")
    if not base_url:
        pytest.skip(f"PostgreSQL not configured: set {PG_ENV} (see scripts/pg-start.sh)")
    with fresh_database("tg_rls", base_url) as url:
        db = Database.open(api_settings(tmp_path / "data", database_url=url))
        try:
            with db.engine.connect() as conn:
                superuser = conn.execute(
                    text(
                        "SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user"
                    )
                ).scalar()
            if superuser:
                pytest.skip("the test role bypasses row-level security (superuser or BYPASSRLS)")
            yield db
        finally:
            db.dispose()


def test_scoped_transactions_see_and_touch_only_their_tenant(pg_db: Database) -> None:
    alpha, beta = build_tenant(pg_db, "alpha"), build_tenant(pg_db, "beta")
    with scope.scoped(alpha.id), pg_db.session() as s:
        names = set(s.scalars(select(Device.name)))  # no tenant filter on purpose
    assert names == {alpha.device_name}
    with scope.scoped(alpha.id), pg_db.transaction() as s:
        changed = s.execute(update(Device).where(Device.id == beta.device_id).values(site="x"))
        assert changed.rowcount == 0
    with pytest.raises(DBAPIError), scope.scoped(alpha.id), pg_db.transaction() as s:
        s.add(Device(tenant_id=beta.id, name="smuggled", host="h", port=22, username="u"))
        s.flush()
    with pg_db.session() as s:  # unscoped (workers, CLI): every tenant
        assert set(s.scalars(select(Device.name))) == {alpha.device_name, beta.device_name}


@pytest.fixture
async def pg_client(pg_db: Database) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(pg_db.settings, db=pg_db, engine=False)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        yield client


async def test_a_missing_tenant_filter_is_still_caught(
    pg_db: Database, pg_client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    alpha: TenantWorld = build_tenant(pg_db, "alpha")
    beta: TenantWorld = build_tenant(pg_db, "beta")

    def forgetful_get_device(session: object, tenant_id: int, device_id: int) -> Device:
        found = session.get(Device, device_id)  # type: ignore[attr-defined]
        if found is None:
            raise NotFound(f"device {device_id} does not exist")
        return found  # type: ignore[no-any-return]

    with pg_db.session() as s:  # the first wall is really gone: unscoped, it leaks
        assert forgetful_get_device(s, alpha.id, beta.device_id).name == beta.device_name
    monkeypatch.setattr(store_devices, "get_device", forgetful_get_device)
    r = await pg_client.get(f"/api/v1/devices/{alpha.device_id}", headers=alpha.auth())
    assert r.status_code == 200 and r.json()["name"] == alpha.device_name
    r = await pg_client.get(f"/api/v1/devices/{beta.device_id}", headers=alpha.auth())
    assert r.status_code == 404, r.text
    r = await pg_client.get("/api/v1/devices", headers=alpha.auth())
    assert [d["name"] for d in r.json()] == [alpha.device_name]


def test_every_table_with_a_tenant_is_walled(pg_db: Database) -> None:
    """Every table with a tenant column has row-level security, forced, and a scoped
    session sees none of another tenant's rows in any of them (devices, versions,
    notifications, inventory sources, compliance, the search index ...): a table added
    without its policy fails here."""
    alpha, beta = build_tenant(pg_db, "alpha"), build_tenant(pg_db, "beta")
    hook = notify_ops.WebhookChannel("hook", "https://h.example/")
    notify_ops.add_webhook(pg_db, pg_db.settings, beta.id, hook, actor="t")
    notify_ops.add_rule(pg_db, beta.id, notify_ops.Rule("rule", "hook"), actor="t")
    inventory_ops.add_source(
        pg_db,
        beta.id,
        actor="t",
        name="src",
        kind="http",
        config=inventory_ops.build_config("http", url="https://inv.example/api"),
    )
    rules = "rules:\n  - id: r\n    severity: low\n    must-not: /ip address interface=ether2\n"
    compliance.load_rules(pg_db, beta.id, rules, actor="t")
    tables = [t for t in Base.metadata.sorted_tables if "tenant_id" in t.c]
    assert len(tables) > 15
    with pg_db.session() as s:
        walled = {
            name: (on and forced)
            for name, on, forced in s.execute(
                text(
                    "SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class "
                    "WHERE relname = ANY(:names)"
                ),
                {"names": [t.name for t in tables]},
            )
        }
        policies = set(s.scalars(text("SELECT tablename FROM pg_policies")))
        unscoped = {t.name: s.scalar(select(func.count()).select_from(t)) for t in tables}
    assert walled == {t.name: True for t in tables}
    assert {t.name for t in tables} <= policies
    with scope.scoped(alpha.id), pg_db.session() as s:
        for table in tables:
            seen = s.scalar(
                select(func.count()).select_from(table).where(table.c.tenant_id != alpha.id)
            )
            assert seen == 0, table.name
    # and beta's rows are really there to be hidden
    for name in ("notify_channels", "notify_rules", "inventory_sources", "compliance_rulesets"):
        assert unscoped[name] >= 1, name


async def test_a_tenant_admin_rotates_only_the_tenants_data_key(
    pg_db: Database, pg_client: httpx.AsyncClient
) -> None:
    """Under the request's tenant scope the rotation sees and re-encrypts its own tenant's
    values only; the other tenant's keep opening with its unchanged key."""
    from tikguard.store.operations import finish_operation

    alpha, beta = build_tenant(pg_db, "alpha"), build_tenant(pg_db, "beta")
    r = await pg_client.post("/api/v1/keys/rotate", headers=alpha.auth())
    assert r.status_code == 409 and alpha.op_id[:12] in r.json()["message"], r.text
    with pg_db.transaction() as s:
        finish_operation(s, alpha.id, alpha.op_id, "reverted")
    r = await pg_client.post("/api/v1/keys/rotate", headers=alpha.auth())
    assert r.status_code == 200, r.text
    assert r.json() == {"tenant": "alpha", "old_version": 1, "new_version": 2, "values": 1}
    with scope.scoped(None), pg_db.session() as s:  # the CLI's view: every tenant
        for world in (alpha, beta):
            assert store_devices.get_password(s, world.id, world.device_id) == "router-secret"
        versions = dict(s.execute(text("SELECT name, data_key_version FROM tenants")).all())
    assert versions == {"alpha": 2, "beta": 1}
