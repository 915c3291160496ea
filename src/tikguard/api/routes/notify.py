"""Notifications of the caller's tenant: viewers read, admins change, operators test.

The same service as ``tikguard notify``; no answer carries a channel's secret (a
webhook shows scheme and host only; a generated signing secret is in the answer to
the POST that created it, once).
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from tikguard.api.deps import Admin, Operator, State, Viewer
from tikguard.api.schemas import MAX_ID
from tikguard.ops import notify as notify_ops

router = APIRouter(prefix="/notify", tags=["notifications"])

Name = Annotated[str, Path(min_length=1, max_length=64)]
#: Answers are the service's own views (dataclasses): one shape for the API and the
#: CLI's --json.
ChannelOut = notify_ops.ChannelView
RuleOut = notify_ops.RuleView
AttemptOut = notify_ops.AttemptView
NewChannelOut = notify_ops.AddedChannel


@router.get("/kinds", response_model=dict[str, str])
async def kinds(who: Viewer) -> dict[str, str]:
    """The event kinds a rule can name, with what each means."""
    return dict(notify_ops.KINDS)


@router.get("/channels", response_model=list[ChannelOut])
async def list_channels(state: State, who: Viewer) -> list[ChannelOut]:
    return await asyncio.to_thread(notify_ops.list_channels, state.db, who.tenant_id)


@router.post("/channels/webhook", response_model=NewChannelOut, status_code=201)
async def add_webhook(body: notify_ops.WebhookChannel, state: State, who: Admin) -> NewChannelOut:
    """A webhook channel; payloads are signed with HMAC-SHA256 (X-Tikguard-Signature).
    Only to public addresses unless the controller's operator allows a network."""
    return await asyncio.to_thread(
        notify_ops.add_webhook, state.db, state.settings, who.tenant_id, body, actor=who.actor
    )


@router.post("/channels/email", response_model=ChannelOut, status_code=201)
async def add_email(body: notify_ops.EmailChannel, state: State, who: Admin) -> ChannelOut:
    """An e-mail channel over SMTP (a login needs STARTTLS or TLS)."""
    return await asyncio.to_thread(
        notify_ops.add_email, state.db, state.settings, who.tenant_id, body, actor=who.actor
    )


@router.delete("/channels/{name}", status_code=204)
async def remove_channel(name: Name, state: State, who: Admin) -> Response:
    """Remove a channel and the rules that send to it."""
    await asyncio.to_thread(
        lambda: notify_ops.remove_channel(state.db, who.tenant_id, name, actor=who.actor)
    )
    return Response(status_code=204)


@router.get("/rules", response_model=list[RuleOut])
async def list_rules(state: State, who: Viewer) -> list[RuleOut]:
    return await asyncio.to_thread(notify_ops.list_rules, state.db, who.tenant_id)


@router.post("/rules", response_model=RuleOut, status_code=201)
async def add_rule(body: notify_ops.Rule, state: State, who: Admin) -> RuleOut:
    """A rule: these event kinds (none: all) of routers with these tags/sites (none: any)."""
    return await asyncio.to_thread(
        notify_ops.add_rule, state.db, who.tenant_id, body, actor=who.actor
    )


@router.delete("/rules/{name}", status_code=204)
async def remove_rule(name: Name, state: State, who: Admin) -> Response:
    await asyncio.to_thread(
        lambda: notify_ops.remove_rule(state.db, who.tenant_id, name, actor=who.actor)
    )
    return Response(status_code=204)


@router.post("/test/{name}", response_model=AttemptOut)
async def test(name: Name, state: State, who: Operator) -> AttemptOut:
    """Send a test message now through a rule's channel (or a channel); the answer is the
    recorded attempt (``ok`` false with the receiver's answer when it failed)."""
    return await asyncio.to_thread(
        lambda: notify_ops.test(state.db, state.settings, who.tenant_id, name, actor=who.actor)
    )


@router.get("/attempts", response_model=list[AttemptOut])
async def attempts(
    state: State,
    who: Viewer,
    channel: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    event: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> list[AttemptOut]:
    """Delivery attempts, newest first."""
    return await asyncio.to_thread(
        lambda: notify_ops.attempts(
            state.db, who.tenant_id, channel=channel, event_id=event, limit=limit
        )
    )
