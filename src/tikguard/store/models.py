"""The database schema as typed SQLAlchemy models.

Every table carries ``tenant_id``: tenant isolation is enforced by the query helpers,
which all filter on it. Encrypted columns hold vault blobs (see :mod:`.vault`), never
plaintext; ``repr()`` of a model never shows them.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy import (
    false as sa_false,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

NAMING = MappingProxyType(
    {
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


def utcnow() -> datetime:
    """The current time, timezone-aware UTC (the only kind the store keeps)."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored as naive UTC and always read back timezone-aware UTC.

    SQLite has no time zones; storing naive UTC everywhere keeps both backends equal.
    """

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("timestamps must be timezone-aware")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


JSONType = JSON().with_variant(JSONB(), "postgresql")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = MappingProxyType(
        {
            datetime: UTCDateTime(),
            dict[str, Any]: JSONType,
            list[Any]: JSONType,
            bytes: LargeBinary(),
        }
    )

    def __repr__(self) -> str:
        """Identity only; subclasses list safe fields in ``_repr_fields``."""
        shown = ", ".join(f"{k}={getattr(self, k, None)!r}" for k in self._repr_fields)
        return f"{type(self).__name__}({shown})"

    _repr_fields: tuple[str, ...] = ("id",)


class Role(enum.StrEnum):
    VIEWER = "viewer"
    OPERATOR = "operator"
    ADMIN = "admin"


class Trigger(enum.StrEnum):
    MANUAL = "manual"
    SCHEDULED = "scheduled"
    PRE_PUSH = "pre-push"
    POST_PUSH = "post-push"
    CHECKPOINT = "checkpoint"


class OperationKind(enum.StrEnum):
    PUSH = "push"
    RESTORE = "restore"
    REPLACE = "replace"
    BACKUP = "backup"


class OperationState(enum.StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    WAITING = "waiting"  # e.g. for an operator's confirm
    DONE = "done"


class Outcome(enum.StrEnum):
    COMMITTED = "committed"
    REVERTED = "reverted"
    FAILED = "failed"
    UNCERTAIN = "uncertain"
    SUCCEEDED = "succeeded"  # operations that change nothing on the device (backup)


class Tenant(Base):
    """An isolated customer or team; owns a data key wrapped by the master key."""

    __tablename__ = "tenants"
    __table_args__ = {"sqlite_autoincrement": True}  # noqa: RUF012
    _repr_fields = ("id", "name", "data_key_version")

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    #: The data key version new ciphertexts use (a row in tenant_keys).
    data_key_version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: Networks its routers may be on (comma-separated CIDRs, set by the controller's
    #: operator); empty: anywhere in a single-tenant install, nowhere in a multi-tenant
    #: one (see :mod:`tikguard.store.reach`).
    management_networks: Mapped[str] = mapped_column(Text, default="", server_default="")
    #: May add a host:port another tenant already manages (the operator allowed it).
    share_hosts: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sa_false())


class TenantKey(Base):
    """One version of a tenant's data key, wrapped (AES-GCM) by the master key."""

    __tablename__ = "tenant_keys"
    _repr_fields = ("tenant_id", "version", "master_key_id")

    tenant_id: Mapped[int] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    wrapped: Mapped[bytes]
    #: Fingerprint of the master key that wrapped it: a wrong key is named, not guessed.
    master_key_id: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class User(Base):
    """A person who logs in; has one role in one tenant."""

    __tablename__ = "users"
    _repr_fields = ("id", "tenant_id", "username", "role")

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    username: Mapped[str] = mapped_column(String(128), unique=True)
    #: argon2 hash string; never the password.
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16), default=Role.VIEWER.value)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None]


class ApiToken(Base):
    """A bearer token for scripts; stored as a hash, shown once at creation."""

    __tablename__ = "api_tokens"
    _repr_fields = ("id", "tenant_id", "name", "prefix", "role")

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(128))
    #: First characters of the token, to recognise it in listings.
    prefix: Mapped[str] = mapped_column(String(16))
    #: sha256 hex of the full token.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16), default=Role.VIEWER.value)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class Device(Base):
    """A router in the inventory, with its pinned host key and what the last probe saw."""

    __tablename__ = "devices"
    __table_args__ = (
        UniqueConstraint("tenant_id", "name"),
        {"sqlite_autoincrement": True},
    )
    _repr_fields = ("id", "tenant_id", "name", "host", "port", "username")

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(128))
    host: Mapped[str] = mapped_column(String(255))
    port: Mapped[int] = mapped_column(Integer, default=22)
    username: Mapped[str] = mapped_column(String(128))
    #: Vault blob (purpose ``device-password``, bound to this row's id).
    password_enc: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    site: Mapped[str | None] = mapped_column(String(128), index=True)

    #: Pinned SSH host key, OpenSSH public-key format ("ssh-ed25519 AAAA...").
    host_key: Mapped[str | None] = mapped_column(Text)
    host_key_first_seen: Mapped[datetime | None]
    host_key_last_verified: Mapped[datetime | None]
    #: A different key the device presented; operations refuse until it is accepted.
    host_key_pending: Mapped[str | None] = mapped_column(Text)
    host_key_pending_seen: Mapped[datetime | None]

    ros_version: Mapped[str | None] = mapped_column(String(64))
    model: Mapped[str | None] = mapped_column(String(128))
    board: Mapped[str | None] = mapped_column(String(128))
    architecture: Mapped[str | None] = mapped_column(String(64))
    last_probe_at: Mapped[datetime | None]
    #: Everything else the probe saw (free space, uptime, device-mode, policies, ...).
    last_probe: Mapped[dict[str, Any] | None]

    last_backup_at: Mapped[datetime | None]
    last_backup_status: Mapped[str | None] = mapped_column(String(32))
    last_backup_error: Mapped[str | None] = mapped_column(Text)
    #: tikguard timers and files the newest backup found on the router with no live
    #: operation behind them (:mod:`tikguard.ops.leftovers`); None: not looked at yet.
    leftovers: Mapped[list[Any] | None]
    #: Backups that failed in a row since the last good one (0 after a good one): what
    #: the "backup failing N times" notification counts.
    backup_failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    #: Per-device variables for rollout templates (``device set NAME --var KEY=VALUE``).
    vars: Mapped[dict[str, Any]] = mapped_column(default=dict)

    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    tag_rows: Mapped[list[DeviceTag]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="DeviceTag.tag"
    )

    @property
    def tags(self) -> list[str]:
        return [t.tag for t in self.tag_rows]


class DeviceTag(Base):
    """One tag of a device (a table, so filtering by tag is an indexed query)."""

    __tablename__ = "device_tags"
    __table_args__ = (Index(None, "tenant_id", "tag"),)
    _repr_fields = ("device_id", "tag")

    device_id: Mapped[int] = mapped_column(
        ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True
    )
    tag: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))


class Operation(Base):
    """One push/restore/replace/backup: its state, outcome and the evidence for it."""

    __tablename__ = "operations"
    __table_args__ = (
        UniqueConstraint("tenant_id", "idempotency_key"),
        Index(None, "tenant_id", "created_at"),
    )
    _repr_fields = ("id", "tenant_id", "device_id", "kind", "state", "outcome")

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    device_id: Mapped[int | None] = mapped_column(
        ForeignKey("devices.id", ondelete="SET NULL"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16), default=OperationState.PENDING.value)
    outcome: Mapped[str | None] = mapped_column(String(16))
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    requested_by: Mapped[str | None] = mapped_column(String(200))
    parameters: Mapped[dict[str, Any]] = mapped_column(default=dict)
    evidence: Mapped[dict[str, Any]] = mapped_column(default=dict)
    error: Mapped[str | None] = mapped_column(Text)
    #: Highest event seq handed out; bumped atomically by append_event.
    last_event_seq: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class OperationEvent(Base):
    """A durable progress event of an operation; streamed to clients by seq."""

    __tablename__ = "operation_events"
    __table_args__ = (UniqueConstraint("operation_id", "seq"),)
    _repr_fields = ("operation_id", "seq", "stage", "level")

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    operation_id: Mapped[str] = mapped_column(ForeignKey("operations.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    stage: Mapped[str] = mapped_column(String(64))
    level: Mapped[str] = mapped_column(String(16), default="info")
    message: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)


class ConfigVersion(Base):
    """One distinct configuration of a device, content-addressed by its redacted text.

    ``content`` is the zlib-compressed normalised, redacted export; the sensitive values
    live encrypted in ``secrets_enc``. A new row exists only when the text or the
    secrets changed from the device's newest version.
    """

    __tablename__ = "config_versions"
    __table_args__ = (
        UniqueConstraint("device_id", "seq"),
        Index(None, "device_id", "sha256"),
        Index(None, "tenant_id", "mirror_commit"),
        #: Covers "the newest version's seq and trigger" per device (the fleet's drift
        #: column) without reading the wide rows that hold the configuration text.
        Index(None, "device_id", "seq", "trigger"),
        {"sqlite_autoincrement": True},
    )
    _repr_fields = ("id", "tenant_id", "device_id", "seq", "sha256", "trigger")

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"))
    #: 1, 2, 3, ... per device: the number users see.
    seq: Mapped[int] = mapped_column(Integer)
    #: sha256 hex of the normalised, redacted text (UTF-8).
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    size: Mapped[int] = mapped_column(Integer)
    line_count: Mapped[int] = mapped_column(Integer)
    secrets_enc: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    secrets_count: Mapped[int] = mapped_column(Integer, default=0)
    trigger: Mapped[str] = mapped_column(String(16))
    operation_id: Mapped[str | None] = mapped_column(
        ForeignKey("operations.id", ondelete="SET NULL")
    )
    #: Who asked for the reading (``cli:user@host``, ``user:alice``, ``schedule:<name>``):
    #: the git mirror's ``Tikguard-Requested-By`` trailer (else the operation's requester).
    requested_by: Mapped[str | None] = mapped_column(String(200))
    lines_added: Mapped[int] = mapped_column(Integer, default=0)
    lines_removed: Mapped[int] = mapped_column(Integer, default=0)
    #: True when only sensitive values changed (the redacted text is the previous one).
    secrets_changed_only: Mapped[bool] = mapped_column(Boolean, default=False)
    ros_version: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_checked_at: Mapped[datetime] = mapped_column(default=utcnow)
    binary_backup_enc: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    binary_backup_size: Mapped[int | None] = mapped_column(Integer)
    binary_backup_at: Mapped[datetime | None]
    #: Git mirror commit holding this version; NULL until mirrored.
    mirror_commit: Mapped[str | None] = mapped_column(String(64))


class MirrorState(Base):
    """Where each tenant's git mirror stands, and its last error (retried next run)."""

    __tablename__ = "mirror_state"
    _repr_fields = ("tenant_id", "last_version_id", "head_commit")

    tenant_id: Mapped[int] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    last_version_id: Mapped[int | None] = mapped_column(BigInteger)
    head_commit: Mapped[str | None] = mapped_column(String(64))
    last_run_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_at: Mapped[datetime | None]
    last_pushed_at: Mapped[datetime | None]
    push_error: Mapped[str | None] = mapped_column(Text)
    #: Which machine and directory wrote the mirror last ("host:/path"): two mirroring
    #: machines would undo each other's bookkeeping, so a change of writer is reported.
    writer: Mapped[str | None] = mapped_column(String(512))


class AuditEntry(Base):
    """Who did what to which target, and when. Append-only."""

    __tablename__ = "audit_log"
    __table_args__ = (Index(None, "tenant_id", "at"),)
    _repr_fields = ("id", "tenant_id", "actor", "action", "target")

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str | None] = mapped_column(String(255))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)


class LoginSession(Base):
    """A UI login: the cookie names it, so logout, a new password or removing the user
    ends it at once. Only a sha256 hash of the cookie's random id is stored."""

    __tablename__ = "login_sessions"
    _repr_fields = ("id", "tenant_id", "user_id", "expires_at")

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    #: sha256 hex of the session id the signed cookie carries.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]


class Rollout(Base):
    """One change to many routers in canary and waves: a parent of guarded pushes.

    The operator's script or template is kept encrypted (``source_enc``, vault purpose
    ``rollout-source`` bound to this id); ``policy`` holds canary, waves, soak, gate and
    halt settings; ``state`` is pending, running, waiting (a manual gate), halted (a
    failure stopped it before the next wave), aborted or completed.
    """

    __tablename__ = "rollouts"
    __table_args__ = (Index(None, "tenant_id", "created_at"),)
    _repr_fields = ("id", "tenant_id", "state", "current_wave")

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    state: Mapped[str] = mapped_column(String(16), default="pending")
    template: Mapped[bool] = mapped_column(Boolean, default=False)
    source_enc: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    #: How the routers were chosen (tag, site, all, names, match), as given.
    selector: Mapped[dict[str, Any]] = mapped_column(default=dict)
    policy: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: Routers per wave, canary first.
    waves: Mapped[list[Any]] = mapped_column(default=list)
    current_wave: Mapped[int] = mapped_column(Integer, default=0)
    abort_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Failures an operator has seen and continued past (they no longer halt).
    acknowledged_failures: Mapped[int] = mapped_column(Integer, default=0)
    reason: Mapped[str | None] = mapped_column(Text)
    requested_by: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class RolloutTarget(Base):
    """One router of a rollout: its wave, its rendered change and its push's outcome.

    ``status``: pending, skipped (nothing to do), submitted, done, or not-started (the
    rollout halted or was aborted before it).
    """

    __tablename__ = "rollout_targets"
    __table_args__ = (
        UniqueConstraint("rollout_id", "device_id"),
        Index(None, "rollout_id", "wave"),
    )
    _repr_fields = ("rollout_id", "device_name", "wave", "status", "outcome")

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    rollout_id: Mapped[str] = mapped_column(ForeignKey("rollouts.id", ondelete="CASCADE"))
    device_id: Mapped[int | None] = mapped_column(ForeignKey("devices.id", ondelete="SET NULL"))
    device_name: Mapped[str] = mapped_column(String(128))
    position: Mapped[int] = mapped_column(Integer)
    wave: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    #: The rendered change, encrypted (vault purpose ``rollout-script``, bound to
    #: ``<rollout id>:<device id>``); NULL when the change is empty.
    script_enc: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    script_sha: Mapped[str | None] = mapped_column(String(64))
    op_id: Mapped[str | None] = mapped_column(String(64))
    outcome: Mapped[str | None] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)


class Worker(Base):
    """A ``tikguard serve`` worker of a cluster sharing one database (cluster-wide, no
    tenant): who it is, where it runs, and its heartbeat. A worker whose heartbeat is
    older than the lease is dead; a survivor takes its pending workflows over."""

    __tablename__ = "workers"
    _repr_fields = ("id", "host", "pid", "heartbeat_at")

    #: The DBOS executor id: the workflows this worker runs are recorded under it.
    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    data_dir: Mapped[str] = mapped_column(String(1024))
    version: Mapped[str] = mapped_column(String(64))
    #: A random token per start: a heartbeat only counts for the start that wrote it.
    incarnation: Mapped[str] = mapped_column(String(32))
    started_at: Mapped[datetime]
    heartbeat_at: Mapped[datetime]
    #: Set by a clean stop; a killed worker never sets it.
    stopped_at: Mapped[datetime | None]
    taken_over_by: Mapped[str | None] = mapped_column(String(200))
    taken_over_at: Mapped[datetime | None]


class InventorySource(Base):
    """Where a tenant's inventory comes from besides hand edits: a RANCID ``router.db``,
    an Oxidized-style CSV, or an HTTP JSON API (NetBox, say), synced on demand or on a
    schedule.

    ``config`` holds what may be shown (path or URL, delimiter, field map, header
    *names*, defaults, removal policy); ``secrets_enc`` holds what may not (header values
    such as an API token, a default router password): a vault blob, purpose
    ``inventory-source``, bound to this row's id. Devices a source created carry the
    tag ``source:<name>``; only those are ever updated or removed by it.
    """

    __tablename__ = "inventory_sources"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)
    _repr_fields = ("id", "tenant_id", "name", "kind")

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    config: Mapped[dict[str, Any]] = mapped_column(default=dict)
    secrets_enc: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    last_sync_at: Mapped[datetime | None]
    #: The last sync's counts (added, updated, removed, ...) or its error.
    last_sync: Mapped[dict[str, Any] | None]


class SearchSection(Base):
    """One distinct menu section of a tenant's configurations (the fleet search index).

    Keyed by content (:meth:`tikguard.routeros.searchable.Section.digest`): routers built
    from one template share their sections, so each is parsed and stored once.
    """

    __tablename__ = "search_sections"
    __table_args__ = (UniqueConstraint("tenant_id", "digest"),)
    _repr_fields = ("id", "tenant_id", "menu")

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    digest: Mapped[str] = mapped_column(String(64))
    menu: Mapped[str] = mapped_column(String(255))


class SearchItem(Base):
    """One item of a section with its effective, secret-free properties."""

    __tablename__ = "search_items"
    __table_args__ = (Index(None, "tenant_id", "menu"),)
    _repr_fields = ("id", "section_id", "menu")

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    section_id: Mapped[int] = mapped_column(
        ForeignKey("search_sections.id", ondelete="CASCADE"), index=True
    )
    menu: Mapped[str] = mapped_column(String(255))
    line: Mapped[str] = mapped_column(Text)
    props: Mapped[dict[str, Any]] = mapped_column(default=dict)


class SearchLine(Base):
    """One command of a section in terse form, secrets hidden (what a regex runs over)."""

    __tablename__ = "search_lines"
    __table_args__ = (Index(None, "tenant_id", "section_id"),)
    _repr_fields = ("id", "section_id", "position")

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    section_id: Mapped[int] = mapped_column(ForeignKey("search_sections.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)


class SearchLink(Base):
    """Which sections make up which stored version; ``latest`` marks each device's
    newest version, so a fleet search reads only the links it needs."""

    __tablename__ = "search_links"
    __table_args__ = (
        Index(None, "section_id", "latest"),
        Index(None, "tenant_id", "device_id", "latest"),
    )
    _repr_fields = ("version_id", "section_id", "latest")

    version_id: Mapped[int] = mapped_column(
        ForeignKey("config_versions.id", ondelete="CASCADE"), primary_key=True
    )
    section_id: Mapped[int] = mapped_column(
        ForeignKey("search_sections.id", ondelete="CASCADE"), primary_key=True
    )
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"))
    #: The version's number, so results need no read of the (wide) version rows.
    seq: Mapped[int] = mapped_column(Integer, default=0)
    latest: Mapped[bool] = mapped_column(Boolean, default=False)


class ComplianceRuleset(Base):
    """A tenant's compliance rules: the YAML text as loaded (checked when loaded)."""

    __tablename__ = "compliance_rulesets"
    _repr_fields = ("tenant_id", "updated_at")

    tenant_id: Mapped[int] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    text: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_by: Mapped[str | None] = mapped_column(String(200))


class ComplianceResult(Base):
    """One rule's current verdict on one router (its newest version), and since when."""

    __tablename__ = "compliance_results"
    __table_args__ = (Index(None, "tenant_id", "rule"),)
    _repr_fields = ("device_id", "rule", "ok")

    device_id: Mapped[int] = mapped_column(
        ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True
    )
    rule: Mapped[str] = mapped_column(String(128), primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    version_id: Mapped[int | None] = mapped_column(
        ForeignKey("config_versions.id", ondelete="SET NULL")
    )
    ok: Mapped[bool] = mapped_column(Boolean)
    severity: Mapped[str] = mapped_column(String(16))
    #: The lines that decided (the offending lines of a must-not; empty for a missing must).
    lines: Mapped[list[Any]] = mapped_column(default=list)
    since: Mapped[datetime] = mapped_column(default=utcnow)
    checked_at: Mapped[datetime] = mapped_column(default=utcnow)


class ComplianceChange(Base):
    """A violation that appeared or was resolved, in order: what notifications and the
    report's recent changes read."""

    __tablename__ = "compliance_changes"
    __table_args__ = (Index(None, "tenant_id", "at"),)
    _repr_fields = ("id", "device_id", "rule", "kind")

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"))
    rule: Mapped[str] = mapped_column(String(128))
    #: ``new`` (a violation appeared) or ``resolved``.
    kind: Mapped[str] = mapped_column(String(16))
    severity: Mapped[str] = mapped_column(String(16))
    version_id: Mapped[int | None] = mapped_column(
        ForeignKey("config_versions.id", ondelete="SET NULL")
    )
    at: Mapped[datetime] = mapped_column(default=utcnow)


class NotifyChannel(Base):
    """Where notifications go: a webhook (JSON, Slack/Mattermost or Teams payload, signed
    with HMAC-SHA256) or e-mail over SMTP. Everything secret -- the webhook URL (a Slack
    URL is a credential), the signing secret, the SMTP password -- is one encrypted JSON
    blob (vault purpose ``notify-channel``, bound to the id); ``config`` holds the rest."""

    __tablename__ = "notify_channels"
    __table_args__ = (UniqueConstraint("tenant_id", "name"), {"sqlite_autoincrement": True})
    _repr_fields = ("id", "tenant_id", "name", "kind")

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(64))
    #: ``webhook`` or ``email``.
    kind: Mapped[str] = mapped_column(String(16))
    #: Non-secret settings: payload format, URL host, SMTP host/port/sender/recipients.
    config: Mapped[dict[str, Any]] = mapped_column(default=dict)
    secrets_enc: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    created_by: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class NotifyRule(Base):
    """Which events of the tenant go to which channel, for which routers (tags, sites)."""

    __tablename__ = "notify_rules"
    __table_args__ = (UniqueConstraint("tenant_id", "name"), {"sqlite_autoincrement": True})
    _repr_fields = ("id", "tenant_id", "name", "channel_id")

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(64))
    channel_id: Mapped[int] = mapped_column(
        ForeignKey("notify_channels.id", ondelete="CASCADE"), index=True
    )
    #: Event kinds (``push-reverted``, ``backup-failing``, ...); empty: every kind.
    events: Mapped[list[Any]] = mapped_column(default=list)
    #: Only routers with one of these tags / at one of these sites; empty: any.
    tags: Mapped[list[Any]] = mapped_column(default=list)
    sites: Mapped[list[Any]] = mapped_column(default=list)
    #: ``backup-failing`` fires when a router's failed backups in a row reach this.
    backup_failures: Mapped[int] = mapped_column(Integer, default=3)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class NotifyEvent(Base):
    """Something a person should hear about, found once (``key`` is unique per tenant,
    so every worker may look and only one records it). ``dispatched_at`` is set once
    its deliveries are queued; an event left undispatched by a crash is queued again."""

    __tablename__ = "notify_events"
    __table_args__ = (
        UniqueConstraint("tenant_id", "key"),
        Index(None, "tenant_id", "at"),
        Index(None, "dispatched_at"),
        {"sqlite_autoincrement": True},
    )
    _repr_fields = ("id", "tenant_id", "kind", "key")

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    device_id: Mapped[int | None] = mapped_column(ForeignKey("devices.id", ondelete="SET NULL"))
    device_name: Mapped[str | None] = mapped_column(String(128))
    operation_id: Mapped[str | None] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(Text)
    #: The message's body fields (redacted before they are stored).
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    dispatched_at: Mapped[datetime | None]


class NotifyAttempt(Base):
    """One try to deliver one event to one channel, with what the receiver answered."""

    __tablename__ = "notify_attempts"
    __table_args__ = (Index(None, "tenant_id", "at"), {"sqlite_autoincrement": True})
    _repr_fields = ("id", "event_id", "channel_name", "attempt", "ok")

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    event_id: Mapped[int] = mapped_column(
        ForeignKey("notify_events.id", ondelete="CASCADE"), index=True
    )
    channel_id: Mapped[int | None] = mapped_column(
        ForeignKey("notify_channels.id", ondelete="SET NULL")
    )
    channel_name: Mapped[str] = mapped_column(String(64))
    #: 1, 2, 3, ... per (event, channel) delivery.
    attempt: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    ok: Mapped[bool] = mapped_column(Boolean)
    #: The receiver's answer: ``HTTP 200``, ``SMTP 250``, or the error that stopped us.
    status: Mapped[str] = mapped_column(Text)
    seconds: Mapped[float] = mapped_column(Float, default=0.0)
    #: True on the last attempt of a delivery that gave up.
    final: Mapped[bool] = mapped_column(Boolean, default=False)
