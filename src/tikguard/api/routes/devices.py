"""Devices: inventory (credentials write-only), the fleet view, probe."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from pydantic_core import to_json

from tikguard.api.deps import Admin, DeviceId, Operator, State, Viewer
from tikguard.api.schemas import (
    DeviceCreate,
    DeviceDetail,
    DeviceImport,
    DeviceSummary,
    DeviceUpdate,
    HostKeyAccept,
    HostKeyOut,
    ImportOut,
    ProbeResult,
)
from tikguard.ops import devices as devices_ops
from tikguard.ops import fleet as fleet_ops
from tikguard.ops.devices import DeviceView, probe_device

router = APIRouter(tags=["devices"])


def detail(v: DeviceView) -> DeviceDetail:
    return DeviceDetail(
        id=v.id,
        name=v.name,
        host=v.host,
        port=v.port,
        username=v.username,
        has_password=v.has_password,
        tags=list(v.tags),
        site=v.site,
        host_key_fingerprint=v.host_key_fingerprint,
        pending_host_key_fingerprint=v.pending_host_key_fingerprint,
        ros_version=v.ros_version,
        model=v.model,
        board=v.board,
        last_backup_at=v.last_backup_at,
        last_backup_status=v.last_backup_status,
        last_backup_error=v.last_backup_error,
    )


def summary(r: fleet_ops.FleetRow) -> DeviceSummary:
    return DeviceSummary(**r.fields())


@router.get("/devices", response_model=list[DeviceSummary])
async def list_devices(
    state: State,
    who: Viewer,
    tag: Annotated[str | None, Query(max_length=64)] = None,
    site: Annotated[str | None, Query(max_length=128)] = None,
    limit: Annotated[int, Query(ge=1, le=100_000)] = 100_000,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> Response:
    """The fleet: every device with last backup, last push outcome and drift, by name
    (``limit``/``offset`` to page through a large fleet)."""

    def run() -> bytes:
        rows = fleet_ops.fleet(state.db, who.tenant_id, tag=tag, site=site)
        return to_json([r.fields() for r in rows[offset : offset + limit]])

    # Serialised once here, straight from the rows: building 1,000 validated models first
    # cost more than the query (tests/api check the JSON equals the models' own dump).
    return Response(await asyncio.to_thread(run), media_type="application/json")


@router.post("/devices", response_model=DeviceDetail, status_code=201)
async def add_device(body: DeviceCreate, state: State, who: Admin) -> DeviceDetail:
    """Add a router; its password is stored encrypted and never returned."""
    state.limits.take(who.tenant_id, "device.add")
    fields: dict[str, Any] = body.model_dump(exclude={"password"})
    view = await asyncio.to_thread(
        lambda: devices_ops.add(
            state.db, who.tenant_id, actor=who.actor, password=body.password, **fields
        )
    )
    return detail(view)


@router.post("/devices/import", response_model=ImportOut)
async def import_devices(body: DeviceImport, state: State, who: Admin) -> ImportOut:
    """Import an inventory CSV in one transaction (``tikguard device import`` does the
    same): routers that exist are skipped, or changed with ``update``; a row without a
    password is stored without one; one ``device.import`` audit row. Every address must
    be in the tenant's management networks."""
    state.limits.take(who.tenant_id, "device.add")

    def run() -> ImportOut:
        rows = devices_ops.parse_inventory(body.csv, source="csv")
        report = devices_ops.import_rows(
            state.db, who.tenant_id, rows, actor=who.actor, update=body.update
        )
        return ImportOut(added=report.added, updated=report.updated, skipped=report.skipped)

    return await asyncio.to_thread(run)


@router.get("/devices/{device}", response_model=DeviceDetail)
async def get_device(device_id: DeviceId, state: State, who: Viewer) -> DeviceDetail:
    return detail(await asyncio.to_thread(devices_ops.get, state.db, who.tenant_id, device_id))


@router.patch("/devices/{device}", response_model=DeviceDetail)
async def update_device(
    device_id: DeviceId, body: DeviceUpdate, state: State, who: Admin
) -> DeviceDetail:
    """Change a device; fields left out stay as they are (``password: null`` clears it)."""
    if body.host is not None or body.port is not None:
        state.limits.take(who.tenant_id, "device.add")
    given = body.model_dump(exclude_unset=True)
    changes = {k: v for k, v in given.items() if k != "password"}
    for key in ("host", "port", "username"):
        if key in changes and changes[key] is None:
            del changes[key]
    kwargs: dict[str, Any] = dict(changes)
    if "password" in given:
        kwargs["password"] = given["password"]
    view = await asyncio.to_thread(
        lambda: devices_ops.update(state.db, who.tenant_id, device_id, actor=who.actor, **kwargs)
    )
    return detail(view)


@router.delete("/devices/{device}", status_code=204)
async def remove_device(device_id: DeviceId, state: State, who: Admin) -> Response:
    await asyncio.to_thread(
        lambda: devices_ops.remove(state.db, who.tenant_id, device_id, actor=who.actor)
    )
    return Response(status_code=204)


@router.post("/devices/{device}/probe", response_model=ProbeResult)
async def probe(device_id: DeviceId, state: State, who: Operator) -> ProbeResult:
    """Connect now (pinned host key), read the router's facts and record them."""
    name = await asyncio.to_thread(devices_ops.name_of, state.db, who.tenant_id, device_id)
    state.limits.take(who.tenant_id, "device.probe")
    facts = await probe_device(state.db, state.settings, who.tenant_id, device_id)
    return ProbeResult(
        device=name,
        version=facts.version,
        identity=facts.identity,
        board=facts.resource.board,
        architecture=facts.resource.architecture,
        uptime_seconds=facts.resource.uptime_seconds,
        free_bytes=facts.resource.free_bytes,
        device_mode=facts.device_mode,
        scheduler_allowed=facts.scheduler_allowed,
        policies=sorted(facts.policies) if facts.policies is not None else None,
    )


@router.get("/devices/{device}/host-key", response_model=HostKeyOut)
async def host_key(device_id: DeviceId, state: State, who: Admin) -> HostKeyOut:
    """The key the router presents (or presented during an operation), to compare."""
    offer = await devices_ops.host_key_offer(state.db, state.settings, who.tenant_id, device_id)
    return HostKeyOut(
        device=offer.device,
        pinned_fingerprint=offer.old_fingerprint,
        offered_fingerprint=offer.new_fingerprint,
        seen_during_operation=offer.recorded,
    )


@router.post("/devices/{device}/host-key/accept", response_model=DeviceDetail)
async def accept_host_key(
    device_id: DeviceId, body: HostKeyAccept, state: State, who: Admin
) -> DeviceDetail:
    """Pin the router's new host key; ``fingerprint`` must be the one offered now."""
    view = await devices_ops.accept_host_key(
        state.db, state.settings, who.tenant_id, device_id, body.fingerprint, actor=who.actor
    )
    return detail(view)
