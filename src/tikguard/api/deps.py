"""What every route needs: the app's state, and who is calling with which role.

Credentials: ``Authorization: Bearer tgk_...`` (scripts) or the UI's session cookie
(the browser). A cookie-authenticated request that changes something must carry the
CSRF token in ``X-CSRF-Token``; bearer requests need none (a browser never sends a
bearer token on its own).
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request

from tikguard.api.errors import ApiError
from tikguard.api.events import EventHub
from tikguard.api.sessions import COOKIE, CSRF_HEADER, SessionSigner
from tikguard.api.throttle import LoginThrottle
from tikguard.ops.accounts import (
    AuthError,
    Principal,
    principal_for_session,
    principal_for_token,
)
from tikguard.settings import Settings
from tikguard.store import scope
from tikguard.store.db import Database
from tikguard.store.models import Role

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass
class AppState:
    settings: Settings
    db: Database
    signer: SessionSigner
    hub: EventHub
    throttle: LoginThrottle
    #: True when this process runs the durable-workflow engine (pushes, backups).
    engine: bool


def app_state(request: Request) -> AppState:
    state = request.app.state.tikguard
    assert isinstance(state, AppState)
    return state


State = Annotated[AppState, Depends(app_state)]


async def authenticate(request: Request, state: State) -> Principal:
    header = request.headers.get("authorization")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthError("use 'Authorization: Bearer <token>'")
        principal = await asyncio.to_thread(principal_for_token, state.db, token.strip())
        scope.set_tenant(principal.tenant_id)  # PostgreSQL row-level security from here on
        return principal
    session = state.signer.read(request.cookies.get(COOKIE))
    if session is None:
        raise AuthError("authentication required: send 'Authorization: Bearer <token>'")
    principal = await asyncio.to_thread(
        principal_for_session, state.db, session.user_id, session.nonce
    )
    if request.method not in SAFE_METHODS and not state.signer.check_csrf(
        session, request.headers.get(CSRF_HEADER)
    ):
        raise ApiError(403, "missing or wrong CSRF token", "reload the page and try again")
    scope.set_tenant(principal.tenant_id)
    return principal


def require(role: Role) -> Callable[..., Coroutine[Any, Any, Principal]]:
    """A dependency: the caller, who must have at least ``role``."""

    async def check(
        principal: Annotated[Principal, Depends(authenticate)],
    ) -> Principal:
        if not principal.allows(role.value):
            raise ApiError(
                403,
                f"this needs the {role.value} role; you are {principal.role}",
                "ask an admin of your tenant",
            )
        return principal

    return check


Viewer = Annotated[Principal, Depends(require(Role.VIEWER))]
Operator = Annotated[Principal, Depends(require(Role.OPERATOR))]
Admin = Annotated[Principal, Depends(require(Role.ADMIN))]


def trusted_networks(spec: str) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """The networks of ``trusted_proxies`` (ValueError naming the setting)."""
    try:
        return [ipaddress.ip_network(p.strip(), strict=False) for p in spec.split(",") if p.strip()]
    except ValueError as exc:
        raise ValueError(f"TIKGUARD_TRUSTED_PROXIES: {exc}") from None


def _in(address: str, networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in networks)


def client_address(request: Request, settings: Settings) -> str:
    """The address a request comes from: the peer's, unless the peer is a trusted proxy
    (``trusted_proxies``); then the nearest ``X-Forwarded-For`` entry that is not one.
    A client cannot choose its own address by sending the header."""
    peer = request.client.host if request.client else "?"
    proxies = trusted_networks(settings.trusted_proxies)
    if not proxies or not _in(peer, proxies):
        return peer
    hops = [h.strip() for h in ",".join(request.headers.getlist("x-forwarded-for")).split(",")]
    for hop in reversed([h for h in hops if h]):
        if not _in(hop, proxies):
            return hop
    return peer


def need_engine(state: AppState) -> None:
    if not state.engine:
        raise ApiError(
            503,
            "this server does not run the workflow engine",
            "start tikguard with `tikguard serve`",
        )
