"""Config versions: change-only, content-addressed history of each device.

The caller (the backup workflow) has already normalised the export and split the
sensitive values out (``tikguard.routeros``); this module takes that redacted text and
the secrets map. Every new version is indexed for the fleet search in the same
transaction (:mod:`tikguard.store.search_index`) and judged by the tenant's compliance
rules (:mod:`tikguard.store.compliance`): this is the one place versions are written,
so neither can miss one. A new version is stored only
when the text or the secrets differ from the device's newest version; otherwise the
newest version's ``last_checked_at`` moves.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Table, bindparam, func, insert, select, update
from sqlalchemy.orm import Session, undefer

from tikguard.store import compliance, search_index
from tikguard.store._util import vault_of
from tikguard.store.errors import InvalidInput, NotFound, VaultError
from tikguard.store.models import ConfigVersion, Device, Tenant, Trigger, utcnow

SECRETS_PURPOSE = "config-secrets"
BINARY_PURPOSE = "binary-backup"
_ZLIB_LEVEL = 6
_VERSIONS: Table = ConfigVersion.__table__  # type: ignore[assignment]


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


def _requester(actor: str | None) -> str | None:
    """Who asked, as the column holds it (the mirror makes it one trailer line)."""
    return actor[:200] if actor else None


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
    requested_by: str | None = None,
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
        requested_by=_requester(requested_by),
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
    search_index.index_versions(
        session,
        tenant_id,
        [
            search_index.Indexable(
                version.id, device_id, version.seq, normalised_redacted_text, ros_version
            )
        ],
    )
    compliance.evaluate_versions(session, tenant_id, [version.id])
    return version, True


@dataclass(frozen=True)
class BackupInput:
    """One device's backup for :func:`record_backups` (no binary backup: that goes
    through :func:`record_backup`)."""

    device_id: int
    normalised_redacted_text: str
    secrets: dict[str, str] = field(repr=False)
    ros_version: str | None


@dataclass(frozen=True)
class Recorded:
    """Where one device's backup went: a new version (``created``) or the newest one."""

    device_id: int
    version_id: int
    seq: int
    created: bool
    #: The version's content hash (of the normalised, redacted text).
    sha256: str = ""


def record_backups(
    session: Session,
    tenant_id: int,
    items: Sequence[BackupInput],
    *,
    trigger: str,
    operation_id: str | None = None,
    requested_by: str | None = None,
    operation_ids: Mapping[int, str] | None = None,
    now: datetime | None = None,
) -> dict[int, Recorded]:
    """:func:`record_backup` for many devices at once, with the same rules; returns
    ``{device_id: Recorded}``. Devices that are not (or no longer) in the tenant are
    left out of the answer, the others are recorded. A new version keeps
    ``requested_by`` and its operation: ``operation_ids[device_id]`` when given (one
    operation per device), else ``operation_id``.

    One query finds the devices' newest versions; the unchanged ones get their check
    time in one UPDATE; new versions are inserted in one statement and their secrets,
    encrypted and bound to the new row ids, written in one more. Runs in the caller's
    transaction; any error (bad text, database) raises and records nothing of the
    batch once the caller rolls back.
    """
    trigger = _check_trigger(trigger)
    requester = _requester(requested_by)
    if not items:
        return {}
    ids = [item.device_id for item in items]
    if len(set(ids)) != len(ids):
        raise InvalidInput("record_backups takes each device at most once")
    prepared: list[tuple[BackupInput, bytes, str, bytes]] = []
    for item in items:
        if not isinstance(item.normalised_redacted_text, str):
            raise InvalidInput("the config text must be str")
        raw = text_bytes(item.normalised_redacted_text)
        prepared.append((item, raw, hashlib.sha256(raw).hexdigest(), _encode_secrets(item.secrets)))
    # Tenant check, and on PostgreSQL row locks so two backups of one device cannot both
    # append the same next seq (SQLite: BEGIN IMMEDIATE does it).
    present = set(
        session.scalars(
            select(Device.id)
            .where(Device.tenant_id == tenant_id, Device.id.in_(ids))
            .with_for_update()
        )
    )
    now = now or utcnow()
    table = _VERSIONS
    c = table.c
    newest_seq = (
        select(c.device_id, func.max(c.seq).label("seq"))
        .where(c.tenant_id == tenant_id, c.device_id.in_(list(present)))
        .group_by(c.device_id)
        .subquery()
    )
    newest: dict[int, Any] = {
        row.device_id: row
        for row in session.execute(
            select(c.id, c.device_id, c.seq, c.sha256, c.secrets_enc, c.secrets_count)
            .join(
                newest_seq,
                (c.device_id == newest_seq.c.device_id) & (c.seq == newest_seq.c.seq),
            )
            .where(c.tenant_id == tenant_id)
        )
    }
    vault = vault_of(session)
    out: dict[int, Recorded] = {}
    touched: list[int] = []
    new_rows: list[tuple[BackupInput, bytes, str, bytes, Any]] = []
    for item, raw, sha, plain in prepared:
        if item.device_id not in present:
            continue
        old = newest.get(item.device_id)
        if old is not None and old.sha256 == sha and (old.secrets_count or 0) == len(item.secrets):
            same = not item.secrets or (
                old.secrets_enc is not None
                and _decode_secrets(
                    vault.decrypt(session, tenant_id, SECRETS_PURPOSE, old.id, old.secrets_enc)
                )
                == item.secrets
            )
            if same:
                touched.append(old.id)
                out[item.device_id] = Recorded(item.device_id, old.id, old.seq, False, sha)
                continue
        new_rows.append((item, raw, sha, plain, old))
    if touched:
        session.execute(
            update(table).where(c.id.in_(touched)).values(last_checked_at=now),
            execution_options={"synchronize_session": False},
        )
    if not new_rows:
        return out
    changed = [old.id for _, _, sha, _, old in new_rows if old is not None and old.sha256 != sha]
    old_texts: dict[int, bytes] = (
        {
            row.id: row.content
            for row in session.execute(select(c.id, c.content).where(c.id.in_(changed)))
        }
        if changed
        else {}
    )
    values: list[dict[str, Any]] = []
    for item, raw, sha, _, old in new_rows:
        text = item.normalised_redacted_text
        lines = len(text.splitlines())
        if old is None:
            added, removed = lines, 0
        elif old.sha256 == sha:
            added = removed = 0
        else:
            added, removed = count_changes(_decompress(old.id, old_texts[old.id]), text)
        values.append(
            {
                "tenant_id": tenant_id,
                "device_id": item.device_id,
                "seq": (old.seq + 1) if old is not None else 1,
                "sha256": sha,
                "content": zlib.compress(raw, _ZLIB_LEVEL),
                "size": len(raw),
                "line_count": lines,
                "secrets_count": len(item.secrets),
                "trigger": trigger,
                "operation_id": (operation_ids or {}).get(item.device_id, operation_id),
                "requested_by": requester,
                "lines_added": added,
                "lines_removed": removed,
                "secrets_changed_only": old is not None and old.sha256 == sha,
                "ros_version": item.ros_version,
                "created_at": now,
                "last_checked_at": now,
            }
        )
    new_ids = list(
        session.scalars(insert(table).returning(c.id, sort_by_parameter_order=True), values)
    )
    search_index.index_versions(
        session,
        tenant_id,
        [
            search_index.Indexable(
                version_id,
                item.device_id,
                row["seq"],
                item.normalised_redacted_text,
                item.ros_version,
            )
            for (item, _, _, _, _), version_id, row in zip(new_rows, new_ids, values, strict=True)
        ],
    )
    compliance.evaluate_versions(session, tenant_id, new_ids)
    secret_rows: list[dict[str, Any]] = []
    key_version: int | None = None
    for (item, _, sha, plain, _), version_id, row in zip(new_rows, new_ids, values, strict=True):
        out[item.device_id] = Recorded(item.device_id, version_id, row["seq"], True, sha)
        if not item.secrets:
            continue
        if key_version is None:
            key_version = _current_key_version(session, tenant_id)
        blob = vault.encrypt_with(
            session, tenant_id, key_version, SECRETS_PURPOSE, version_id, plain
        )
        secret_rows.append({"b_id": version_id, "b_enc": blob})
    if secret_rows:
        session.execute(
            update(table).where(c.id == bindparam("b_id")).values(secrets_enc=bindparam("b_enc")),
            secret_rows,
        )
    return out


def _current_key_version(session: Session, tenant_id: int) -> int:
    """The tenant's current data key version, read as :meth:`Vault.encrypt` reads it (a
    key-share lock on PostgreSQL, so a data-key rotation waits for this transaction)."""
    version = session.scalar(
        select(Tenant.data_key_version)
        .where(Tenant.id == tenant_id)
        .with_for_update(read=True, key_share=True)
    )
    if version is None:
        raise VaultError(f"tenant {tenant_id} does not exist")
    return int(version)


def _attach_binary(session: Session, version: ConfigVersion, data: bytes, now: datetime) -> None:
    version.binary_backup_enc = vault_of(session).encrypt(
        session, version.tenant_id, BINARY_PURPOSE, version.id, data
    )
    version.binary_backup_size = len(data)
    version.binary_backup_at = now


def version_text(version: ConfigVersion) -> str:
    """The normalised, redacted export of a version (decompressed)."""
    return _decompress(version.id, version.content)


def _decompress(version_id: int, content: bytes) -> str:
    try:
        return zlib.decompress(content).decode("utf-8", "surrogateescape")
    except (zlib.error, UnicodeDecodeError) as exc:
        raise VaultError(f"config version {version_id} content is corrupt") from exc


def _decode_secrets(plain: bytes) -> dict[str, str]:
    loaded = json.loads(plain)
    assert isinstance(loaded, dict)
    return {str(k): str(v) for k, v in loaded.items()}


def get_secrets(session: Session, tenant_id: int, version: ConfigVersion) -> dict[str, str]:
    """The sensitive values of a version, decrypted. Only call when they are needed."""
    if version.tenant_id != tenant_id:
        raise NotFound(f"config version {version.id} does not exist")
    if version.secrets_enc is None:
        return {}
    plain = vault_of(session).decrypt(
        session, tenant_id, SECRETS_PURPOSE, version.id, version.secrets_enc
    )
    return _decode_secrets(plain)


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
