"""Fleet config search over the tenant's stored configurations."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Query

from tikguard.api.deps import State, Viewer
from tikguard.api.schemas import SearchOut
from tikguard.ops import search as search_ops
from tikguard.routeros.query import MAX_QUERY

router = APIRouter(tags=["search"])


@router.get("/search", response_model=SearchOut)
async def search(
    state: State,
    who: Viewer,
    q: Annotated[str, Query(min_length=1, max_length=MAX_QUERY)],
    regex: bool = False,
    history: bool = False,
    tag: Annotated[str | None, Query(max_length=64)] = None,
    site: Annotated[str | None, Query(max_length=128)] = None,
    max_lines: Annotated[int, Query(ge=1, le=1000)] = search_ops.MAX_LINES,
) -> SearchOut:
    """Routers whose newest configuration (every version with ``history``) matches ``q``:
    ``/ip service name=telnet disabled=no``, ``/ip dns servers~8.8.8.8``, or a regex
    (``regex=true``, or a query that does not start with ``/``)."""
    result = await asyncio.to_thread(
        search_ops.search,
        state.db,
        who.tenant_id,
        q,
        regex=regex,
        history=history,
        tag=tag,
        site=site,
        max_lines=max_lines,
    )
    return SearchOut.model_validate(result, from_attributes=True)
