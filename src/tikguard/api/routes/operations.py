"""Backups, guarded pushes (push / restore / replace), confirm, and operations with
their events -- as JSON and as a Server-Sent Events stream.

Starting work never holds the request open: the answer is 202 with operation ids at
once, and the work runs in the server's durable engine. Follow it with
``GET /operations/{id}/stream`` (resumable with ``Last-Event-ID``).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import StreamingResponse

from tikguard.api.deps import REVOKED_EVENT, DeviceId, Operator, State, Viewer, still_allowed
from tikguard.api.schemas import (
    Accepted,
    BackupRequest,
    EventOut,
    OperationOut,
    PreviewIn,
    PreviewOut,
    PushBase,
    PushIn,
    ReplaceIn,
    RestoreIn,
)
from tikguard.ops import backup as backup_ops
from tikguard.ops import devices as devices_ops
from tikguard.ops import operations as operations_ops
from tikguard.ops import push as push_ops
from tikguard.ops.accounts import Principal
from tikguard.ops.push.plan import Plan
from tikguard.server.errors import ApiError
from tikguard.server.state import need_engine

router = APIRouter(tags=["operations"])
#: Seconds between keep-alive comments on an idle event stream.
KEEPALIVE = 15.0


@router.post("/backups", response_model=Accepted, status_code=202)
async def start_backup(body: BackupRequest, state: State, who: Operator) -> Accepted:
    """Back up devices (ids or names, a tag, or all); one operation per device."""
    ids = await asyncio.to_thread(
        operations_ops.device_ids, state.db, who.tenant_id, body.devices, body.tag
    )
    if not ids:
        raise ApiError(422, "no devices match", "add devices first, or check the tag")
    need_engine(state)
    ops = await backup_ops.start(state.db, who.tenant_id, ids, requested_by=who.actor)
    return Accepted(operations=ops)


@router.post("/devices/{device}/backup", response_model=Accepted, status_code=202)
async def backup_one(device_id: DeviceId, state: State, who: Operator) -> Accepted:
    await asyncio.to_thread(devices_ops.name_of, state.db, who.tenant_id, device_id)
    need_engine(state)
    ops = await backup_ops.start(state.db, who.tenant_id, [device_id], requested_by=who.actor)
    return Accepted(operations=ops)


async def _submit(state: Any, who: Principal, req: push_ops.PushRequest) -> Accepted:
    push_ops.check_request(req, state.settings)  # the CLI's refusals, in its words, first
    need_engine(state)
    subs = await operations_ops.submit_push(state.db, state.settings, who, req)
    return Accepted(operations=[s.op_id for s in subs])


def _names(state: Any, who: Principal, refs: list[int | str]) -> list[str]:
    """The names of the devices a body names by id or by name, in order (each must be
    in the caller's tenant)."""
    ids = devices_ops.resolve_all(state.db, who.tenant_id, refs)
    return devices_ops.names_of(state.db, who.tenant_id, ids)


def _common(body: PushBase) -> dict[str, Any]:
    return {
        "window": body.window,
        "confirm": body.confirm,
        "checks": [tuple(c) for c in body.checks],
        "idempotency_key": body.idempotency_key,
    }


@router.post("/push", response_model=Accepted, status_code=202)
async def push(body: PushIn, state: State, who: Operator) -> Accepted:
    """Merge a RouterOS snippet into routers, each guarded by an on-device revert timer."""
    names = await asyncio.to_thread(_names, state, who, body.devices)
    req = push_ops.PushRequest(
        devices=names, mode="merge", script=body.script, requested_by=who.actor, **_common(body)
    )
    return await _submit(state, who, req)


@router.post("/restore", response_model=Accepted, status_code=202)
async def restore(body: RestoreIn, state: State, who: Operator) -> Accepted:
    """Make a router's running config equal to one of its stored versions."""
    name = (await asyncio.to_thread(_names, state, who, [body.device]))[0]
    req = push_ops.PushRequest(
        devices=[name],
        mode="restore",
        version=body.version,
        requested_by=who.actor,
        **_common(body),
    )
    return await _submit(state, who, req)


@router.post("/replace", response_model=Accepted, status_code=202)
async def replace(body: ReplaceIn, state: State, who: Operator) -> Accepted:
    """Replace a router's whole configuration with the given export, guarded."""
    name = (await asyncio.to_thread(_names, state, who, [body.device]))[0]
    req = push_ops.PushRequest(
        devices=[name],
        mode="replace",
        script=body.script,
        requested_by=who.actor,
        **_common(body),
    )
    return await _submit(state, who, req)


@router.post("/preview", response_model=PreviewOut)
async def preview(body: PreviewIn, state: State, who: Operator) -> PreviewOut:
    """Dry run on one router: diff, script and risks. Reads the router, writes nothing."""
    name = (await asyncio.to_thread(_names, state, who, [body.device]))[0]
    req = push_ops.PushRequest(
        devices=[name], mode=body.mode, script=body.script, version=body.version, window=body.window
    )
    found = await push_ops.preview(state.db, state.settings, who.tenant_id, req, name)
    plan = found.plan
    return PreviewOut(
        device=name,
        mode=plan.mode,
        diff=plan.diff_text,
        summary=plan.diff_summary,
        risk=[dict(r) for r in plan.risk],
        unsupported=plan.unsupported,
        script=_script_for(plan, who),
        preflight=dict(found.preflight),
        problems=list(found.problems),
    )


def _script_for(plan: Plan, who: Principal) -> str:
    """A restore script carries the version's secrets: only admins see it whole; others
    see it with every secret value hidden."""
    if plan.mode == "restore" and who.allows("admin"):
        return plan.script
    return plan.shown_script


@router.post("/operations/{op_id}/confirm", response_model=OperationOut)
async def confirm(op_id: str, state: State, who: Operator) -> OperationOut:
    """Confirm a manual-confirm push so it commits (if it verified in time)."""
    op = await asyncio.to_thread(operations_ops.get_op, state.db, who.tenant_id, op_id)
    operations_ops.check_confirmable(op)  # the same refusals with or without an engine
    need_engine(state)
    return op_out(await operations_ops.confirm(state.db, state.settings, who, op_id))


@router.post("/operations/{op_id}/recheck", response_model=OperationOut)
async def recheck(op_id: str, state: State, who: Operator) -> OperationOut:
    """Re-prove an ``uncertain`` or abandoned push from the router now, with the same
    evidence rules; a proven outcome replaces ``uncertain`` (409 for a push still
    running or one that ended otherwise)."""
    return op_out(await operations_ops.recheck(state.db, state.settings, who, op_id))


@router.post("/operations/{op_id}/revert", response_model=OperationOut)
async def revert(op_id: str, state: State, who: Operator) -> OperationOut:
    """Fire the revert point of an armed push now: one waiting for its confirm is told to
    revert; an ``uncertain`` one whose timer is still on the router is reverted and
    proven (409 when nothing is armed)."""
    return op_out(await operations_ops.revert(state.db, state.settings, who, op_id))


@router.get("/operations", response_model=list[OperationOut])
async def list_operations(
    state: State,
    who: Viewer,
    device: Annotated[
        str | None, Query(min_length=1, max_length=140, description="device id or name")
    ] = None,
    kind: Annotated[str | None, Query(pattern="^(push|restore|replace|backup)$")] = None,
    outcome: Annotated[
        str | None, Query(pattern="^(committed|reverted|failed|uncertain|succeeded)$")
    ] = None,
    unfinished: bool = False,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[OperationOut]:
    """Newest first. ``?outcome=uncertain`` lists the routers someone has to look at."""
    device_id = (
        None
        if device is None
        else await asyncio.to_thread(devices_ops.resolve, state.db, who.tenant_id, device)
    )
    ops = await asyncio.to_thread(
        lambda: operations_ops.list_ops(
            state.db,
            who.tenant_id,
            device=device_id,
            kind=kind,
            outcome=outcome,
            unfinished=unfinished,
            limit=limit,
        )
    )
    return [op_out(o) for o in ops]


@router.get("/operations/{op_id}", response_model=OperationOut)
async def get_operation(op_id: str, state: State, who: Viewer) -> OperationOut:
    return op_out(await asyncio.to_thread(operations_ops.get_op, state.db, who.tenant_id, op_id))


@router.get("/operations/{op_id}/events", response_model=list[EventOut])
async def list_events(
    op_id: str,
    state: State,
    who: Viewer,
    after: Annotated[int, Query(ge=0, le=2**31)] = 0,
) -> list[EventOut]:
    found = await asyncio.to_thread(operations_ops.events, state.db, who.tenant_id, op_id, after)
    return [EventOut.model_validate(e, from_attributes=True) for e in found]


def op_out(op: operations_ops.OperationInfo) -> OperationOut:
    return OperationOut.model_validate(op, from_attributes=True)


def sse(event: dict[str, Any]) -> str:
    data = json.dumps(event, separators=(",", ":"))
    return f"id: {event['seq']}\nevent: stage\ndata: {data}\n\n"


@router.get(
    "/operations/{op_id}/stream",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "SSE stream"}},
)
async def stream(
    op_id: str,
    request: Request,
    state: State,
    who: Viewer,
    last_event_id: Annotated[str | None, Header(max_length=20)] = None,
    after: Annotated[int, Query(ge=0, le=2**31)] = 0,
) -> StreamingResponse:
    """Server-Sent Events: each stage as it lands, then ``event: end`` with the outcome.

    Reconnecting clients send ``Last-Event-ID`` and get only what they missed.
    """
    op = await asyncio.to_thread(operations_ops.get_op, state.db, who.tenant_id, op_id)
    start = after
    if last_event_id:
        try:
            start = max(0, int(last_event_id))
        except ValueError:
            raise ApiError(400, "Last-Event-ID must be an event number") from None

    async def body() -> AsyncIterator[str]:
        yield "retry: 2000\n\n"
        events = state.hub.listen(who.tenant_id, op.id, start).__aiter__()
        pending: asyncio.Task[dict[str, Any]] | None = None
        try:
            while True:
                if pending is None:
                    pending = asyncio.ensure_future(events.__anext__())
                done, _ = await asyncio.wait({pending}, timeout=KEEPALIVE)
                if not await still_allowed(request, state, who):
                    yield REVOKED_EVENT
                    return
                if not done:
                    if await request.is_disconnected():
                        return
                    yield ": keep-alive\n\n"
                    continue
                try:
                    event = pending.result()
                except StopAsyncIteration:
                    break
                pending = None
                yield sse(event)
            final = await asyncio.to_thread(operations_ops.get_op, state.db, who.tenant_id, op.id)
            end = {"outcome": final.outcome, "state": final.state, "error": final.error}
            yield f"event: end\ndata: {json.dumps(end)}\n\n"
        finally:
            if pending is not None and not pending.done():
                pending.cancel()  # ends the listener (its feed counts one fewer)
                await asyncio.gather(pending, return_exceptions=True)
            await events.aclose()  # type: ignore[attr-defined]

    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(body(), media_type="text/event-stream", headers=headers)
