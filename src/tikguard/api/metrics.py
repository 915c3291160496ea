"""``GET /metrics``: Prometheus text format, for a scraper holding the metrics token.

The numbers are cluster-wide and come from the database (see
:mod:`tikguard.ops.metrics`), so they are not a tenant's: the token is the
controller operator's (``TIKGUARD_METRICS_TOKEN``), not an API token. Without a token
set this path answers 404; ``TIKGUARD_METRICS_LISTEN`` serves the same page on a
separate address without one.
"""

from __future__ import annotations

import asyncio
import hmac

from fastapi import FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from tikguard.server.state import AppState

PATH = "/metrics"


def _plain(status: int, text: str) -> Response:
    """A scraper reads a status and a line, never the UI's login page."""
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return Response(text + "\n", status_code=status, media_type="text/plain", headers=headers)


def install(app: FastAPI, state: AppState, registry: CollectorRegistry) -> None:
    """Mount ``/metrics`` on ``app``."""

    async def metrics(request: Request) -> Response:
        token = state.settings.metrics_token
        if not token:
            return _plain(
                404,
                "metrics are not served here: set TIKGUARD_METRICS_TOKEN (and scrape with it) "
                "or TIKGUARD_METRICS_LISTEN",
            )
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip(), token):
            return _plain(401, "metrics need 'Authorization: Bearer <metrics token>'")
        body = await asyncio.to_thread(generate_latest, registry)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    app.add_api_route(PATH, metrics, methods=["GET"], include_in_schema=False)
