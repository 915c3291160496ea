"""Users, API tokens and roles: who may do what in which tenant.

Passwords are hashed with argon2 (argon2-cffi); API tokens are random, shown once and
stored as a sha256 hash (they are long and random, so a slow hash adds nothing). A
principal has exactly one role in exactly one tenant; every service call made for it
passes that tenant id, so nothing it asks for can reach another tenant's rows.
"""

from __future__ import annotations

import functools
import hashlib
import secrets
import string
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import MappingProxyType

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from tikguard.store import tenants as store_tenants
from tikguard.store._util import check_text
from tikguard.store.audit import audit
from tikguard.store.db import Database
from tikguard.store.errors import AlreadyExists, InvalidInput, NotFound, StateError
from tikguard.store.models import ApiToken, LoginSession, Role, User, utcnow

#: Tokens start with this, so secret scanners and people can recognise them.
TOKEN_PREFIX = "tgk_"
_RANK = MappingProxyType({Role.VIEWER.value: 0, Role.OPERATOR.value: 1, Role.ADMIN.value: 2})
_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """Verifying against this keeps "no such user" as slow as "wrong password" (made on
    first use: hashing costs a fifth of a second, which a command that never logs anyone
    in should not pay)."""
    return _hasher.hash("tikguard-no-such-user")


MIN_PASSWORD = 10


class AuthError(Exception):
    """Credentials were missing, wrong, expired or revoked (one message for all)."""


@dataclass(frozen=True)
class Principal:
    """Who is calling: one role in one tenant. ``actor`` names them in the audit log."""

    tenant_id: int
    role: str
    actor: str
    user_id: int | None = None
    token_id: int | None = None

    def allows(self, role: str) -> bool:
        return _RANK[self.role] >= _RANK[role]


def check_role(role: str) -> str:
    if role not in _RANK:
        raise InvalidInput(f"unknown role {role!r} (one of: viewer, operator, admin)")
    return role


def generate_password(length: int = 20) -> str:
    """A random password of letters and digits (easy to copy from a terminal)."""
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(length))


def _check_username(username: str) -> str:
    check_text(username, "username", max_len=128)
    if username != username.strip() or " " in username:
        raise InvalidInput(f"username {username!r} must not contain spaces")
    return username


def check_password(password: str, username: str) -> None:
    """The password policy: long enough, not the username, not one character repeated."""
    if len(password) < MIN_PASSWORD:
        raise InvalidInput(f"password must be at least {MIN_PASSWORD} characters")
    if password.casefold() == username.casefold():
        raise InvalidInput("password must not be the username")
    if len(set(password)) == 1:
        raise InvalidInput("password must not be one character repeated")


def create_user(
    session: Session, tenant_id: int, username: str, password: str, role: str, *, actor: str
) -> User:
    """A new user. Usernames are unique across tenants (login needs no tenant name), so
    a taken name is refused with the same words whichever tenant has it: an admin learns
    that the name is not available, never that another tenant uses it."""
    _check_username(username)
    check_role(role)
    check_password(password, username)
    store_tenants.get_tenant(session, tenant_id)
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise AlreadyExists(
            f"username {username!r} is not available: choose another",
            hint="usernames are unique across all tenants; pick another one",
        )
    user = User(
        tenant_id=tenant_id, username=username, password_hash=_hasher.hash(password), role=role
    )
    session.add(user)
    session.flush()
    audit(
        session, tenant_id, actor=actor, action="user.add", target=username, details={"role": role}
    )
    return user


def list_users(session: Session, tenant_id: int) -> list[User]:
    return list(
        session.scalars(select(User).where(User.tenant_id == tenant_id).order_by(User.username))
    )


def count_users(session: Session) -> int:
    return int(session.scalar(select(func.count(User.id))) or 0)


def authenticate(db: Database, username: str, password: str) -> Principal:
    """The principal of a username and password, or :class:`AuthError`."""
    with db.session() as session:
        user = session.scalar(select(User).where(User.username == username))
    hashed = user.password_hash if user is not None and not user.disabled else _dummy_hash()
    try:
        _hasher.verify(hashed, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        raise AuthError("wrong username or password") from None
    if user is None or user.disabled:
        raise AuthError("wrong username or password")
    with db.transaction() as session:
        row = session.get(User, user.id)
        if row is not None:
            row.last_login_at = utcnow()
            if _hasher.check_needs_rehash(row.password_hash):
                row.password_hash = _hasher.hash(password)
    return Principal(user.tenant_id, user.role, f"user:{user.username}", user_id=user.id)


# -- login sessions ---------------------------------------------------------------------
#
# A UI login is a row: the signed cookie carries a random session id, the table keeps its
# sha256. Logout deletes the row; a new password or removing the user deletes all of the
# user's rows; so a copied cookie stops working at once, not when it expires.


def open_session(db: Database, user_id: int, lifetime_seconds: float) -> str:
    """A new login session of ``user_id``; returns its id (for the cookie, never stored)."""
    session_id = secrets.token_urlsafe(32)
    now = utcnow()
    with db.transaction() as session:
        user = session.get(User, user_id)
        if user is None or user.disabled:
            raise AuthError("wrong username or password")
        # The user's expired sessions go whenever a new one starts: the table stays small.
        session.execute(
            delete(LoginSession).where(
                LoginSession.user_id == user_id, LoginSession.expires_at <= now
            )
        )
        session.add(
            LoginSession(
                tenant_id=user.tenant_id,
                user_id=user_id,
                token_hash=hash_token(session_id),
                expires_at=now + timedelta(seconds=lifetime_seconds),
            )
        )
    return session_id


def principal_for_session(db: Database, user_id: int, session_id: str) -> Principal:
    """The principal of a live login session, or :class:`AuthError` (ended, expired)."""
    with db.session() as session:
        row = session.execute(
            select(User, LoginSession.expires_at)
            .join(LoginSession, LoginSession.user_id == User.id)
            .where(LoginSession.token_hash == hash_token(session_id), User.id == user_id)
        ).first()
        if row is None:
            raise AuthError("the session has ended: log in again")
        user, expires_at = row
        if user.disabled or expires_at <= utcnow():
            raise AuthError("the session has ended: log in again")
        return Principal(user.tenant_id, user.role, f"user:{user.username}", user_id=user.id)


def end_session(db: Database, session_id: str) -> None:
    """Logout: this session stops working now (an unknown id is fine)."""
    with db.transaction() as session:
        session.execute(
            delete(LoginSession).where(LoginSession.token_hash == hash_token(session_id))
        )


def end_user_sessions(session: Session, user_id: int) -> int:
    """End every login session of a user; returns how many there were."""
    result = session.execute(delete(LoginSession).where(LoginSession.user_id == user_id))
    return int(getattr(result, "rowcount", 0) or 0)


def _tenant_user(session: Session, tenant_id: int, user: int | str) -> User:
    """A user of the tenant by id or username (another tenant's user is "not found")."""
    column = User.id if isinstance(user, int) else User.username
    row = session.scalar(select(User).where(User.tenant_id == tenant_id, column == user))
    if row is None:
        raise NotFound(f"user {user!r} does not exist")
    return row


def set_password(
    session: Session, tenant_id: int, user: int | str, password: str, *, actor: str
) -> User:
    """A new password for a user of the tenant; ends every session the user had."""
    row = _tenant_user(session, tenant_id, user)
    check_password(password, row.username)
    row.password_hash = _hasher.hash(password)
    ended = end_user_sessions(session, row.id)
    audit(
        session,
        tenant_id,
        actor=actor,
        action="user.password",
        target=row.username,
        details={"sessions_ended": ended},
    )
    return row


def _keep_an_admin(session: Session, tenant_id: int, row: User) -> None:
    """Refuse to take away the tenant's last enabled admin (nobody could manage it)."""
    admins = session.scalar(
        select(func.count(User.id)).where(
            User.tenant_id == tenant_id, User.role == Role.ADMIN.value, ~User.disabled
        )
    )
    if int(admins or 0) <= 1:
        raise StateError(f"{row.username} is the tenant's last admin: add another first")


def remove_user(session: Session, tenant_id: int, user: int | str, *, actor: str) -> str:
    """Remove a user of the tenant with their sessions and API tokens; returns the name.

    The tenant's last admin cannot be removed (nobody could manage it any more).
    """
    row = _tenant_user(session, tenant_id, user)
    if row.role == Role.ADMIN.value:
        _keep_an_admin(session, tenant_id, row)
    name = row.username
    end_user_sessions(session, row.id)
    session.execute(delete(ApiToken).where(ApiToken.user_id == row.id))
    session.delete(row)
    audit(session, tenant_id, actor=actor, action="user.remove", target=name)
    return name


def set_disabled(
    session: Session, tenant_id: int, user: int | str, disabled: bool, *, actor: str
) -> User:
    """Disable (or enable again) a user of the tenant. A disabled user cannot log in,
    their web sessions end at once and the API tokens they created stop working. The tenant's
    last enabled admin cannot be disabled (nobody could manage it any more)."""
    row = _tenant_user(session, tenant_id, user)
    if disabled and not row.disabled and row.role == Role.ADMIN.value:
        _keep_an_admin(session, tenant_id, row)
    ended = end_user_sessions(session, row.id) if disabled else 0
    row.disabled = disabled
    audit(
        session,
        tenant_id,
        actor=actor,
        action="user.disable" if disabled else "user.enable",
        target=row.username,
        details={"sessions_ended": ended} if disabled else {},
    )
    return row


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class NewToken:
    """A freshly created token: ``token`` is shown once and never stored."""

    id: int
    name: str
    role: str
    token: str
    expires_at: datetime | None


def create_token(
    session: Session,
    tenant_id: int,
    name: str,
    role: str,
    *,
    actor: str,
    user_id: int | None = None,
    expires_at: datetime | None = None,
) -> NewToken:
    check_text(name, "token name", max_len=128)
    check_role(role)
    store_tenants.get_tenant(session, tenant_id)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(
        tenant_id=tenant_id,
        user_id=user_id,
        name=name,
        prefix=token[:12],
        token_hash=hash_token(token),
        role=role,
        expires_at=expires_at,
    )
    session.add(row)
    session.flush()
    audit(
        session, tenant_id, actor=actor, action="token.create", target=name, details={"role": role}
    )
    return NewToken(row.id, name, role, token, expires_at)


def list_tokens(session: Session, tenant_id: int) -> list[ApiToken]:
    return list(
        session.scalars(
            select(ApiToken).where(ApiToken.tenant_id == tenant_id).order_by(ApiToken.id)
        )
    )


def revoke_token(session: Session, tenant_id: int, token_id: int, *, actor: str) -> None:
    row = session.scalar(
        select(ApiToken).where(ApiToken.tenant_id == tenant_id, ApiToken.id == token_id)
    )
    if row is None:
        raise NotFound(f"token {token_id} does not exist")
    row.revoked_at = row.revoked_at or utcnow()
    audit(session, tenant_id, actor=actor, action="token.revoke", target=row.name)


def principal_for_token(db: Database, token: str) -> Principal:
    """The principal of a bearer token, or :class:`AuthError` (unknown/expired/revoked,
    or created by a user who is now disabled: disabling someone stops their scripts too)."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        raise AuthError("invalid API token")
    with db.session() as session:
        row = session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(token)))
        owner_disabled = row is not None and bool(
            row.user_id is not None
            and session.scalar(select(User.disabled).where(User.id == row.user_id))
        )
    if row is None or row.revoked_at is not None or owner_disabled:
        raise AuthError("invalid API token")
    if row.expires_at is not None and row.expires_at <= utcnow():
        raise AuthError("API token expired")
    return Principal(row.tenant_id, row.role, f"token:{row.name}", token_id=row.id)


@dataclass(frozen=True)
class Bootstrap:
    """The first admin, created when a server starts on an empty user table."""

    username: str
    password: str


def ensure_first_admin(
    db: Database, tenant_name: str = store_tenants.DEFAULT_TENANT
) -> Bootstrap | None:
    """Create ``admin`` with a generated password when no user exists at all."""
    with db.transaction() as session:
        if count_users(session) > 0:
            return None
        tenant = store_tenants.ensure_tenant(session, tenant_name)
        password = generate_password()
        create_user(session, tenant.id, "admin", password, Role.ADMIN.value, actor="system")
        return Bootstrap("admin", password)


# -- tenants ------------------------------------------------------------------------


def add_tenant(db: Database, name: str, display_name: str = "", *, actor: str) -> int:
    """A new tenant (a customer of an MSP, a team) with its own data key."""
    with db.transaction() as session:
        tenant = store_tenants.create_tenant(session, name, display_name)
        audit(session, tenant.id, actor=actor, action="tenant.add", target=name)
        return tenant.id


def set_tenant_reach(
    db: Database, name: str, *, networks: str | None, share_hosts: bool | None, actor: str
) -> tuple[str, bool]:
    """The operator's word on where a tenant's routers may be (audited); returns the
    tenant's (networks, share_hosts) as now stored."""
    from tikguard.store.reach import set_reach

    with db.transaction() as session:
        tenant = store_tenants.get_tenant_by_name(session, name)
        set_reach(session, tenant.id, networks=networks, share_hosts=share_hosts)
        details = {"networks": tenant.management_networks, "share_hosts": tenant.share_hosts}
        audit(session, tenant.id, actor=actor, action="tenant.reach", target=name, details=details)
        return tenant.management_networks, tenant.share_hosts


def tenant_id(db: Database, name: str) -> int:
    with db.session() as session:
        return store_tenants.get_tenant_by_name(session, name).id


def tenants(db: Database) -> list[tuple[str, str, int, int]]:
    """(name, display name, users, devices) of every tenant."""
    from tikguard.store.models import Device, Tenant

    with db.session() as session:
        users = dict(
            session.execute(select(User.tenant_id, func.count()).group_by(User.tenant_id)).all()
        )
        devices = dict(
            session.execute(select(Device.tenant_id, func.count()).group_by(Device.tenant_id)).all()
        )
        return [
            (t.name, t.display_name, users.get(t.id, 0), devices.get(t.id, 0))
            for t in session.scalars(select(Tenant).order_by(Tenant.name))
        ]
