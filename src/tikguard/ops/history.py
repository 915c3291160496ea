"""A device's configuration history: list, show, and diff versions (or against live).

Versions are shown redacted; the secrets come back only when a caller asks for them
explicitly (the API gates that on the admin role). Diffs are both semantic (per menu
and item, from :mod:`tikguard.routeros.diff`) and unified (line by line, as ``git``
shows them), between two stored versions or between a version and the router now
(drift).
"""

from __future__ import annotations

import asyncio
import difflib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tikguard.routeros import secrets as ros_secrets
from tikguard.routeros.diff import Diff, diff
from tikguard.routeros.errors import ParseError
from tikguard.routeros.parse import parse
from tikguard.settings import Settings
from tikguard.store import devices as store_devices
from tikguard.store import versions as store_versions
from tikguard.store.db import Database
from tikguard.store.errors import InvalidInput, NotFound
from tikguard.store.models import ConfigVersion

#: What ``diff NAME V1 live`` compares against.
LIVE = "live"


@dataclass(frozen=True)
class VersionInfo:
    """One version's metadata (no content, no secrets)."""

    seq: int
    id: int
    created_at: datetime
    last_checked_at: datetime
    trigger: str
    ros_version: str | None
    sha256: str
    lines_added: int
    lines_removed: int
    line_count: int
    secrets_count: int
    secrets_changed_only: bool
    binary_backup_size: int | None
    operation_id: str | None

    @classmethod
    def of(cls, v: ConfigVersion) -> VersionInfo:
        return cls(
            seq=v.seq,
            id=v.id,
            created_at=v.created_at,
            last_checked_at=v.last_checked_at,
            trigger=v.trigger,
            ros_version=v.ros_version,
            sha256=v.sha256,
            lines_added=v.lines_added,
            lines_removed=v.lines_removed,
            line_count=v.line_count,
            secrets_count=v.secrets_count,
            secrets_changed_only=v.secrets_changed_only,
            binary_backup_size=v.binary_backup_size,
            operation_id=v.operation_id,
        )


@dataclass(frozen=True)
class VersionText:
    """A version's export text: redacted unless ``with_secrets`` was asked for."""

    device: str
    info: VersionInfo
    text: str
    with_secrets: bool


@dataclass(frozen=True)
class VersionDiff:
    """From ``old_label`` to ``new_label``: semantic diff plus unified text diff."""

    device: str
    old_label: str
    new_label: str
    semantic: Diff | None
    #: Why there is no semantic diff (a text the parser could not read), else None.
    semantic_error: str | None
    unified: str
    #: Both whole redacted texts, for a side-by-side view (not in :meth:`fields`).
    old_text: str = field(default="", repr=False)
    new_text: str = field(default="", repr=False)

    @property
    def empty(self) -> bool:
        return not self.unified

    def fields(self) -> dict[str, Any]:
        """The diff as the API's ``DiffOut`` and ``tikguard diff --json`` show it."""
        return {
            "device": self.device,
            "old": self.old_label,
            "new": self.new_label,
            "empty": self.empty,
            "semantic": self.semantic.to_text() if self.semantic is not None else None,
            "summary": self.semantic.summary() if self.semantic is not None else None,
            "semantic_error": self.semantic_error,
            "unified": self.unified,
        }


def parse_version_ref(ref: str | int | None) -> int | None:
    """``3`` / ``-1`` (newest) / ``latest`` / None (newest) -> seq, negative from newest."""
    if ref is None:
        return -1
    if isinstance(ref, int):
        return ref
    text = ref.strip().lower()
    if text in ("latest", "newest", "head"):
        return -1
    try:
        value = int(text.lstrip("v"))
    except ValueError:
        raise InvalidInput(
            f"{ref!r} is not a version: give its number (see `tikguard history`), "
            "-1 or latest for the newest, or `live`"
        ) from None
    if value == 0:
        raise InvalidInput("versions are numbered from 1 (or -1 for the newest)")
    return value


def _device_id(db: Database, tenant_id: int, name: str) -> int:
    with db.session() as session:
        return store_devices.get_device_by_name(session, tenant_id, name).id


def list_history(
    db: Database, tenant_id: int, name: str, *, limit: int | None = None
) -> list[VersionInfo]:
    """The device's versions, newest first."""
    with db.session() as session:
        device = store_devices.get_device_by_name(session, tenant_id, name)
        versions = store_versions.list_versions(session, tenant_id, device.id, limit=limit)
        return [VersionInfo.of(v) for v in versions]


def show_version(
    db: Database,
    tenant_id: int,
    name: str,
    ref: str | int | None = None,
    *,
    with_secrets: bool = False,
) -> VersionText:
    """A version's text (default: the newest), redacted unless ``with_secrets``."""
    seq = parse_version_ref(ref)
    with db.session() as session:
        device = store_devices.get_device_by_name(session, tenant_id, name)
        found = _by_seq(session, tenant_id, device.id, name, seq or -1)
        version = store_versions.get_version(session, tenant_id, found.id)
        text = store_versions.version_text(version)
        if with_secrets:
            text = ros_secrets.merge_text_secrets(
                text, store_versions.get_secrets(session, tenant_id, version)
            )
        return VersionText(name, VersionInfo.of(version), text, with_secrets)


def unified(old: str, new: str, old_label: str, new_label: str) -> str:
    """A unified diff (three lines of context), empty when the texts are equal."""
    lines = difflib.unified_diff(
        old.splitlines(keepends=True),
        new.splitlines(keepends=True),
        fromfile=old_label,
        tofile=new_label,
    )
    return "".join(lines)


def compare(device: str, old: str, new: str, old_label: str, new_label: str) -> VersionDiff:
    """Semantic and unified diff of two redacted texts."""
    semantic: Diff | None = None
    error: str | None = None
    try:
        semantic = diff(parse(old, old_label), parse(new, new_label))
    except ParseError as exc:
        error = exc.describe()
    return VersionDiff(
        device,
        old_label,
        new_label,
        semantic,
        error,
        unified(old, new, old_label, new_label),
        old_text=old,
        new_text=new,
    )


def _by_seq(session: Any, tenant_id: int, device_id: int, name: str, seq: int) -> ConfigVersion:
    """A version by number, or NotFound naming the device as a person knows it."""
    try:
        return store_versions.get_version_by_seq(session, tenant_id, device_id, seq)
    except NotFound:
        count = len(store_versions.list_versions(session, tenant_id, device_id))
        what = f"version {seq}" if seq > 0 else f"{-seq} versions back (it has {count})"
        raise NotFound(
            f"{name} has no {what}" if count else f"{name} has no versions yet",
            hint=f"see `tikguard history {name}`; -1 or latest is the newest"
            if count
            else f"back it up first: `tikguard backup {name}`",
        ) from None


def _text_of(db: Database, tenant_id: int, device_id: int, name: str, seq: int) -> tuple[int, str]:
    with db.session() as session:
        found = _by_seq(session, tenant_id, device_id, name, seq)
        version = store_versions.get_version(session, tenant_id, found.id)
        return version.seq, store_versions.version_text(version)


async def diff_versions(
    db: Database,
    settings: Settings,
    tenant_id: int,
    name: str,
    old_ref: str | int | None,
    new_ref: str | int | None = None,
) -> VersionDiff:
    """Diff two versions (default new: the newest), or a version and ``live`` (drift)."""
    device_id = await asyncio.to_thread(_device_id, db, tenant_id, name)
    old_seq, old_text = await asyncio.to_thread(
        _text_of, db, tenant_id, device_id, name, parse_version_ref(old_ref) or -1
    )
    old_label = f"{name}@{old_seq}"
    if isinstance(new_ref, str) and new_ref.strip().lower() == LIVE:
        # Only a diff against the router needs the backup engine (SSH, DBOS): a diff of
        # stored versions does not load it.
        from tikguard.ops.backup.service import load_jobs
        from tikguard.ops.backup.snapshot import take_snapshot

        jobs = await asyncio.to_thread(load_jobs, db, tenant_id, device_ids=[device_id])
        job = jobs[0]
        snapshot = await take_snapshot(job.target, settings, known_version=job.known_version)
        return compare(name, old_text, snapshot.redacted, old_label, f"{name}@live")
    new_seq, new_text = await asyncio.to_thread(
        _text_of, db, tenant_id, device_id, name, parse_version_ref(new_ref) or -1
    )
    return compare(name, old_text, new_text, old_label, f"{name}@{new_seq}")
