"""Who am I, the audit log, users, API tokens and the data key of the caller's tenant."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from tikguard import __version__
from tikguard.api.deps import Admin, PathId, State, Viewer
from tikguard.api.schemas import (
    AuditOut,
    Health,
    KeyRotationOut,
    Me,
    NewTokenOut,
    PasswordIn,
    TokenIn,
    TokenOut,
    UserIn,
    UserOut,
    WorkerOut,
)
from tikguard.ops import accounts
from tikguard.ops import keys as keys_ops
from tikguard.ops import operations as operations_ops
from tikguard.ops import workers as fleet_workers

router = APIRouter()


@router.get("/health", response_model=Health, tags=["meta"])
async def health() -> Health:
    """Liveness: answers without a database query or credentials."""
    return Health(status="ok", version=__version__)


@router.get("/me", response_model=Me, tags=["meta"])
async def me(who: Viewer) -> Me:
    return Me(tenant_id=who.tenant_id, role=who.role, actor=who.actor)


@router.get("/audit", response_model=list[AuditOut], tags=["audit"])
async def audit_log(
    state: State,
    who: Viewer,
    action: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[AuditOut]:
    """Who did what, newest first."""

    rows = await asyncio.to_thread(
        operations_ops.audit_entries, state.db, who.tenant_id, action=action, limit=limit
    )
    return [AuditOut.model_validate(r, from_attributes=True) for r in rows]


@router.get("/workers", response_model=list[WorkerOut], tags=["meta"])
async def list_workers(state: State, who: Admin) -> list[WorkerOut]:
    """The workers sharing this database: alive or not, and the pushes of the caller's
    tenant each holds now (the workers are shared; other tenants' work is not told)."""
    rows = await fleet_workers.workers(state.settings, state.db, tenant_id=who.tenant_id)
    return [WorkerOut.model_validate(w, from_attributes=True) for w in rows]


@router.get("/users", response_model=list[UserOut], tags=["accounts"])
async def list_users(state: State, who: Admin) -> list[UserOut]:
    def run() -> list[UserOut]:
        with state.db.session() as session:
            return [
                UserOut.model_validate(u, from_attributes=True)
                for u in accounts.list_users(session, who.tenant_id)
            ]

    return await asyncio.to_thread(run)


@router.post("/users", response_model=UserOut, status_code=201, tags=["accounts"])
async def add_user(body: UserIn, state: State, who: Admin) -> UserOut:
    def run() -> UserOut:
        with state.db.transaction() as session:
            user = accounts.create_user(
                session, who.tenant_id, body.username, body.password, body.role, actor=who.actor
            )
            return UserOut.model_validate(user, from_attributes=True)

    return await asyncio.to_thread(run)


@router.put("/users/{user_id}/password", status_code=204, tags=["accounts"])
async def set_password(user_id: PathId, body: PasswordIn, state: State, who: Admin) -> Response:
    """A new password for a user; every web session the user had ends at once."""

    def run() -> None:
        with state.db.transaction() as session:
            accounts.set_password(session, who.tenant_id, user_id, body.password, actor=who.actor)

    await asyncio.to_thread(run)
    return Response(status_code=204)


@router.delete("/users/{user_id}", status_code=204, tags=["accounts"])
async def remove_user(user_id: PathId, state: State, who: Admin) -> Response:
    """Remove a user with their web sessions and the API tokens they created."""

    def run() -> None:
        with state.db.transaction() as session:
            accounts.remove_user(session, who.tenant_id, user_id, actor=who.actor)

    await asyncio.to_thread(run)
    return Response(status_code=204)


@router.get("/tokens", response_model=list[TokenOut], tags=["accounts"])
async def list_tokens(state: State, who: Admin) -> list[TokenOut]:
    def run() -> list[TokenOut]:
        with state.db.session() as session:
            return [
                TokenOut.model_validate(t, from_attributes=True)
                for t in accounts.list_tokens(session, who.tenant_id)
            ]

    return await asyncio.to_thread(run)


@router.post("/tokens", response_model=NewTokenOut, status_code=201, tags=["accounts"])
async def create_token(body: TokenIn, state: State, who: Admin) -> NewTokenOut:
    """A new API token: the answer is the only time its value is shown."""

    def run() -> NewTokenOut:
        with state.db.transaction() as session:
            kwargs: dict[str, Any] = {"actor": who.actor, "user_id": who.user_id}
            if body.expires_at is not None:
                kwargs["expires_at"] = body.expires_at
            new = accounts.create_token(session, who.tenant_id, body.name, body.role, **kwargs)
            return NewTokenOut(
                id=new.id, name=new.name, role=new.role, token=new.token, expires_at=new.expires_at
            )

    return await asyncio.to_thread(run)


@router.delete("/tokens/{token_id}", status_code=204, tags=["accounts"])
async def revoke_token(token_id: PathId, state: State, who: Admin) -> Response:
    def run() -> None:
        with state.db.transaction() as session:
            accounts.revoke_token(session, who.tenant_id, token_id, actor=who.actor)

    await asyncio.to_thread(run)
    return Response(status_code=204)


@router.post("/keys/rotate", response_model=KeyRotationOut, tags=["keys"])
async def rotate_data_key(state: State, who: Admin) -> KeyRotationOut:
    """Give the caller's tenant a new data key and re-encrypt every value with it, in one
    transaction (``tikguard keys rotate --data-keys --tenant NAME`` does the same).
    Refused (409) while a push of the tenant has not ended or ended uncertain: its
    workflow still holds its script encrypted with the old key. The master key is the
    controller operator's (``tikguard keys rotate``, with the server stopped)."""
    (done,) = await asyncio.to_thread(
        keys_ops.rotate_data_keys, state.db, actor=who.actor, tenant_id=who.tenant_id
    )
    return KeyRotationOut.model_validate(done, from_attributes=True)
