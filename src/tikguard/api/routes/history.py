"""Versions and diffs of a device's configuration (redacted unless an admin asks), as
JSON and as the plain export text a script wants (``.../versions/latest.rsc``)."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Response
from fastapi.responses import PlainTextResponse

from tikguard.api.deps import DeviceId, State, Viewer
from tikguard.api.schemas import DiffOut, VersionOut, VersionTextOut
from tikguard.ops import devices as devices_ops
from tikguard.ops import history
from tikguard.ops.accounts import Principal
from tikguard.server.errors import ApiError
from tikguard.server.refs import check_ref
from tikguard.server.state import AppState
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


@router.get("/devices/{device}/versions", response_model=list[VersionOut])
async def list_versions(
    device_id: DeviceId,
    state: State,
    who: Viewer,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 500,
) -> list[VersionOut]:
    """The device's versions, newest first."""

    def run() -> list[history.VersionInfo]:
        name = devices_ops.name_of(state.db, who.tenant_id, device_id)
        return history.list_history(state.db, who.tenant_id, name, limit=limit)

    return [version_out(v) for v in await asyncio.to_thread(run)]


async def read_version(
    state: AppState, who: Principal, device_id: int, ref: str, with_secrets: bool
) -> history.VersionText:
    """A version's text for this caller: redacted, or with its secrets put back when
    asked for explicitly by a role that may see them (admin; 403 for the others)."""
    if with_secrets and not who.allows(Role.ADMIN.value):
        raise ApiError(403, "only admins may see secrets", "ask without with_secrets")
    ref = check_ref(ref)

    def run() -> history.VersionText:
        name = devices_ops.name_of(state.db, who.tenant_id, device_id)
        return history.show_version(state.db, who.tenant_id, name, ref, with_secrets=with_secrets)

    return await asyncio.to_thread(run)


def config_text(found: history.VersionText) -> PlainTextResponse:
    """A version as ``text/plain``: the export itself, as a script or ``/import`` wants
    it; which version and whether it is redacted ride in headers."""
    headers = {
        "X-Tikguard-Version": str(found.info.seq),
        "X-Tikguard-Redacted": "false" if found.with_secrets else "true",
        "Cache-Control": "no-store",
    }
    if not found.with_secrets:
        headers["ETag"] = f'"{found.info.sha256}"'
    return PlainTextResponse(found.text, headers=headers)


def text_response() -> dict[int | str, dict[str, Any]]:
    """The OpenAPI description of a text answer (a fresh dict: FastAPI keeps it)."""
    return {
        200: {"content": {"text/plain": {}}, "description": "the export, redacted unless asked"}
    }


def _wants_text(accept: str | None) -> bool:
    """``Accept: text/plain`` first (as ``curl -H 'Accept: text/plain'`` sends it)."""
    first = (accept or "").split(",")[0].split(";")[0].strip().lower()
    return first == "text/plain"


@router.get(
    "/devices/{device}/versions/{ref}.rsc",
    response_class=PlainTextResponse,
    responses=text_response(),
)
async def get_version_text(
    device_id: DeviceId,
    ref: str,
    state: State,
    who: Viewer,
    with_secrets: bool = False,
) -> PlainTextResponse:
    """One version's export as plain text (``latest.rsc``, ``-1.rsc``, ``3.rsc``):
    ``curl -H "Authorization: Bearer $T" .../versions/latest.rsc > r1.rsc``. Redacted
    unless an admin adds ``?with_secrets=true``."""
    return config_text(await read_version(state, who, device_id, ref, with_secrets))


@router.get(
    "/devices/{device}/versions/{ref}",
    response_model=VersionTextOut,
    responses={200: {"content": {"text/plain": {}}}},
)
async def get_version(
    device_id: DeviceId,
    ref: str,
    state: State,
    who: Viewer,
    with_secrets: bool = False,
    accept: Annotated[str | None, Header(max_length=1000)] = None,
) -> VersionTextOut | Response:
    """One version's export (``ref``: number, -1 or ``latest``); secrets only for admins.
    With ``Accept: text/plain`` first, the export alone as text (as ``{ref}.rsc``)."""
    found = await read_version(state, who, device_id, ref, with_secrets)
    if _wants_text(accept):
        return config_text(found)
    return VersionTextOut(
        device=found.device,
        version=version_out(found.info),
        with_secrets=found.with_secrets,
        text=found.text,
    )


@router.get("/devices/{device}/diff", response_model=DiffOut)
async def diff(
    device_id: DeviceId,
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
