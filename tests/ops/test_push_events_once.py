"""A push whose process dies after some of its events were committed runs its workflow
again on resume (in this or another worker), noting the same events in the same
places: those already stored are not written twice, and the outcome is not recorded
twice."""

from __future__ import annotations

import time
from pathlib import Path

from tikguard.ops.push import events as push_events
from tikguard.ops.push.results import PushSpec
from tikguard.settings import Settings
from tikguard.store import operations as store_ops
from tikguard.store.db import Database
from tikguard.store.tenants import ensure_tenant


def test_a_step_writes_its_events_once(tmp_path: Path) -> None:
    db = Database.open(Settings(data_dir=tmp_path))
    try:
        with db.transaction() as s:
            tenant = ensure_tenant(s)
            op, _ = store_ops.create_operation(s, tenant.id, kind="push", device_id=None)
            spec = PushSpec(op.id, tenant.id, 0)
        first = [push_events.Noted("armed", "armed", at=time.time(), n=1)]
        assert db.run(lambda s: push_events.append(s, spec, first))
        assert not db.run(lambda s: push_events.append(s, spec, first)), "a re-run"
        # a resumed run notes both again: only the second is new
        both = [*first, push_events.Noted("apply", "applied", at=time.time(), n=2)]
        assert db.run(lambda s: push_events.append(s, spec, both))
        with db.session() as s:
            stored = store_ops.list_events(s, tenant.id, op.id)
        assert [(e.stage, e.data[push_events.NOTE_KEY]) for e in stored] == [
            ("armed", 1),
            ("apply", 2),
        ]
    finally:
        db.dispose()
