"""The web UI's fleet search box and compliance report: thin pages over the same
``ops.search`` and ``ops.compliance`` functions as the CLI and the API."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import Request
from fastapi.responses import Response

from tikguard.ops import compliance as compliance_ops
from tikguard.ops import search as search_ops
from tikguard.routeros.query import MAX_QUERY
from tikguard.store.errors import InvalidInput
from tikguard.web.common import StateDep, User, render


async def search_page(
    request: Request, state: StateDep, user: User, q: str = "", history: bool = False
) -> Response:
    """A query box and the matching routers with their lines (bad queries: the reason)."""
    result = error = None
    q = q[:MAX_QUERY]
    if q.strip():
        try:
            result = await asyncio.to_thread(
                search_ops.search, state.db, user.principal.tenant_id, q, history=history
            )
        except InvalidInput as exc:
            error = str(exc)
    return await render(
        request, "search.html", user, q=q, history=history, result=result, error=error
    )


async def compliance_page(request: Request, state: StateDep, user: User) -> Response:
    """The compliance report: rules by severity, violating routers and their lines."""
    report = await asyncio.to_thread(compliance_ops.report, state.db, user.principal.tenant_id)
    return await render(request, "compliance.html", user, report=report)


ROUTES: tuple[tuple[str, Any, list[str]], ...] = (
    ("/search", search_page, ["GET"]),
    ("/compliance", compliance_page, ["GET"]),
)
