"""Fleet rollouts: plan (grouped by diff), start, show, list, continue, abort, and a
Server-Sent Events stream of the rollout's progress.

Starting never holds the request open: the answer is 202 with the rollout id, and the
rollout runs in the server's durable engine. ``GET /rollouts/{id}/stream`` sends the
rollout (every router's wave, status and outcome) each time it changes, then
``event: end``; each router's own push streams at ``/operations/{op}/stream``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from tikguard.api.deps import REVOKED_EVENT, Operator, State, Viewer, still_allowed
from tikguard.api.schemas import HealthChecks, Strict
from tikguard.ops.accounts import Principal
from tikguard.ops.rollout import service as rollouts
from tikguard.ops.rollout.records import FINISHED
from tikguard.ops.rollout.targets import MAX_PATTERN, Selector
from tikguard.server.state import need_engine

router = APIRouter(tags=["rollouts"])
#: Seconds between looks at a rollout for its stream, and between keep-alives.
STREAM_POLL = 0.5
KEEPALIVE = 15.0


class RolloutIn(Strict):
    """A rollout: which routers (their union, narrowed by ``match``) and the change."""

    names: list[str] = Field(default_factory=list, max_length=10_000)
    tag: str | None = Field(default=None, max_length=64)
    site: str | None = Field(default=None, max_length=128)
    all: bool = False
    match: str | None = Field(default=None, max_length=MAX_PATTERN)
    script: str = Field(min_length=1, max_length=256 * 1024)
    template: bool = Field(default=False, description="render `script` per router (Jinja2)")
    canary: int = Field(default=1, ge=0, le=10_000)
    waves: list[str] = Field(default_factory=lambda: ["100%"], min_length=1, max_length=20)
    soak: float = Field(default=0, ge=0, le=7 * 86_400, description="seconds between waves")
    approve: bool = Field(default=False, description="wait for continue before each wave")
    max_failures: int = Field(default=0, ge=0)
    max_failure_percent: float | None = Field(default=None, ge=0, le=100)
    window: float | None = Field(default=None, gt=0, le=86_400)
    checks: HealthChecks = Field(default_factory=list)

    def request(self, who: Principal) -> rollouts.RolloutRequest:
        return rollouts.RolloutRequest(
            selector=Selector(self.names, self.tag, self.site, self.all, self.match),
            source=self.script,
            template=self.template,
            canary=self.canary,
            waves=self.waves,
            soak=self.soak,
            approve=self.approve,
            max_failures=self.max_failures,
            max_failure_percent=self.max_failure_percent,
            window=self.window,
            checks=self.checks,
            requested_by=who.actor,
        )


class RolloutStarted(BaseModel):
    id: str


@router.post("/rollouts/plan")
async def plan(body: RolloutIn, state: State, who: Operator) -> dict[str, Any]:
    """Render and plan every router against its stored config, grouped by identical
    diff, with risk tags and why any router cannot be planned. Writes nothing."""
    fleet = await rollouts.plan(state.db, state.settings, who.tenant_id, body.request(who))
    return fleet.as_json()


@router.post("/rollouts", response_model=RolloutStarted, status_code=202)
async def start(body: RolloutIn, state: State, who: Operator) -> RolloutStarted:
    """Start a rollout: canary, waves, halt at the first outcome other than committed."""
    need_engine(state)
    rollout_id = await rollouts.start(state.db, state.settings, who.tenant_id, body.request(who))
    return RolloutStarted(id=rollout_id)


@router.get("/rollouts")
async def list_rollouts(
    state: State, who: Viewer, limit: Annotated[int, Query(ge=1, le=500)] = 50
) -> list[dict[str, Any]]:
    """Newest first."""
    views = await asyncio.to_thread(rollouts.list_all, state.db, who.tenant_id, limit)
    return [v.as_json() for v in views]


@router.get("/rollouts/{rollout_id}")
async def show(rollout_id: str, state: State, who: Viewer) -> dict[str, Any]:
    """The rollout with every router's wave, status, outcome, evidence and operation."""
    view = await asyncio.to_thread(rollouts.get, state.db, who.tenant_id, rollout_id)
    return view.as_json()


@router.post("/rollouts/{rollout_id}/continue")
async def continue_(rollout_id: str, state: State, who: Operator) -> dict[str, Any]:
    """Let a rollout waiting at a gate (approve, or halted) go on."""
    need_engine(state)
    found = await rollouts.continue_(state.db, state.settings, who.tenant_id, rollout_id, who.actor)
    return {"id": found, "sent": "continue"}


@router.post("/rollouts/{rollout_id}/abort")
async def abort(rollout_id: str, state: State, who: Operator) -> dict[str, Any]:
    """Start no new pushes; those in flight end with their proof."""
    need_engine(state)
    found = await rollouts.abort(state.db, state.settings, who.tenant_id, rollout_id, who.actor)
    return {"id": found, "sent": "abort"}


@router.get(
    "/rollouts/{rollout_id}/stream",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "SSE stream"}},
)
async def stream(rollout_id: str, request: Request, state: State, who: Viewer) -> StreamingResponse:
    """Server-Sent Events: ``event: rollout`` with the whole rollout whenever it changes,
    then ``event: end`` once it has completed or been aborted."""
    first = await asyncio.to_thread(rollouts.get, state.db, who.tenant_id, rollout_id)

    async def body() -> AsyncIterator[str]:
        yield "retry: 2000\n\n"
        last = ""
        quiet = 0.0
        view = first
        while True:
            data = json.dumps(view.as_json(), separators=(",", ":"))
            if data != last and not await still_allowed(request, state, who):
                yield REVOKED_EVENT
                return
            if data != last:
                last, quiet = data, 0.0
                yield f"event: rollout\ndata: {data}\n\n"
            if view.state in FINISHED:
                yield f"event: end\ndata: {json.dumps({'state': view.state})}\n\n"
                return
            await asyncio.sleep(STREAM_POLL)
            quiet += STREAM_POLL
            if quiet >= KEEPALIVE:
                if await request.is_disconnected():
                    return
                if not await still_allowed(request, state, who):
                    yield REVOKED_EVENT
                    return
                quiet = 0.0
                yield ": keep-alive\n\n"
            view = await asyncio.to_thread(rollouts.get, state.db, who.tenant_id, first.id)

    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(body(), media_type="text/event-stream", headers=headers)
