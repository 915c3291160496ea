"""What every route needs: the app's state, and who is calling with which role.

Credentials: ``Authorization: Bearer tgk_...`` (scripts) or the UI's session cookie
(the browser). A cookie-authenticated request that changes something must carry the
CSRF token in ``X-CSRF-Token``; bearer requests need none (a browser never sends a
bearer token on its own).
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Path, Request

from tikguard.api.schemas import MAX_ID
from tikguard.ops import devices as devices_ops
from tikguard.ops.accounts import (
    AuthError,
    Principal,
    principal_for_session,
    principal_for_token,
)
from tikguard.server.errors import ApiError
from tikguard.server.sessions import COOKIE, CSRF_HEADER
from tikguard.server.state import AppState, app_state
from tikguard.store import scope
from tikguard.store.models import Role

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

#: A row id in a path (``/users/{user_id}``): 1 .. 2**63-1, else 422 (not a 500 from
#: the database driver).
PathId = Annotated[int, Path(ge=1, le=MAX_ID)]


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


async def still_allowed(request: Request, state: AppState, who: Principal) -> bool:
    """Whether the credentials that opened a long request (an event stream) still name
    the same principal with the same role: a revoked token, an ended session or a
    changed role ends the stream at its next event or keep-alive."""
    try:
        now = await authenticate(request, state)
    except (AuthError, ApiError):
        return False
    return now.tenant_id == who.tenant_id and now.role == who.role and now.actor == who.actor


#: What a stream sends before it closes because its credentials no longer hold.
REVOKED_EVENT = 'event: end\ndata: {"error": "credentials revoked or session ended"}\n\n'


async def authenticate_basic(request: Request, state: State) -> Principal:
    """:func:`authenticate`, and also HTTP Basic with a token as the password (any user
    name): for clients that can only carry credentials in a URL, such as LibreNMS's
    ``oxidized.url`` (``https://librenms:tgk_...@tikguard.example/oxidized``)."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return await authenticate(request, state)
    try:
        _user, _, token = base64.b64decode(value.strip(), validate=True).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        raise AuthError("malformed Basic credentials") from None
    if not token.strip():
        raise AuthError("send a tikguard token as the Basic password")
    principal = await asyncio.to_thread(principal_for_token, state.db, token.strip())
    scope.set_tenant(principal.tenant_id)
    return principal


Authenticator = Callable[..., Coroutine[Any, Any, Principal]]


def require(role: Role, auth: Authenticator = authenticate) -> Authenticator:
    """A dependency: the caller (as ``auth`` finds them), who must have at least ``role``."""

    # A default, not ``Annotated``: the annotation is a string (``from __future__``) that
    # FastAPI resolves in this module's globals, where the local ``auth`` is not.
    async def check(principal: Principal = Depends(auth)) -> Principal:  # noqa: B008
        if not principal.allows(role.value):
            raise ApiError(
                403,
                f"this needs the {role.value} role; you are {principal.role}",
                "ask an admin of your tenant",
            )
        return principal

    return check


async def device_in_path(
    device: Annotated[
        str,
        Path(
            min_length=1,
            max_length=140,
            description="the device's id, or its name (digits are an id; `name:` forces a name)",
        ),
    ],
    state: State,
    who: Annotated[Principal, Depends(authenticate)],
) -> int:
    """``/devices/{device}``: the id of the device named by id or by name in the caller's
    tenant (the rule: :func:`tikguard.ops.devices.parse_ref`)."""
    return await asyncio.to_thread(devices_ops.resolve, state.db, who.tenant_id, device)


#: A device in a path, by id or by name, as its id.
DeviceId = Annotated[int, Depends(device_in_path)]

Viewer = Annotated[Principal, Depends(require(Role.VIEWER))]
Operator = Annotated[Principal, Depends(require(Role.OPERATOR))]
Admin = Annotated[Principal, Depends(require(Role.ADMIN))]
