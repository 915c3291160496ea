"""A push step whose process dies after its events were committed, but before DBOS
recorded the step, runs again on resume (in this or another worker): its events are
not written twice, and its outcome is not recorded twice."""

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
        events = [push_events.Noted("armed", "armed", at=time.time())]
        assert db.run(lambda s: push_events.append(s, spec, events, 7))
        assert not db.run(lambda s: push_events.append(s, spec, events, 7)), "a re-run"
        assert db.run(lambda s: push_events.append(s, spec, events, 8))  # the next step
        with db.session() as s:
            stored = store_ops.list_events(s, tenant.id, op.id)
        assert [e.data[push_events.STEP_KEY] for e in stored] == [7, 8]
    finally:
        db.dispose()
