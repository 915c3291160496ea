"""Versions and diffs of a device's configuration (redacted unless an admin asks)."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Query

from tikguard.api.deps import PathId, State, Viewer
from tikguard.api.schemas import DiffOut, VersionOut, VersionTextOut
from tikguard.ops import devices as devices_ops
from tikguard.ops import history
from tikguard.server.errors import ApiError
from tikguard.server.refs import check_ref
from tikguard.store.models import Role

router = APIRouter(tags=["versions"])


#: Version numbers beyond this are refused before they reach the database.
def version_out(v: history.VersionInfo) -> VersionOut:
    return VersionOut(
        seq=v.seq,
        created_at=v.created_at,
        last_checked_at=v.last_checked_at,
        trigger=v.trigger,
        ros_version=v.ros_version,
        sha256=v.sha256,
        lines_added=v.lines_added,
        lines_removed=v.lines_removed,
        line_count=v.line_count,
        secrets_count=v.secrets_count,
        operation_id=v.operation_id,
    )


@router.get("/devices/{device_id}/versions", response_model=list[VersionOut])
async def list_versions(
    device_id: PathId,
    state: State,
    who: Viewer,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 500,
) -> list[VersionOut]:
    """The device's versions, newest first."""

    def run() -> list[history.VersionInfo]:
        name = devices_ops.name_of(state.db, who.tenant_id, device_id)
        return history.list_history(state.db, who.tenant_id, name, limit=limit)

    return [version_out(v) for v in await asyncio.to_thread(run)]


@router.get("/devices/{device_id}/versions/{ref}", response_model=VersionTextOut)
async def get_version(
    device_id: PathId,
    ref: str,
    state: State,
    who: Viewer,
    with_secrets: bool = False,
) -> VersionTextOut:
    """One version's export (``ref``: number, -1 or ``latest``); secrets only for admins."""
    if with_secrets and not who.allows(Role.ADMIN.value):
        raise ApiError(403, "only admins may see secrets", "ask without with_secrets")

    ref = check_ref(ref)

    def run() -> history.VersionText:
        name = devices_ops.name_of(state.db, who.tenant_id, device_id)
        return history.show_version(state.db, who.tenant_id, name, ref, with_secrets=with_secrets)

    found = await asyncio.to_thread(run)
    return VersionTextOut(
        device=found.device,
        version=version_out(found.info),
        with_secrets=found.with_secrets,
        text=found.text,
    )


@router.get("/devices/{device_id}/diff", response_model=DiffOut)
async def diff(
    device_id: PathId,
    state: State,
    who: Viewer,
    old: Annotated[str, Query(max_length=20, description="version number or -1")] = "-2",
    new: Annotated[str, Query(max_length=20, description="version number, -1 or live")] = "-1",
) -> DiffOut:
    """Semantic and unified diff between two versions, or a version and the router now."""
    old, new = check_ref(old), check_ref(new, live=True)
    name = await asyncio.to_thread(devices_ops.name_of, state.db, who.tenant_id, device_id)
    found = await history.diff_versions(state.db, state.settings, who.tenant_id, name, old, new)
    return diff_out(found)


def diff_out(found: history.VersionDiff) -> DiffOut:
    return DiffOut(**found.fields())
