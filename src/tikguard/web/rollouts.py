"""The web UI's rollout pages: the form (targets, script or template, waves), the fleet
preview grouped by diff, and a rollout's wave board (live over SSE) with continue and
abort. The same rollout service as the API and the CLI."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from tikguard.ops import fleet as fleet_ops
from tikguard.ops import operations as operations_ops
from tikguard.ops.rollout import service as rollouts
from tikguard.ops.rollout.targets import Selector
from tikguard.ops.rollout.waves import parse_waves
from tikguard.server.errors import ApiError
from tikguard.server.state import need_engine
from tikguard.store.errors import InvalidInput
from tikguard.store.models import utcnow
from tikguard.web import timeline
from tikguard.web.common import StateDep, User, check_form, render

_FIELDS = ("names", "tag", "site", "match", "script", "canary", "waves", "window", "max_failures")


def _text(form: dict[str, Any], key: str) -> str:
    return str(form.get(key) or "").strip()


def _number(form: dict[str, Any], key: str, default: float, what: str) -> float:
    raw = _text(form, key)
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError:
        raise ApiError(422, f"{what} must be a number") from None


def _request(form: dict[str, Any], actor: str) -> rollouts.RolloutRequest:
    names = [n for n in _text(form, "names").replace(",", " ").split() if n]
    selector = Selector(
        names=names,
        tag=_text(form, "tag") or None,
        site=_text(form, "site") or None,
        all=form.get("all") == "yes",
        match=_text(form, "match") or None,
    )
    window = _number(form, "window", 0, "the window")
    return rollouts.RolloutRequest(
        selector=selector,
        source=str(form.get("script") or ""),
        template=form.get("template") == "yes",
        canary=int(_number(form, "canary", 1, "the canary")),
        waves=parse_waves(_text(form, "waves") or "100%"),
        approve=form.get("approve") == "yes",
        max_failures=int(_number(form, "max_failures", 0, "max failures")),
        window=window or None,
        requested_by=actor,
    )


async def _form_context(state: Any, tenant: int) -> dict[str, Any]:
    tags, sites = await asyncio.to_thread(fleet_ops.facets, state.db, tenant)
    recent = await asyncio.to_thread(rollouts.list_all, state.db, tenant, 20)
    return {"tags": tags, "sites": sites, "recent": recent}


async def rollouts_page(request: Request, state: StateDep, user: User) -> Response:
    context = await _form_context(state, user.principal.tenant_id)
    form = {"canary": "1", "waves": "100%", "template": "yes"}
    return await render(request, "rollouts.html", user, form=form, plan=None, **context)


async def rollouts_submit(request: Request, state: StateDep, user: User) -> Response:
    """Preview (render and plan every router, grouped by diff) or start."""
    form = await check_form(request, user, "operator")
    tenant = user.principal.tenant_id
    context = await _form_context(state, tenant)
    shown = {k: str(form.get(k) or "") for k in (*_FIELDS, "all", "template", "approve")}
    try:
        req = _request(form, user.principal.actor)
        if form.get("action") == "start":
            need_engine(state)
            rollout_id = await rollouts.start(state.db, state.settings, tenant, req)
            return RedirectResponse(f"/rollouts/{rollout_id}", status_code=303)
        plan = await rollouts.plan(state.db, state.settings, tenant, req)
    except InvalidInput as exc:
        return await render(
            request,
            "rollouts.html",
            user,
            status=422,
            form=shown,
            plan=None,
            error=str(exc),
            **context,
        )
    return await render(
        request, "rollouts.html", user, form=shown, plan=plan, letter=rollouts.letter, **context
    )


async def rollout_page(request: Request, rollout_id: str, state: StateDep, user: User) -> Response:
    tenant = user.principal.tenant_id
    view = await asyncio.to_thread(rollouts.get, state.db, tenant, rollout_id)
    waves = [[t for t in view.targets if t.wave == i] for i in range(len(view.waves))]
    skipped = [t for t in view.targets if t.wave is None]
    pushed = [(t.name, t.wave, t.op_id) for t in view.targets if t.op_id]
    ops = await asyncio.to_thread(
        operations_ops.get_many, state.db, tenant, [op for _, _, op in pushed]
    )
    drawn = timeline.lanes(view.started_at or view.created_at, pushed, ops, utcnow())
    return await render(
        request, "rollout.html", user, rollout=view, waves=waves, skipped=skipped, lanes=drawn
    )


async def rollout_continue(
    request: Request, rollout_id: str, state: StateDep, user: User
) -> Response:
    await check_form(request, user, "operator")
    need_engine(state)
    found = await rollouts.continue_(
        state.db, state.settings, user.principal.tenant_id, rollout_id, user.principal.actor
    )
    return RedirectResponse(f"/rollouts/{found}", status_code=303)


async def rollout_abort(request: Request, rollout_id: str, state: StateDep, user: User) -> Response:
    await check_form(request, user, "operator")
    need_engine(state)
    found = await rollouts.abort(
        state.db, state.settings, user.principal.tenant_id, rollout_id, user.principal.actor
    )
    return RedirectResponse(f"/rollouts/{found}", status_code=303)


ROUTES: tuple[tuple[str, Any, list[str]], ...] = (
    ("/rollouts", rollouts_page, ["GET"]),
    ("/rollouts", rollouts_submit, ["POST"]),
    ("/rollouts/{rollout_id}", rollout_page, ["GET"]),
    ("/rollouts/{rollout_id}/continue", rollout_continue, ["POST"]),
    ("/rollouts/{rollout_id}/abort", rollout_abort, ["POST"]),
)
