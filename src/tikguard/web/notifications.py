"""The web UI's notifications page: the tenant's channels, rules and latest delivery
attempts, with a test button per rule. Channels and rules are added with the CLI or the
API (``tikguard notify add ...``); the same notification service serves all three."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import Request
from fastapi.responses import Response

from tikguard.ops import notify as notify_ops
from tikguard.web.common import StateDep, User, check_form, render


async def notifications_page(
    request: Request, state: StateDep, user: User, tested: Any = None
) -> Response:
    tenant = user.principal.tenant_id
    channels = await asyncio.to_thread(notify_ops.list_channels, state.db, tenant)
    rules = await asyncio.to_thread(notify_ops.list_rules, state.db, tenant)
    attempts = await asyncio.to_thread(lambda: notify_ops.attempts(state.db, tenant, limit=50))
    return await render(
        request,
        "notifications.html",
        user,
        channels=channels,
        rules=rules,
        attempts=attempts,
        tested=tested,
        kinds=notify_ops.KINDS,
    )


async def notifications_test(request: Request, state: StateDep, user: User) -> Response:
    form = await check_form(request, user, "operator")
    name = str(form.get("name") or "")
    tested = await asyncio.to_thread(
        lambda: notify_ops.test(
            state.db, state.settings, user.principal.tenant_id, name, actor=user.principal.actor
        )
    )
    return await notifications_page(request, state, user, tested=tested)


ROUTES: tuple[tuple[str, Any, list[str]], ...] = (
    ("/notifications", notifications_page, ["GET"]),
    ("/notifications/test", notifications_test, ["POST"]),
)
