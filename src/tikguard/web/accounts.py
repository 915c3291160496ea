"""The Users & tokens page (admins only): the tenant's users (add, disable, enable),
API tokens (create, revoke) and the tenant's data key (rotate). The same functions as the
API and the CLI, each change audited with the admin's name; a new token or generated
password is shown on the page that answers the form, once, and stored nowhere in clear.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from tikguard.ops import accounts
from tikguard.ops import keys as keys_ops
from tikguard.server.errors import ApiError
from tikguard.store.errors import AlreadyExists, InvalidInput, StateError
from tikguard.store.models import utcnow
from tikguard.web.common import StateDep, User, Viewer, check_form, render

#: Token lifetimes offered by the form (days; 0 = no expiry).
LIFETIMES = MappingProxyType(
    {"0": "never expires", "30": "30 days", "90": "90 days", "365": "1 year"}
)


@dataclass(frozen=True)
class UserRow:
    id: int
    username: str
    role: str
    disabled: bool
    created_at: datetime
    last_login_at: datetime | None


@dataclass(frozen=True)
class TokenRow:
    id: int
    name: str
    prefix: str
    role: str
    created_by: str | None
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        expired = self.expires_at is not None and self.expires_at <= utcnow()
        return self.revoked_at is None and not expired


def _need_admin(user: Viewer) -> None:
    if not user.can("admin"):
        raise ApiError(403, f"users and tokens need the admin role; you are {user.principal.role}")


def _accounts(state: Any, tenant_id: int) -> tuple[list[UserRow], list[TokenRow]]:
    with state.db.session() as session:
        users = accounts.list_users(session, tenant_id)
        names = {u.id: u.username for u in users}
        return (
            [
                UserRow(u.id, u.username, u.role, u.disabled, u.created_at, u.last_login_at)
                for u in users
            ],
            [
                TokenRow(
                    t.id,
                    t.name,
                    t.prefix,
                    t.role,
                    names.get(t.user_id) if t.user_id is not None else None,
                    t.created_at,
                    t.expires_at,
                    t.revoked_at,
                )
                for t in accounts.list_tokens(session, tenant_id)
            ],
        )


async def _page(request: Request, state: Any, user: Viewer, **shown: Any) -> Response:
    users, tokens = await asyncio.to_thread(_accounts, state, user.principal.tenant_id)
    return await render(
        request,
        "users.html",
        user,
        status=shown.pop("status", 200),
        form=shown.pop("form", {}),
        users=users,
        tokens=tokens,
        lifetimes=LIFETIMES,
        **shown,
    )


async def users_page(request: Request, state: StateDep, user: User) -> Response:
    _need_admin(user)
    return await _page(request, state, user)


async def user_add(request: Request, state: StateDep, user: User) -> Response:
    """Add a user; an empty password means "generate one", shown once on the answer."""
    form = await check_form(request, user, "admin")
    username = str(form.get("username") or "").strip()
    role = str(form.get("role") or "viewer")
    password = str(form.get("password") or "")
    generated = not password
    if generated:
        password = accounts.generate_password()

    def run() -> None:
        with state.db.transaction() as session:
            accounts.create_user(
                session,
                user.principal.tenant_id,
                username,
                password,
                role,
                actor=user.principal.actor,
            )

    try:
        await asyncio.to_thread(run)
    except (InvalidInput, AlreadyExists) as exc:  # the form comes back as typed
        kept = {"username": username, "role": role}
        return await _page(request, state, user, status=422, user_error=str(exc), form=kept)
    shown = {"username": username, "password": password if generated else None}
    return await _page(request, state, user, new_user=shown)


async def _set_disabled(
    request: Request, state: Any, user: Viewer, user_id: int, off: bool
) -> Response:
    await check_form(request, user, "admin")

    def run() -> None:
        with state.db.transaction() as session:
            accounts.set_disabled(
                session, user.principal.tenant_id, user_id, off, actor=user.principal.actor
            )

    await asyncio.to_thread(run)
    return RedirectResponse("/users", status_code=303)


async def user_disable(request: Request, user_id: int, state: StateDep, user: User) -> Response:
    return await _set_disabled(request, state, user, user_id, True)


async def user_enable(request: Request, user_id: int, state: StateDep, user: User) -> Response:
    return await _set_disabled(request, state, user, user_id, False)


async def token_add(request: Request, state: StateDep, user: User) -> Response:
    """Create a token and show its value on this one answer (never again)."""
    form = await check_form(request, user, "admin")
    name = str(form.get("name") or "").strip()
    role = str(form.get("role") or "viewer")
    days = str(form.get("lifetime") or "0")
    if days not in LIFETIMES:
        raise ApiError(422, "choose a token lifetime from the list")
    expires = utcnow() + timedelta(days=int(days)) if days != "0" else None

    def run() -> accounts.NewToken:
        with state.db.transaction() as session:
            return accounts.create_token(
                session,
                user.principal.tenant_id,
                name,
                role,
                actor=user.principal.actor,
                user_id=user.principal.user_id,
                expires_at=expires,
            )

    try:
        new = await asyncio.to_thread(run)
    except InvalidInput as exc:
        kept = {"token_name": name, "token_role": role, "lifetime": days}
        return await _page(request, state, user, status=422, token_error=str(exc), form=kept)
    return await _page(request, state, user, new_token=new)


async def token_revoke(request: Request, token_id: int, state: StateDep, user: User) -> Response:
    await check_form(request, user, "admin")

    def run() -> None:
        with state.db.transaction() as session:
            accounts.revoke_token(
                session, user.principal.tenant_id, token_id, actor=user.principal.actor
            )

    await asyncio.to_thread(run)
    return RedirectResponse("/users", status_code=303)


async def key_rotate(request: Request, state: StateDep, user: User) -> Response:
    """A new data key for the tenant (``POST /api/v1/keys/rotate`` does the same); a push
    not ended or uncertain refuses it, and the page says which."""
    await check_form(request, user, "admin")
    try:
        (done,) = await asyncio.to_thread(
            keys_ops.rotate_data_keys,
            state.db,
            actor=user.principal.actor,
            tenant_id=user.principal.tenant_id,
        )
    except StateError as exc:
        message = f"{exc} ({exc.hint})" if exc.hint else str(exc)
        return await _page(request, state, user, status=409, key_error=message)
    return await _page(request, state, user, rotated=done)


ROUTES: tuple[tuple[str, Any, list[str]], ...] = (
    ("/users", users_page, ["GET"]),
    ("/users", user_add, ["POST"]),
    ("/users/{user_id}/disable", user_disable, ["POST"]),
    ("/users/{user_id}/enable", user_enable, ["POST"]),
    ("/tokens", token_add, ["POST"]),
    ("/tokens/{token_id}/revoke", token_revoke, ["POST"]),
    ("/keys/rotate", key_rotate, ["POST"]),
)
