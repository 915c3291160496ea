"""The two texts behind a diff (for side-by-side views): versions, or a version and live.

:func:`tikguard.ops.history.diff_versions` gives the diff itself; a side-by-side view
also needs both whole texts, redacted the same way.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from tikguard.ops import history
from tikguard.ops.backup.service import load_jobs
from tikguard.ops.backup.snapshot import take_snapshot
from tikguard.settings import Settings
from tikguard.store.db import Database


@dataclass(frozen=True)
class Pair:
    old_label: str
    old: str
    new_label: str
    new: str
    diff: history.VersionDiff


async def texts(
    db: Database, settings: Settings, tenant_id: int, name: str, old_ref: str, new_ref: str
) -> Pair:
    """Redacted texts of ``old_ref`` and ``new_ref`` (a version or ``live``) of ``name``."""
    old = await asyncio.to_thread(history.show_version, db, tenant_id, name, old_ref)
    old_label = f"{name}@{old.info.seq}"
    if new_ref.strip().lower() == history.LIVE:
        jobs = await asyncio.to_thread(lambda: load_jobs(db, tenant_id, names=[name]))
        snap = await take_snapshot(jobs[0].target, settings, known_version=jobs[0].known_version)
        new_text, new_label = snap.redacted, f"{name}@live"
    else:
        new = await asyncio.to_thread(history.show_version, db, tenant_id, name, new_ref)
        new_text, new_label = new.text, f"{name}@{new.info.seq}"
    found = history.compare(name, old.text, new_text, old_label, new_label)
    return Pair(old_label, old.text, new_label, new_text, found)
