"""The fleet list is serialised straight from the rows: the JSON must be exactly what
the response model would give, with every column the fleet shows filled in."""

from __future__ import annotations

import httpx
from pydantic import TypeAdapter
from tests.api.world import TenantWorld

from tikguard.api.routes.devices import summary
from tikguard.api.schemas import DeviceSummary
from tikguard.ops import fleet as fleet_ops
from tikguard.store import devices as store_devices
from tikguard.store import operations as store_ops
from tikguard.store.db import Database
from tikguard.store.models import Device, utcnow


async def test_fleet_json_equals_the_models_dump(
    client: httpx.AsyncClient, db: Database, alpha: TenantWorld
) -> None:
    with db.transaction() as s:
        other = store_devices.add_device(
            s, alpha.id, name="alpha-r0", host="192.0.2.9", username="u", password="p"
        )
        op, _ = store_ops.create_operation(s, alpha.id, kind="restore", device_id=other.id)
        row = s.get(Device, alpha.device_id)
        assert row is not None
        row.last_backup_at, row.last_backup_status = utcnow(), "ok"
        row.model, row.ros_version = "RB5009", "7.16"
    r = await client.get("/api/v1/devices", headers=alpha.auth("viewer"))
    assert r.status_code == 200
    rows = fleet_ops.fleet(db, alpha.id)
    expected = TypeAdapter(list[DeviceSummary]).dump_json([summary(x) for x in rows])
    assert r.content == expected
    body = r.json()
    assert [d["name"] for d in body] == ["alpha-r0", "alpha-r1"]
    first, second = body
    assert first["last_push_operation"] == op.id and first["versions"] == 0
    assert first["tags"] == [] and first["latest_version"] is None and not first["drift"]
    assert second["tags"] == ["core"] and second["versions"] == 2
    assert second["latest_version"] == 2 and second["drift"] is True
    assert second["model"] == "RB5009" and second["last_backup_at"].endswith("Z")
    r = await client.get("/api/v1/devices?limit=1&offset=1", headers=alpha.auth("viewer"))
    assert [d["name"] for d in r.json()] == ["alpha-r1"]
    r = await client.get("/api/v1/devices?tag=core", headers=alpha.auth("viewer"))
    assert [d["name"] for d in r.json()] == ["alpha-r1"]
