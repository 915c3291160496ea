"""Config versions: change-only, content-addressed history of each device.

The caller (the backup workflow) has already normalised the export and split the
sensitive values out (``tikguard.routeros``); this module takes that redacted text and
the secrets map, so it does not depend on the parser. A new version is stored only
when the text or the secrets differ from the device's newest version; otherwise the
newest version's ``last_checked_at`` moves.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import zlib
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, undefer

from tikguard.store._util import vault_of
from tikguard.store.errors import InvalidInput, NotFound, VaultError
from tikguard.store.models import ConfigVersion, Device, Trigger, utcnow

SECRETS_PURPOSE = "config-secrets"
BINARY_PURPOSE = "binary-backup"
_ZLIB_LEVEL = 6


def text_bytes(text: str) -> bytes:
    """The bytes of an export text. Bytes the router sent that are not UTF-8 (CP1251
    comments on 6.x, ...) arrive as lone surrogates (``surrogateescape``, the
    convention of :mod:`tikguard.routeros.lexer`) and go back to those same bytes."""
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError as exc:
        raise InvalidInput(
            f"the config text has a character at offset {exc.start} that is neither text nor"
            " a byte from the router; nothing was stored"
        ) from None


def hash_text(text: str) -> str:
    """The content address of a normalised, redacted export: sha256 hex of its bytes."""
    return hashlib.sha256(text_bytes(text)).hexdigest()


def count_changes(old: str, new: str) -> tuple[int, int]:
    """Lines added and removed from ``old`` to ``new`` (as a unified diff shows them)."""
    added = removed = 0
    for line in difflib.unified_diff(old.splitlines(), new.splitlines(), lineterm="", n=0):
        if line.startswith("+") and not line.startswith("+++"):
            added += 1
        elif line.startswith("-") and not line.startswith("---"):
            removed += 1
    return added, removed


def _encode_secrets(secrets: dict[str, str]) -> bytes:
    for key, value in secrets.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise InvalidInput("secrets must map text keys to text values")
    # ensure_ascii (the default) writes lone surrogates as \\udcXX escapes: they survive.
    return json.dumps(secrets, sort_keys=True, separators=(",", ":")).encode("ascii")


def _check_trigger(trigger: str) -> str:
    try:
        return Trigger(trigger).value
    except ValueError:
        allowed = ", ".join(t.value for t in Trigger)
        raise InvalidInput(f"unknown backup trigger {trigger!r} (one of: {allowed})") from None


def latest_version(session: Session, tenant_id: int, device_id: int) -> ConfigVersion | None:
    """The device's newest version, or None when it has none."""
    return session.scalar(
        select(ConfigVersion)
        .where(ConfigVersion.tenant_id == tenant_id, ConfigVersion.device_id == device_id)
        .order_by(ConfigVersion.seq.desc())
        .limit(1)
    )


def record_backup(
    session: Session,
    tenant_id: int,
    device_id: int,
    *,
    normalised_redacted_text: str,
    secrets: dict[str, str],
    ros_version: str | None,
    trigger: str,
    operation_id: str | None = None,
    binary_backup: bytes | None = None,
    now: datetime | None = None,
) -> tuple[ConfigVersion, bool]:
    """Store a backup; return (version, created). ``created`` is False for no change.

    Unchanged means same text hash and same secrets as the newest version; then only
    its ``last_checked_at`` moves (and a given binary backup replaces the one kept).
    Runs in the caller's transaction; use ``Database.transaction()`` so concurrent
    backups of one device queue on the write lock.
    """
    if not isinstance(normalised_redacted_text, str):
        raise InvalidInput("the config text must be str")
    trigger = _check_trigger(trigger)
    # Tenant check (NotFound otherwise), and on PostgreSQL a row lock so two backups of
    # one device cannot both append the same next seq (SQLite: BEGIN IMMEDIATE does it).
    locked = session.scalar(
        select(Device.id)
        .where(Device.tenant_id == tenant_id, Device.id == device_id)
        .with_for_update()
    )
    if locked is None:
        raise NotFound(f"device {device_id} does not exist")
    now = now or utcnow()
    raw = text_bytes(normalised_redacted_text)
    sha = hashlib.sha256(raw).hexdigest()
    secrets_plain = _encode_secrets(secrets)
    vault = vault_of(session)
    newest = session.scalar(
        select(ConfigVersion)
        .options(undefer(ConfigVersion.secrets_enc))
        .where(ConfigVersion.tenant_id == tenant_id, ConfigVersion.device_id == device_id)
        .order_by(ConfigVersion.seq.desc())
        .limit(1)
    )

    if newest is not None and newest.sha256 == sha:
        old_secrets = get_secrets(session, tenant_id, newest)
        if old_secrets == secrets:
            newest.last_checked_at = now
            if binary_backup is not None:
                _attach_binary(session, newest, binary_backup, now)
            session.flush()
            return newest, False

    added, removed = (
        count_changes(version_text(newest), normalised_redacted_text)
        if newest is not None
        else (len(normalised_redacted_text.splitlines()), 0)
    )
    version = ConfigVersion(
        tenant_id=tenant_id,
        device_id=device_id,
        seq=(newest.seq + 1) if newest is not None else 1,
        sha256=sha,
        content=zlib.compress(raw, _ZLIB_LEVEL),
        size=len(raw),
        line_count=len(normalised_redacted_text.splitlines()),
        secrets_count=len(secrets),
        trigger=trigger,
        operation_id=operation_id,
        lines_added=added,
        lines_removed=removed,
        secrets_changed_only=newest is not None and newest.sha256 == sha,
        ros_version=ros_version,
        created_at=now,
        last_checked_at=now,
    )
    session.add(version)
    session.flush()  # the id binds the encrypted blobs to this row
    if secrets:
        version.secrets_enc = vault.encrypt(
            session, tenant_id, SECRETS_PURPOSE, version.id, secrets_plain
        )
    if binary_backup is not None:
        _attach_binary(session, version, binary_backup, now)
    session.flush()
    return version, True


def _attach_binary(session: Session, version: ConfigVersion, data: bytes, now: datetime) -> None:
    version.binary_backup_enc = vault_of(session).encrypt(
        session, version.tenant_id, BINARY_PURPOSE, version.id, data
    )
    version.binary_backup_size = len(data)
    version.binary_backup_at = now


def version_text(version: ConfigVersion) -> str:
    """The normalised, redacted export of a version (decompressed)."""
    try:
        return zlib.decompress(version.content).decode("utf-8", "surrogateescape")
    except (zlib.error, UnicodeDecodeError) as exc:
        raise VaultError(f"config version {version.id} content is corrupt") from exc


def get_secrets(session: Session, tenant_id: int, version: ConfigVersion) -> dict[str, str]:
    """The sensitive values of a version, decrypted. Only call when they are needed."""
    if version.tenant_id != tenant_id:
        raise NotFound(f"config version {version.id} does not exist")
    if version.secrets_enc is None:
        return {}
    plain = vault_of(session).decrypt(
        session, tenant_id, SECRETS_PURPOSE, version.id, version.secrets_enc
    )
    loaded = json.loads(plain)
    assert isinstance(loaded, dict)
    return {str(k): str(v) for k, v in loaded.items()}


def get_binary_backup(session: Session, tenant_id: int, version: ConfigVersion) -> bytes | None:
    """The binary (``/system backup``) file kept with a version, decrypted, if any."""
    if version.tenant_id != tenant_id:
        raise NotFound(f"config version {version.id} does not exist")
    if version.binary_backup_enc is None:
        return None
    return vault_of(session).decrypt(
        session, tenant_id, BINARY_PURPOSE, version.id, version.binary_backup_enc
    )


def list_versions(
    session: Session,
    tenant_id: int,
    device_id: int,
    *,
    limit: int | None = None,
    before_seq: int | None = None,
) -> list[ConfigVersion]:
    """A device's versions, newest first (blobs not loaded)."""
    query = (
        select(ConfigVersion)
        .where(ConfigVersion.tenant_id == tenant_id, ConfigVersion.device_id == device_id)
        .order_by(ConfigVersion.seq.desc())
    )
    if before_seq is not None:
        query = query.where(ConfigVersion.seq < before_seq)
    if limit is not None:
        query = query.limit(limit)
    return list(session.scalars(query))


def count_versions(session: Session, tenant_id: int, device_id: int) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(ConfigVersion)
            .where(ConfigVersion.tenant_id == tenant_id, ConfigVersion.device_id == device_id)
        )
        or 0
    )


def get_version(session: Session, tenant_id: int, version_id: int) -> ConfigVersion:
    """A version by its id, in this tenant only."""
    version = session.scalar(
        select(ConfigVersion)
        .options(undefer(ConfigVersion.content))
        .where(ConfigVersion.tenant_id == tenant_id, ConfigVersion.id == version_id)
    )
    if version is None:
        raise NotFound(f"config version {version_id} does not exist")
    return version


def get_version_by_seq(session: Session, tenant_id: int, device_id: int, seq: int) -> ConfigVersion:
    """A device's version by its number (1, 2, 3, ...); negative counts from the newest."""
    if seq < 0:
        versions = list_versions(session, tenant_id, device_id, limit=-seq)
        if len(versions) < -seq:
            raise NotFound(f"device {device_id} has only {len(versions)} versions")
        return versions[-1]
    version = session.scalar(
        select(ConfigVersion).where(
            ConfigVersion.tenant_id == tenant_id,
            ConfigVersion.device_id == device_id,
            ConfigVersion.seq == seq,
        )
    )
    if version is None:
        raise NotFound(f"device {device_id} has no version {seq}")
    return version


def find_versions_by_hash(
    session: Session, tenant_id: int, device_id: int, sha256: str
) -> list[ConfigVersion]:
    """The device's versions whose redacted text has this hash, newest first."""
    return list(
        session.scalars(
            select(ConfigVersion)
            .where(
                ConfigVersion.tenant_id == tenant_id,
                ConfigVersion.device_id == device_id,
                ConfigVersion.sha256 == sha256,
            )
            .order_by(ConfigVersion.seq.desc())
        )
    )


@dataclass(frozen=True)
class VersionDetail:
    """A version with its text, and its secrets only when asked for."""

    version: ConfigVersion
    text: str
    secrets: dict[str, str] | None

    def __repr__(self) -> str:
        shown = "hidden" if self.secrets is None else f"{len(self.secrets)} values"
        return f"VersionDetail(version={self.version!r}, secrets={shown})"


def version_detail(
    session: Session, tenant_id: int, version_id: int, *, with_secrets: bool = False
) -> VersionDetail:
    """Text (decompressed) and, on explicit request, decrypted secrets of a version."""
    version = get_version(session, tenant_id, version_id)
    secrets = get_secrets(session, tenant_id, version) if with_secrets else None
    return VersionDetail(version, version_text(version), secrets)
