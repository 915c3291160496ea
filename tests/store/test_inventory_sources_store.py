"""Inventory sources on both backends: the plan's version count per router (what decides
``remove`` or ``hold``), source secrets bound to their tenant, and a source row that
PostgreSQL's row security keeps inside its tenant."""

from __future__ import annotations

from sqlalchemy import select

from tikguard.ops.inventory import formats
from tikguard.ops.inventory.plan import Defaults, make_plan
from tikguard.store import devices as store_devices
from tikguard.store import scope
from tikguard.store import sources as store_sources
from tikguard.store import versions as store_versions
from tikguard.store.db import Database
from tikguard.store.models import InventorySource, Tenant


def test_removal_waits_for_the_mirror_and_secrets_stay_in_their_tenant(
    db: Database, tenant: Tenant, other_tenant: Tenant
) -> None:
    with db.transaction() as s:
        for name in ("kept", "mirrored", "pending", "empty"):
            store_devices.add_device(
                s, tenant.id, name=name, host=name, username="admin", tags=["source:r"]
            )
        for name in ("mirrored", "pending"):
            device = store_devices.get_device_by_name(s, tenant.id, name)
            version, _ = store_versions.record_backup(
                s,
                tenant.id,
                device.id,
                normalised_redacted_text=f"# {name}\n",
                secrets={},
                ros_version="7.16",
                trigger="manual",
            )
            if name == "mirrored":
                version.mirror_commit = "0" * 40
        store_sources.add_source(
            s, tenant.id, name="r", kind="rancid", config={}, secrets={"password": "pw"}
        )
    parsed = formats.parse_rancid("kept;mikrotik;up\n")
    with db.session() as s:
        plan = make_plan(s, tenant.id, "r", parsed, Defaults(remove=True), check_networks=False)
    assert sorted((c.action, c.device) for c in plan.changes) == [
        ("hold", "pending"),
        ("remove", "empty"),
        ("remove", "mirrored"),
    ]
    with db.session() as s:
        source = store_sources.get_source(s, tenant.id, "r")
        assert store_sources.get_secrets(s, source) == {"password": "pw"}
        assert store_sources.find_source(s, other_tenant.id, "r") is None
    with scope.scoped(other_tenant.id), db.session() as s:
        seen = s.scalars(select(InventorySource.name)).all()
    if db.engine.dialect.name == "postgresql":
        assert seen == []  # row security, even for a query without a tenant filter
