"""The web UI's pages: login, fleet, device (timeline, diff, restore), push, operations.

Each page calls the same service layer as the API and the CLI; the routes only read
forms, call ``ops`` and render templates.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import FastAPI, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import UploadFile

from tikguard.ops import accounts, history
from tikguard.ops import backup as backup_ops
from tikguard.ops import devices as devices_ops
from tikguard.ops import fleet as fleet_ops
from tikguard.ops import operations as operations_ops
from tikguard.ops import push as push_ops
from tikguard.server import errors
from tikguard.server.clients import client_address
from tikguard.server.errors import ApiError
from tikguard.server.refs import check_ref
from tikguard.server.sessions import COOKIE
from tikguard.server.state import need_engine
from tikguard.web import accounts as account_pages
from tikguard.web import diffview, fleetview, opsview, timeline
from tikguard.web import notifications as notify_pages
from tikguard.web import rollouts as rollout_pages
from tikguard.web import search as search_pages
from tikguard.web.common import (
    HERE,
    LoginRequired,
    StateDep,
    User,
    check_form,
    login_redirect,
    render,
    render_error,
)


def install(app: FastAPI) -> None:
    """Mount the UI's pages and static files on ``app``."""
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    app.add_exception_handler(LoginRequired, login_redirect)
    errors.install(app, html=render_error)
    pages = [
        *ROUTES,
        *rollout_pages.ROUTES,
        *account_pages.ROUTES,
        *notify_pages.ROUTES,
        *search_pages.ROUTES,
    ]
    for path, endpoint, methods in pages:
        app.add_api_route(
            path, endpoint, methods=methods, include_in_schema=False, response_class=HTMLResponse
        )


def _safe_next(target: str | None) -> str:
    if not target or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


# -- login -------------------------------------------------------------------------------


async def login_page(request: Request, next: str | None = None) -> Response:
    return await render(request, "login.html", None, next=_safe_next(next), error=None, username="")


async def login(
    request: Request,
    state: StateDep,
    username: Annotated[str, Form(max_length=128)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    next: Annotated[str, Form(max_length=500)] = "/",
) -> Response:
    keys = (username, client_address(request, state.settings))
    wait = state.throttle.retry_after(*keys)
    if wait:
        refused = await render(
            request,
            "login.html",
            None,
            status=429,
            next=_safe_next(next),
            error=f"too many wrong passwords: try again in {wait} s",
            username=username,
        )
        refused.headers["Retry-After"] = str(wait)
        return refused
    try:
        who = await asyncio.to_thread(accounts.authenticate, state.db, username, password)
    except accounts.AuthError as exc:
        state.throttle.failed(*keys)
        return await render(
            request,
            "login.html",
            None,
            status=401,
            next=_safe_next(next),
            error=str(exc),
            username=username,  # kept: only the password is typed again
        )
    state.throttle.succeeded(*keys)
    assert who.user_id is not None
    session_id = await asyncio.to_thread(
        accounts.open_session, state.db, who.user_id, state.signer.lifetime
    )
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(
        COOKIE,
        state.signer.issue(who.user_id, session_id),
        max_age=int(state.signer.lifetime),
        httponly=True,
        samesite="lax",
        secure=bool(state.settings.tls_certfile) or state.settings.behind_tls_proxy,
        path="/",
    )
    return response


async def logout(request: Request, state: StateDep, user: User) -> Response:
    await check_form(request, user)
    await asyncio.to_thread(accounts.end_session, state.db, user.session.nonce)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


# -- fleet and devices ---------------------------------------------------------------------


#: Rows per fleet page: a NOC screen reads the summary first, then pages or filters.
FLEET_PAGE = 250


async def fleet_page(
    request: Request,
    state: StateDep,
    user: User,
    tag: Annotated[str | None, Query(max_length=64)] = None,
    site: Annotated[str | None, Query(max_length=128)] = None,
    status: Annotated[str, Query(max_length=32)] = "",
    q: Annotated[str, Query(max_length=200)] = "",
    sort: Annotated[str, Query(max_length=16)] = "name",
    dir: Annotated[str, Query(max_length=4)] = "asc",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    tenant = user.principal.tenant_id
    everyone = await asyncio.to_thread(
        fleet_ops.fleet, state.db, tenant, tag=tag or None, site=site or None
    )
    tags, sites = await asyncio.to_thread(fleet_ops.facets, state.db, tenant)
    sort = sort if sort in fleetview.SORTS else "name"
    rows = fleetview.select(
        everyone, status=status, query=q.strip(), sort=sort, descending=dir == "desc"
    )
    pages = max(1, -(-len(rows) // FLEET_PAGE))
    page = min(page, pages)
    return await render(
        request,
        "fleet.html",
        user,
        rows=rows[(page - 1) * FLEET_PAGE : page * FLEET_PAGE],
        total=len(everyone),
        shown=len(rows),
        counts=fleetview.counts(everyone),
        statuses=fleetview.STATUSES,
        sorts=fleetview.SORTS,
        page=page,
        pages=pages,
        tags=tags,
        sites=sites,
        tag=tag or "",
        site=site or "",
        only=status if status in fleetview.STATUSES else "",
        q=q.strip(),
        sort=sort,
        dir="desc" if dir == "desc" else "asc",
    )


async def fleet_backup(request: Request, state: StateDep, user: User) -> Response:
    """Back up every router the fleet page shows (its tag, site, status and search)."""
    form = await check_form(request, user, "operator")
    tenant = user.principal.tenant_id
    everyone = await asyncio.to_thread(
        fleet_ops.fleet,
        state.db,
        tenant,
        tag=_text(form.get("tag")),
        site=_text(form.get("site")),
    )
    rows = fleetview.select(
        everyone,
        status=str(form.get("status") or ""),
        query=str(form.get("q") or "").strip(),
        sort="name",
        descending=False,
    )
    if not rows:
        raise ApiError(422, "no routers match this view", "clear the filters and try again")
    need_engine(state)
    await backup_ops.start(
        state.db, tenant, [r.id for r in rows], requested_by=user.principal.actor
    )
    return RedirectResponse("/operations?kind=backup", status_code=303)


async def device_page(request: Request, device_id: int, state: StateDep, user: User) -> Response:
    tenant = user.principal.tenant_id
    device = await asyncio.to_thread(devices_ops.get, state.db, tenant, device_id)
    versions = await asyncio.to_thread(
        history.list_history, state.db, tenant, device.name, limit=200
    )
    ops = await asyncio.to_thread(
        operations_ops.list_ops, state.db, tenant, device=device_id, limit=15
    )
    return await render(request, "device.html", user, device=device, versions=versions, ops=ops)


async def diff_page(
    request: Request,
    device_id: int,
    state: StateDep,
    user: User,
    old: Annotated[str, Query(max_length=20)] = "-2",
    new: Annotated[str, Query(max_length=20)] = "-1",
) -> Response:
    tenant = user.principal.tenant_id
    old, new = check_ref(old), check_ref(new, live=True)
    device = await asyncio.to_thread(devices_ops.get, state.db, tenant, device_id)
    versions = await asyncio.to_thread(
        history.list_history, state.db, tenant, device.name, limit=200
    )
    pair = await history.diff_versions(state.db, state.settings, tenant, device.name, old, new)
    rows = diffview.side_by_side(pair.old_text, pair.new_text)
    return await render(
        request,
        "diff.html",
        user,
        device=device,
        versions=versions,
        pair=pair,
        rows=rows,
        lines=diffview.unified(rows),
        gutter=diffview.gutter(rows),
        old=old,
        new=new,
    )


async def _version(
    state: Any, user: Any, device_id: int, ref: str, secrets: bool
) -> history.VersionText:
    """A stored version, redacted unless asked for and the user is an admin (the API's
    rule for ``with_secrets``)."""
    if secrets and not user.can("admin"):
        raise ApiError(403, "only admins may see secrets", "open the version without secrets")
    ref = check_ref(ref)
    tenant = user.principal.tenant_id
    name = await asyncio.to_thread(devices_ops.name_of, state.db, tenant, device_id)
    return await asyncio.to_thread(
        history.show_version, state.db, tenant, name, ref, with_secrets=secrets
    )


async def version_page(
    request: Request,
    device_id: int,
    ref: str,
    state: StateDep,
    user: User,
    secrets: Annotated[bool, Query()] = False,
) -> Response:
    """One stored version, whole, with its facts and a download link."""
    found = await _version(state, user, device_id, ref, secrets)
    device = await asyncio.to_thread(devices_ops.get, state.db, user.principal.tenant_id, device_id)
    return await render(request, "version.html", user, device=device, found=found)


async def version_download(
    request: Request,
    device_id: int,
    ref: str,
    state: StateDep,
    user: User,
    secrets: Annotated[bool, Query()] = False,
) -> Response:
    """The version as an ``.rsc`` file (the export as RouterOS printed it)."""
    found = await _version(state, user, device_id, ref, secrets)
    name = "".join(c if c.isalnum() or c in "-_." else "_" for c in found.device)
    suffix = "-with-secrets" if found.with_secrets else ""
    return Response(
        found.text,
        media_type="text/plain; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{name}-v{found.info.seq}{suffix}.rsc"'
        },
    )


async def device_backup(request: Request, device_id: int, state: StateDep, user: User) -> Response:
    await check_form(request, user, "operator")
    need_engine(state)
    tenant = user.principal.tenant_id
    await asyncio.to_thread(devices_ops.name_of, state.db, tenant, device_id)
    ops = await backup_ops.start(state.db, tenant, [device_id], requested_by=user.principal.actor)
    return RedirectResponse(f"/operations/{ops[0]}", status_code=303)


async def device_restore(request: Request, device_id: int, state: StateDep, user: User) -> Response:
    form = await check_form(request, user, "operator")
    need_engine(state)
    tenant = user.principal.tenant_id
    name = await asyncio.to_thread(devices_ops.name_of, state.db, tenant, device_id)
    req = push_ops.PushRequest(
        devices=[name],
        mode="restore",
        version=_int(form.get("version"), "version"),
        confirm=_confirm(form.get("confirm")),
        window=_window(form.get("window")),
        requested_by=user.principal.actor,
    )
    subs = await operations_ops.submit_push(state.db, state.settings, user.principal, req)
    return RedirectResponse(f"/operations/{subs[0].op_id}", status_code=303)


async def device_accept_key(
    request: Request, device_id: int, state: StateDep, user: User
) -> Response:
    form = await check_form(request, user, "admin")
    await devices_ops.accept_host_key(
        state.db,
        state.settings,
        user.principal.tenant_id,
        device_id,
        str(form.get("fingerprint") or ""),
        actor=user.principal.actor,
    )
    return RedirectResponse(f"/devices/{device_id}", status_code=303)


def _int(value: Any, what: str) -> int:
    try:
        return int(str(value))
    except ValueError:
        raise ApiError(422, f"{what} must be a number") from None


def _window(value: Any) -> float | None:
    if value in (None, ""):
        return None
    try:
        window = float(str(value))
    except ValueError:
        raise ApiError(422, "the revert window must be a number of seconds") from None
    if not 0 < window <= 86_400:
        raise ApiError(422, "the revert window must be between 1 s and a day")
    return window


def _confirm(value: Any) -> str:
    return "manual" if value == "manual" else "auto"


# -- push ----------------------------------------------------------------------------------


async def push_page(request: Request, state: StateDep, user: User) -> Response:
    rows = await asyncio.to_thread(fleet_ops.fleet, state.db, user.principal.tenant_id)
    tags, _ = await asyncio.to_thread(fleet_ops.facets, state.db, user.principal.tenant_id)
    return await render(
        request,
        "push.html",
        user,
        rows=rows,
        tags=tags,
        chosen=set(),
        script="",
        window="",
        confirm="auto",
        previews=None,
    )


async def push_submit(request: Request, state: StateDep, user: User) -> Response:
    """Preview (dry run on each chosen router) or run, depending on the button."""
    form = await check_form(request, user, "operator")
    tenant = user.principal.tenant_id
    raw: Any = form["_form"]
    ids = [_int(v, "device") for v in raw.getlist("device")]
    tag = str(form.get("tag") or "")
    if tag:  # every router with the tag, beside those ticked
        tagged = await asyncio.to_thread(fleet_ops.fleet, state.db, tenant, tag=tag)
        ids = list(dict.fromkeys([*ids, *(r.id for r in tagged)]))
    script = str(form.get("script") or "")
    upload = form.get("file")
    if isinstance(upload, UploadFile) and upload.filename:
        data = await upload.read()
        try:
            script = data.decode("utf-8")
        except UnicodeDecodeError:
            raise ApiError(422, "the uploaded file is not UTF-8 text") from None
    window, confirm = _window(form.get("window")), _confirm(form.get("confirm"))
    rows = await asyncio.to_thread(fleet_ops.fleet, state.db, tenant)
    tags, _ = await asyncio.to_thread(fleet_ops.facets, state.db, tenant)
    context: dict[str, Any] = {
        "rows": rows,
        "tags": tags,
        "chosen": set(ids),
        "script": script,
        "window": form.get("window") or "",
        "confirm": confirm,
    }
    if not ids or not script.strip():
        return await render(
            request,
            "push.html",
            user,
            status=422,
            previews=None,
            error="choose at least one router and give a script",
            **context,
        )
    names = await asyncio.to_thread(devices_ops.names_of, state.db, tenant, ids)
    req = push_ops.PushRequest(
        devices=names,
        mode="merge",
        script=script,
        window=window,
        confirm=confirm,
        requested_by=user.principal.actor,
    )
    if form.get("action") == "run":
        need_engine(state)
        subs = await operations_ops.submit_push(state.db, state.settings, user.principal, req)
        if len(subs) == 1:
            return RedirectResponse(f"/operations/{subs[0].op_id}", status_code=303)
        return RedirectResponse("/operations", status_code=303)
    push_ops.check_request(req, state.settings)
    limit = asyncio.Semaphore(max(1, state.settings.backup_concurrency))

    async def bounded(name: str) -> dict[str, Any]:
        async with limit:  # a preview of 500 routers opens at most this many sessions
            return await _preview(state, tenant, req, name)

    previews = await asyncio.gather(*(bounded(n) for n in names))
    return await render(request, "push.html", user, previews=previews, **context)


async def _preview(state: Any, tenant: int, req: push_ops.PushRequest, name: str) -> dict[str, Any]:
    try:
        found = await push_ops.preview(state.db, state.settings, tenant, req, name)
    except Exception as exc:  # one unreachable router must not hide the others' previews
        return {"device": name, "error": getattr(exc, "message", str(exc)) or type(exc).__name__}
    return {"device": name, "plan": found.plan, "preflight": found.preflight}


# -- operations ----------------------------------------------------------------------------


_KINDS = ("push", "restore", "replace", "backup")
_OUTCOMES = ("committed", "reverted", "failed", "uncertain", "succeeded")


def _choice(value: str, allowed: tuple[str, ...], what: str) -> str | None:
    if not value:
        return None
    if value not in allowed:
        raise ApiError(422, f"unknown {what} {value!r}", f"one of: {', '.join(allowed)}")
    return value


async def operations_page(
    request: Request,
    state: StateDep,
    user: User,
    kind: Annotated[str, Query(max_length=16)] = "",
    outcome: Annotated[str, Query(max_length=16)] = "",
    device: Annotated[str, Query(max_length=128)] = "",
    unfinished: Annotated[bool, Query()] = False,
) -> Response:
    """Operations, newest first, filtered; a request for several routers is one row."""
    tenant = user.principal.tenant_id
    device_id = None
    if device.strip():
        device_id = await asyncio.to_thread(devices_ops.id_of, state.db, tenant, device.strip())
    ops = await asyncio.to_thread(
        operations_ops.list_ops,
        state.db,
        tenant,
        device=device_id,
        kind=_choice(kind, _KINDS, "kind"),
        outcome=_choice(outcome, _OUTCOMES, "outcome"),
        unfinished=unfinished,
        limit=200,
    )
    together = await asyncio.to_thread(operations_ops.requests_of, state.db, tenant, ops)
    return await render(
        request,
        "operations.html",
        user,
        rows=opsview.grouped(ops, together),
        count=len(ops),
        kinds=_KINDS,
        outcomes=_OUTCOMES,
        kind=kind,
        outcome=outcome,
        device=device.strip(),
        unfinished=unfinished,
    )


async def operation_page(request: Request, op_id: str, state: StateDep, user: User) -> Response:
    tenant = user.principal.tenant_id
    op = await asyncio.to_thread(operations_ops.get_op, state.db, tenant, op_id)
    events = await asyncio.to_thread(operations_ops.events, state.db, tenant, op_id)
    drawn = timeline.draw(op, events, state.settings.time_scale)
    return await render(request, "operation.html", user, op=op, events=events, timeline=drawn)


async def operation_confirm(request: Request, op_id: str, state: StateDep, user: User) -> Response:
    await check_form(request, user, "operator")
    need_engine(state)
    await operations_ops.confirm(state.db, state.settings, user.principal, op_id)
    return RedirectResponse(f"/operations/{op_id}", status_code=303)


async def operation_recheck(request: Request, op_id: str, state: StateDep, user: User) -> Response:
    await check_form(request, user, "operator")
    await operations_ops.recheck(state.db, state.settings, user.principal, op_id)
    return RedirectResponse(f"/operations/{op_id}", status_code=303)


async def operation_revert(request: Request, op_id: str, state: StateDep, user: User) -> Response:
    await check_form(request, user, "operator")
    await operations_ops.revert(state.db, state.settings, user.principal, op_id)
    return RedirectResponse(f"/operations/{op_id}", status_code=303)


# -- backup schedules ----------------------------------------------------------------------


async def schedules_page(request: Request, state: StateDep, user: User) -> Response:
    tenant = user.principal.tenant_id
    found = await backup_ops.tenant_schedules(state.settings, tenant)
    tags, _ = await asyncio.to_thread(fleet_ops.facets, state.db, tenant)
    return await render(request, "schedules.html", user, schedules=found, tags=tags)


def _text(value: Any) -> str | None:
    text = str(value or "").strip()
    return text or None


async def schedule_set(request: Request, state: StateDep, user: User) -> Response:
    form = await check_form(request, user, "admin")
    await backup_ops.change_schedule(
        state.db,
        state.settings,
        user.principal.tenant_id,
        tag=_text(form.get("tag")),
        cron=_text(form.get("cron")) or backup_ops.DAILY,
        time_zone=_text(form.get("time_zone")),
        actor=user.principal.actor,
    )
    return RedirectResponse("/schedules", status_code=303)


async def schedule_remove(request: Request, state: StateDep, user: User) -> Response:
    form = await check_form(request, user, "admin")
    await backup_ops.drop_schedule(
        state.db,
        state.settings,
        user.principal.tenant_id,
        tag=_text(form.get("tag")),
        actor=user.principal.actor,
    )
    return RedirectResponse("/schedules", status_code=303)


ROUTES: tuple[tuple[str, Any, list[str]], ...] = (
    ("/login", login_page, ["GET"]),
    ("/login", login, ["POST"]),
    ("/logout", logout, ["POST"]),
    ("/", fleet_page, ["GET"]),
    ("/backup", fleet_backup, ["POST"]),
    ("/devices/{device_id}", device_page, ["GET"]),
    ("/devices/{device_id}/diff", diff_page, ["GET"]),
    ("/devices/{device_id}/versions/{ref}", version_page, ["GET"]),
    ("/devices/{device_id}/versions/{ref}/download", version_download, ["GET"]),
    ("/devices/{device_id}/backup", device_backup, ["POST"]),
    ("/devices/{device_id}/restore", device_restore, ["POST"]),
    ("/devices/{device_id}/host-key/accept", device_accept_key, ["POST"]),
    ("/push", push_page, ["GET"]),
    ("/push", push_submit, ["POST"]),
    ("/operations", operations_page, ["GET"]),
    ("/operations/{op_id}", operation_page, ["GET"]),
    ("/operations/{op_id}/confirm", operation_confirm, ["POST"]),
    ("/operations/{op_id}/recheck", operation_recheck, ["POST"]),
    ("/operations/{op_id}/revert", operation_revert, ["POST"]),
    ("/schedules", schedules_page, ["GET"]),
    ("/schedules", schedule_set, ["POST"]),
    ("/schedules/remove", schedule_remove, ["POST"]),
)
