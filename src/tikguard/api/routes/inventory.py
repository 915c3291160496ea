"""Inventory sources of the caller's tenant: viewers list them, admins add, remove and
sync them (a dry-run answers the plan and changes nothing).

Only HTTP JSON sources are added here: a file source reads a path on the controller,
which is the controller operator's to choose (``tikguard inventory source add`` on its
CLI); an admin can still sync it. Header values (an API token) and the default router
password are write-only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel, Field
from pydantic_core import to_json

from tikguard.api.deps import Admin, State, Viewer
from tikguard.api.routes.schedules import engine_database
from tikguard.api.schemas import Strict
from tikguard.ops import inventory as inv
from tikguard.server.errors import ApiError, error_body

router = APIRouter(tags=["inventory"])

SourceName = Annotated[str, Path(min_length=1, max_length=48)]


class SourceIn(Strict):
    name: str = Field(min_length=1, max_length=48)
    #: Only ``http`` here (file sources are the controller operator's).
    kind: str = Field(default="http", pattern="^http$")
    url: str = Field(min_length=1, max_length=2048)
    #: Field -> dotted path (``name``, ``ip``, ``port``, ``username``, ``password``,
    #: ``model``, ``group``, ``site``, ``tags``); default ``{"name": "name"}``.
    map: dict[str, str] | None = None
    vars_map: dict[str, str] = Field(default_factory=dict)
    #: Accepted models when ``model`` is mapped (default routeros, mikrotik); [] any.
    models: list[str] | None = None
    hosts_location: str | None = Field(default=None, max_length=200)
    pagination: bool = False
    pagination_key: str = Field(default="next", min_length=1, max_length=64)
    #: Sent with every request, stored encrypted, never returned (an API token).
    headers: dict[str, str] = Field(default_factory=dict)
    insecure: bool = False
    timeout: float = Field(default=60.0, ge=1, le=600)
    username: str | None = Field(default=None, max_length=128)
    port: int | None = Field(default=None, ge=1, le=65535)
    site: str | None = Field(default=None, max_length=128)
    tags: list[str] = Field(default_factory=list)
    #: Default router password (stored encrypted, never returned).
    password: str | None = Field(default=None, max_length=1024)
    remove_missing: bool = False
    #: Cron expression: sync on this schedule (at least the minimum interval apart).
    every: str | None = Field(default=None, min_length=1, max_length=120)
    time_zone: str | None = Field(default=None, min_length=1, max_length=64)


class SourceOut(BaseModel):
    name: str
    kind: str
    location: str
    config: dict[str, Any]
    schedule: str | None
    last_sync_at: datetime | None
    last_sync: dict[str, Any] | None


def _out(view: inv.SourceView, cron: str | None) -> SourceOut:
    config = {k: v for k, v in view.config.items() if k != "url"}
    return SourceOut(
        name=view.name,
        kind=view.kind,
        location=view.location,
        config=config,
        schedule=cron,
        last_sync_at=view.last_sync_at,
        last_sync=view.last_sync,
    )


@router.get("/inventory/sources", response_model=list[SourceOut])
async def list_sources(state: State, who: Viewer) -> list[SourceOut]:
    """The tenant's sources with their schedule and last sync (never a secret)."""
    views = inv.list_sources(state.db, who.tenant_id)
    with engine_database():
        crons = await inv.sync_schedules(state.settings, who.tenant_id) if views else {}
    return [_out(v, crons.get(v.name)) for v in views]


@router.post("/inventory/sources", response_model=SourceOut, status_code=201)
async def add_source(body: SourceIn, state: State, who: Admin) -> SourceOut:
    """Add an HTTP JSON source (Oxidized http-source semantics; NetBox's device API)."""
    config = inv.build_config(
        "http",
        url=body.url,
        mapping=body.map,
        vars_map=body.vars_map,
        models=body.models,
        hosts_location=body.hosts_location,
        pagination=body.pagination,
        pagination_key=body.pagination_key,
        insecure=body.insecure,
        timeout=body.timeout,
        header_names=list(body.headers),
        username=body.username,
        port=body.port,
        site=body.site,
        tags=body.tags,
        remove=body.remove_missing,
        has_password=body.password is not None,
    )
    with engine_database():
        view = await inv.create_source(
            state.db,
            state.settings,
            who.tenant_id,
            actor=who.actor,
            name=body.name,
            kind="http",
            config=config,
            headers=body.headers,
            password=body.password,
            every=body.every,
            time_zone=body.time_zone,
        )
    return _out(view, body.every)


@router.delete("/inventory/sources/{name}", status_code=204)
async def remove_source(name: SourceName, state: State, who: Admin) -> Response:
    """Forget a source and its schedule; the routers it added stay."""
    with engine_database():
        await inv.delete_source(state.db, state.settings, who.tenant_id, name, actor=who.actor)
    return Response(status_code=204)


@router.post("/inventory/sources/{name}/sync")
async def sync_source(
    name: SourceName,
    state: State,
    who: Admin,
    dry_run: Annotated[bool, Query()] = False,
) -> Response:
    """Sync now: the plan (add/update/remove/...), applied unless ``dry_run``. Wrong
    rows: 422 with the plan and every row's error, nothing changed. A source that
    cannot be read: 502, nothing changed."""
    try:
        plan = await inv.sync(
            state.db, state.settings, who.tenant_id, name, actor=who.actor, dry_run=dry_run
        )
    except inv.SyncRefused as exc:
        plan = exc.plan
    except inv.SourceUnavailable as exc:
        raise ApiError(502, str(exc), exc.hint) from None
    body = {**plan.as_json(), "dry_run": dry_run, "applied": not dry_run and not plan.errors}
    if plan.errors:
        body = error_body(
            422,
            f"{len(plan.errors)} row(s) of {name} are wrong: nothing was changed",
            "fix them in the source; every row's error is in errors",
            **body,
        )
    return Response(
        to_json(body), status_code=422 if plan.errors else 200, media_type="application/json"
    )
