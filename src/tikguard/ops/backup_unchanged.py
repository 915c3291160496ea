"""The daily case in bulk: routers whose configuration did not change.

Most backups of a fleet find nothing new. Recording each of them through the ORM one
by one costs more CPU than talking to the router, so a batch's unchanged routers are
found with one query (the newest version of each, secrets compared after decryption)
and recorded with two UPDATE statements: the versions' check time and the devices'
backup status and host-key verification time. Everything else (new versions, first
contact, failures, binary backups) goes the per-device way.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, undefer

from tikguard.ops.snapshot import Snapshot
from tikguard.store import versions as store_versions
from tikguard.store.models import ConfigVersion, Device


def record_unchanged(
    session: Session,
    tenant_id: int,
    candidates: Sequence[tuple[int, Snapshot]],
    now: datetime,
) -> dict[int, tuple[int, int]]:
    """Record the unchanged ones among ``(device_id, snapshot)``; return
    ``{device_id: (version id, version seq)}`` for those recorded.

    A candidate qualifies when its host key is the pinned one, it carries no binary
    backup, and its redacted text and secrets equal its newest version's.
    """
    wanted = {
        device_id: snap
        for device_id, snap in candidates
        if snap.binary is None and not snap.first_use
    }
    if not wanted:
        return {}
    rows = session.execute(
        select(Device.id, Device.host_key).where(
            Device.tenant_id == tenant_id, Device.id.in_(list(wanted))
        )
    )
    pinned: dict[int, str | None] = {row[0]: row[1] for row in rows}
    newest_seq = (
        select(ConfigVersion.device_id, func.max(ConfigVersion.seq).label("seq"))
        .where(ConfigVersion.tenant_id == tenant_id, ConfigVersion.device_id.in_(list(wanted)))
        .group_by(ConfigVersion.device_id)
        .subquery()
    )
    newest = session.scalars(
        select(ConfigVersion)
        .options(undefer(ConfigVersion.secrets_enc))
        .join(
            newest_seq,
            (ConfigVersion.device_id == newest_seq.c.device_id)
            & (ConfigVersion.seq == newest_seq.c.seq),
        )
        .where(ConfigVersion.tenant_id == tenant_id)
    ).all()
    same: dict[int, tuple[int, int]] = {}
    for version in newest:
        snap = wanted[version.device_id]
        if pinned.get(version.device_id) != snap.host_key:
            continue
        if version.sha256 != store_versions.hash_text(snap.redacted):
            continue
        if (version.secrets_count or 0) != len(snap.secrets):
            continue
        if snap.secrets and store_versions.get_secrets(session, tenant_id, version) != snap.secrets:
            continue
        same[version.device_id] = (version.id, version.seq)
    if not same:
        return {}
    version_ids = [vid for vid, _ in same.values()]
    quiet = {"synchronize_session": False}
    session.execute(
        update(ConfigVersion)
        .where(ConfigVersion.id.in_(version_ids))
        .values(last_checked_at=now)
        .execution_options(**quiet)
    )
    session.execute(
        update(Device)
        .where(Device.tenant_id == tenant_id, Device.id.in_(list(same)))
        .values(
            last_backup_status="unchanged",
            last_backup_error=None,
            last_backup_at=now,
            host_key_last_verified=now,
        )
        .execution_options(**quiet)
    )
    return same
