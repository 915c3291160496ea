"""The ASGI application: REST API under ``/api/v1`` and the web UI, one process.

:func:`create_app` builds it for ``tikguard serve`` and for tests. With
``engine=True`` its lifespan launches the durable-workflow engine (DBOS) in the
server's event loop, so pushes and backups started here run here; tests that only
read pass ``engine=False``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from fastapi import APIRouter, FastAPI

from tikguard import __version__
from tikguard.api import docs as api_docs
from tikguard.api import metrics as api_metrics
from tikguard.api.headers import SecurityHeaders
from tikguard.api.routes import (
    admin,
    compliance,
    devices,
    history,
    inventory,
    notify,
    operations,
    oxidized,
    rollouts,
    schedules,
    search,
)
from tikguard.api.schemas import ErrorBody
from tikguard.logs import get_logger
from tikguard.ops import metrics, runtime
from tikguard.ops import notify as notify_ops
from tikguard.ops.cluster import ClusterError
from tikguard.server import errors
from tikguard.server.clients import trusted_networks
from tikguard.server.events import EventHub
from tikguard.server.limits import BodyLimit
from tikguard.server.ratelimit import RateLimits
from tikguard.server.sessions import SessionSigner, load_secret
from tikguard.server.state import AppState
from tikguard.server.throttle import LoginThrottle
from tikguard.settings import Settings
from tikguard.store.db import Database

API_PREFIX = "/api/v1"
log = get_logger("tikguard.serve")


def api_router() -> APIRouter:
    router = APIRouter(
        prefix=API_PREFIX,
        responses={
            401: {"model": ErrorBody, "description": "no or bad credentials"},
            403: {"model": ErrorBody, "description": "the role does not allow it"},
            404: {"model": ErrorBody, "description": "not found in your tenant"},
            422: {"model": ErrorBody, "description": "invalid request"},
        },
    )
    for module in (
        admin,
        compliance,
        devices,
        history,
        inventory,
        notify,
        operations,
        rollouts,
        schedules,
        search,
    ):
        router.include_router(module.router)
    return router


def create_app(
    settings: Settings,
    *,
    db: Database | None = None,
    engine: bool = True,
    ui: bool = True,
) -> FastAPI:
    """The app for ``settings``; ``db`` defaults to the settings' (migrated) database."""
    trusted_networks(settings.trusted_proxies)  # a bad setting stops the start, not a login
    if settings.metrics_listen:
        metrics.parse_listen(settings.metrics_listen)  # likewise
    database = db or Database.open(settings)
    state = AppState(
        settings=settings,
        db=database,
        signer=SessionSigner(load_secret(settings.data_dir), settings.session_hours * 3600),
        hub=EventHub(database),
        throttle=LoginThrottle(),
        limits=RateLimits(),
        engine=engine,
    )

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if engine:
            try:
                await runtime.launch(settings)
            except runtime.EngineBusy as exc:
                log.error(
                    "%s: stop it (or wait for its push to end), then start the server again",
                    exc,
                )
                raise
            except ClusterError as exc:
                log.error("%s", exc)
                raise
        stop_metrics = metrics.listen(database, settings) if settings.metrics_listen else None
        try:
            async with contextlib.AsyncExitStack() as stack:
                if engine:
                    await stack.enter_async_context(notify_ops.watching())
                yield
        finally:
            if stop_metrics is not None:
                await asyncio.to_thread(stop_metrics)
            await state.hub.close()
            if engine:
                await runtime.shutdown()
            if db is None:
                database.dispose()

    app = FastAPI(
        title="tikguard",
        version=__version__,
        description=(
            "Safe change for MikroTik RouterOS fleets: versioned backups, semantic diffs "
            "and guarded pushes with an on-device revert timer. Authenticate with "
            "`Authorization: Bearer <token>` (`tikguard token create`)."
        ),
        lifespan=lifespan,
        docs_url=None,  # served from local files by api.docs (no CDN)
        redoc_url=None,
        openapi_url=f"{API_PREFIX}/openapi.json",
    )
    app.state.tikguard = state
    app.include_router(api_router())
    api_metrics.install(app, state, metrics.registry(database, settings))
    app.include_router(oxidized.router)  # /oxidized: what Oxidized's consumers call
    api_docs.install(app, API_PREFIX)
    if ui:
        from tikguard.web.routes import install as install_ui

        install_ui(app)  # also installs the error handlers, with HTML pages for the UI
    else:
        errors.install(app)
    app.add_middleware(BodyLimit, max_bytes=settings.max_upload_bytes)
    app.add_middleware(SecurityHeaders, docs_prefix=f"{API_PREFIX}/docs")
    return app
