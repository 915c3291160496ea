"""Operations, events and the audit log: idempotency, ordered events, final outcomes."""

from __future__ import annotations

import pytest

from tikguard.store.audit import audit, list_audit
from tikguard.store.db import Database
from tikguard.store.devices import add_device
from tikguard.store.errors import InvalidInput, NotFound, StateError
from tikguard.store.models import Device, Tenant
from tikguard.store.operations import (
    NewEvent,
    append_event,
    append_events,
    create_operation,
    finish_operation,
    get_operation,
    list_events,
    list_operations,
    merge_evidence,
    recent_event_values,
    set_state,
)


@pytest.fixture
def device(db: Database, tenant: Tenant) -> Device:
    with db.transaction() as s:
        return add_device(s, tenant.id, name="r1", host="10.0.0.1", username="admin")


def test_idempotency_key_returns_the_existing_operation(
    db: Database, tenant: Tenant, device: Device
) -> None:
    with db.transaction() as s:
        op1, created1 = create_operation(
            s,
            tenant.id,
            kind="push",
            device_id=device.id,
            idempotency_key="req-1",
            parameters={"window": 120},
        )
    with db.transaction() as s:
        op2, created2 = create_operation(
            s, tenant.id, kind="push", device_id=device.id, idempotency_key="req-1"
        )
    assert created1 and not created2 and op1.id == op2.id
    with db.session() as s:
        assert len(list_operations(s, tenant.id)) == 1
        assert get_operation(s, tenant.id, op1.id).parameters == {"window": 120}


def test_same_idempotency_key_in_another_tenant_is_another_operation(
    db: Database, tenant: Tenant, other_tenant: Tenant, device: Device
) -> None:
    with db.transaction() as s:
        op1, _ = create_operation(
            s, tenant.id, kind="push", device_id=device.id, idempotency_key="k"
        )
        op2, created = create_operation(
            s, other_tenant.id, kind="backup", device_id=None, idempotency_key="k"
        )
    assert created and op1.id != op2.id


def test_events_are_numbered_in_order_and_resumable(
    db: Database, tenant: Tenant, device: Device
) -> None:
    with db.transaction() as s:
        op, _ = create_operation(s, tenant.id, kind="push", device_id=device.id)
    for i in range(5):
        with db.transaction() as s:
            seq = append_event(
                s, tenant.id, op.id, stage="apply", message=f"step {i}", data={"i": i}
            )
            assert seq == i + 1
    with db.session() as s:
        assert [e.seq for e in list_events(s, tenant.id, op.id)] == [1, 2, 3, 4, 5]
        after = list_events(s, tenant.id, op.id, after_seq=3)
        assert [(e.seq, e.data["i"]) for e in after] == [(4, 3), (5, 4)]
        assert get_operation(s, tenant.id, op.id).last_event_seq == 5


def test_a_batch_of_events_takes_the_next_seqs_in_order(
    db: Database, tenant: Tenant, device: Device
) -> None:
    with db.transaction() as s:
        op, _ = create_operation(s, tenant.id, kind="push", device_id=device.id)
        append_event(s, tenant.id, op.id, stage="preflight", message="first")
    with db.transaction() as s:
        batch = [NewEvent("apply", f"line {i}", data={"step": i}) for i in range(3)]
        assert append_events(s, tenant.id, op.id, batch) == [2, 3, 4]
        assert append_events(s, tenant.id, op.id, []) == []
        with pytest.raises(InvalidInput, match="level"):  # nothing of a bad batch is written
            append_events(s, tenant.id, op.id, [NewEvent("a", "b"), NewEvent("c", "d", "loud")])
    with db.session() as s:
        events = list_events(s, tenant.id, op.id)
        assert [(e.seq, e.message) for e in events][1:] == [
            (2, "line 0"),
            (3, "line 1"),
            (4, "line 2"),
        ]
        assert get_operation(s, tenant.id, op.id).last_event_seq == 4
        assert recent_event_values(s, tenant.id, op.id, "step") == {0, 1, 2}
        assert recent_event_values(s, tenant.id, op.id, "step", within=2) == {1, 2}
        with pytest.raises(NotFound):
            append_events(s, tenant.id, "no-such-op", [NewEvent("a", "b")])


def test_outcome_never_flips(db: Database, tenant: Tenant, device: Device) -> None:
    with db.transaction() as s:
        op, _ = create_operation(s, tenant.id, kind="push", device_id=device.id)
        set_state(s, tenant.id, op.id, "running")
        merge_evidence(s, tenant.id, op.id, {"pre_push_sha256": "ab"})
        finish_operation(s, tenant.id, op.id, "committed", evidence={"timer_gone": True})
    with db.transaction() as s:
        finish_operation(s, tenant.id, op.id, "committed")  # idempotent
        with pytest.raises(StateError, match="already finished as committed"):
            finish_operation(s, tenant.id, op.id, "reverted")
        with pytest.raises(StateError):
            set_state(s, tenant.id, op.id, "running")
    with db.session() as s:
        done = get_operation(s, tenant.id, op.id)
        assert (done.state, done.outcome) == ("done", "committed")
        assert done.evidence == {"pre_push_sha256": "ab", "timer_gone": True}
        assert done.started_at is not None and done.finished_at is not None


def test_bad_values_are_refused(db: Database, tenant: Tenant, device: Device) -> None:
    with db.transaction() as s:
        with pytest.raises(InvalidInput, match="operation kind"):
            create_operation(s, tenant.id, kind="yolo", device_id=device.id)
        op, _ = create_operation(s, tenant.id, kind="restore", device_id=device.id)
        with pytest.raises(InvalidInput, match="outcome"):
            finish_operation(s, tenant.id, op.id, "probably-fine")
        with pytest.raises(InvalidInput, match="level"):
            append_event(s, tenant.id, op.id, stage="x", message="y", level="loud")


def test_operations_and_events_are_tenant_isolated(
    db: Database, tenant: Tenant, other_tenant: Tenant, device: Device
) -> None:
    with db.transaction() as s:
        op, _ = create_operation(s, tenant.id, kind="push", device_id=device.id)
        append_event(s, tenant.id, op.id, stage="plan", message="hello")
    with db.transaction() as s:
        with pytest.raises(NotFound):
            get_operation(s, other_tenant.id, op.id)
        with pytest.raises(NotFound):
            append_event(s, other_tenant.id, op.id, stage="plan", message="intrusion")
        with pytest.raises(NotFound):
            finish_operation(s, other_tenant.id, op.id, "failed")
        with pytest.raises(NotFound):
            create_operation(s, other_tenant.id, kind="push", device_id=device.id)
        assert list_events(s, other_tenant.id, op.id) == []
        assert list_operations(s, other_tenant.id) == []


def test_audit_log(db: Database, tenant: Tenant, other_tenant: Tenant) -> None:
    with db.transaction() as s:
        audit(s, tenant.id, actor="alice", action="device.add", target="r1", details={"host": "h"})
        audit(s, tenant.id, actor="bob", action="push", target="r1")
        audit(s, other_tenant.id, actor="eve", action="device.add", target="r9")
    with db.session() as s:
        entries = list_audit(s, tenant.id)
        assert [e.actor for e in entries] == ["bob", "alice"]
        assert [e.actor for e in list_audit(s, tenant.id, action="device.add")] == ["alice"]
        assert [e.actor for e in list_audit(s, other_tenant.id)] == ["eve"]


def test_racing_creates_with_one_idempotency_key_make_one_operation(
    db: Database, tenant: Tenant, device: Device
) -> None:
    import threading

    ids: list[str] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def create() -> None:
        try:
            barrier.wait()
            with db.transaction() as s:
                op, _ = create_operation(
                    s, tenant.id, kind="push", device_id=device.id, idempotency_key="same"
                )
                ids.append(op.id)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=create) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(set(ids)) == 1
    with db.session() as s:
        assert len(list_operations(s, tenant.id)) == 1


async def test_events_from_async_code(db: Database, tenant: Tenant, device: Device) -> None:
    def start(s: object) -> str:
        from sqlalchemy.orm import Session

        assert isinstance(s, Session)
        op, _ = create_operation(s, tenant.id, kind="backup", device_id=device.id)
        append_event(s, tenant.id, op.id, stage="export", message="reading /export")
        return op.id

    op_id = await db.run_async(start)
    events = await db.run_async(lambda s: list_events(s, tenant.id, op_id))
    assert [e.message for e in events] == ["reading /export"]
