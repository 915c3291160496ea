"""Backups started from the API or UI: an operation per device, run as a durable workflow.

A request answers at once with operation ids; one DBOS workflow backs the devices up
(bounded concurrency, see :mod:`tikguard.ops.backup`) and records each device's
result as events and an outcome (``succeeded`` or ``failed``) on its operation, so the
same operation pages and event streams serve backups and pushes. A controller that
dies mid-way resumes the workflow on its next start; backing up twice is harmless.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from dbos import DBOS

from tikguard.ops import runtime
from tikguard.ops.backup.service import BackupResult, Origin, backup
from tikguard.ops.readings import BackupStatus
from tikguard.store import operations as store_ops
from tikguard.store.audit import audit
from tikguard.store.db import Database
from tikguard.store.models import OperationKind, OperationState, Outcome, Trigger

WORKFLOW_NAME = "tikguard.backup.operations"


def create_operations(
    db: Database, tenant_id: int, device_ids: Sequence[int], *, requested_by: str
) -> list[tuple[str, int]]:
    """One pending backup operation per device (ids checked in the tenant)."""

    def write(session: Any) -> list[tuple[str, int]]:
        out: list[tuple[str, int]] = []
        for device_id in device_ids:
            op, _ = store_ops.create_operation(
                session,
                tenant_id,
                kind=OperationKind.BACKUP.value,
                device_id=device_id,
                parameters={"trigger": Trigger.MANUAL.value},
                requested_by=requested_by,
            )
            store_ops.append_event(
                session, tenant_id, op.id, stage="queued", message="backup queued"
            )
            out.append((op.id, device_id))
        audit(
            session,
            tenant_id,
            actor=requested_by,
            action="backup.start",
            details={"devices": list(device_ids), "operations": [o for o, _ in out]},
        )
        return out

    return db.run(write)


async def start(
    db: Database, tenant_id: int, device_ids: Sequence[int], *, requested_by: str
) -> list[str]:
    """Create the operations and start the workflow; returns at once with their ids."""
    pairs = await asyncio.to_thread(
        create_operations, db, tenant_id, device_ids, requested_by=requested_by
    )
    runtime.current()  # raises when no engine runs in this process
    payload = {"tenant_id": tenant_id, "ops": [[op_id, dev] for op_id, dev in pairs]}
    await DBOS.start_workflow_async(backup_operations, payload)
    return [op_id for op_id, _ in pairs]


def _record(db: Database, tenant_id: int, op_id: str, result: BackupResult) -> None:
    reason, shown, hint = result.for_tenant()
    with db.transaction() as session:
        ok = result.status is not BackupStatus.FAILED
        if result.status is BackupStatus.CHANGED:
            message = f"new version {result.version} stored"
        elif result.status is BackupStatus.UNCHANGED:
            message = f"configuration unchanged (version {result.version})"
        else:
            message = shown or "backup failed"
        store_ops.append_event(
            session,
            tenant_id,
            op_id,
            stage="backup",
            level="info" if ok else "error",
            message=message,
            data={
                "status": result.status.value,
                "version": result.version,
                "reason": reason,
                "hint": hint,
                "seconds": round(result.seconds, 3),
            },
        )
        store_ops.finish_operation(
            session,
            tenant_id,
            op_id,
            Outcome.SUCCEEDED.value if ok else Outcome.FAILED.value,
            evidence={"status": result.status.value, "version": result.version},
            error=None if ok else message,
        )


@DBOS.step(name="tikguard.backup.operations.run")
async def _run(payload: dict[str, Any]) -> dict[str, str]:
    settings = runtime.current().settings
    db = Database.shared(settings)
    tenant_id = int(payload["tenant_id"])
    ops = {int(dev): str(op_id) for op_id, dev in payload["ops"]}

    def begin(session: Any) -> str:
        requested_by = "system"
        for op_id in ops.values():
            op = store_ops.get_operation(session, tenant_id, op_id)
            requested_by = op.requested_by or requested_by
            if op.state == OperationState.DONE.value:
                continue
            store_ops.set_state(session, tenant_id, op_id, OperationState.RUNNING.value)
            store_ops.append_event(
                session, tenant_id, op_id, stage="connect", message="reading the configuration"
            )
        return requested_by

    requested_by = await db.run_async(begin)
    origin = Origin(requested_by, operations=ops)
    results = await backup(db, settings, tenant_id, device_ids=list(ops), origin=origin)
    out: dict[str, str] = {}
    for result in results:
        op_id = ops[result.device_id]
        await asyncio.to_thread(_record, db, tenant_id, op_id, result)
        out[op_id] = result.status.value
    return out


@DBOS.workflow(name=WORKFLOW_NAME)
async def backup_operations(payload: dict[str, Any]) -> dict[str, str]:
    """Back up the devices of ``payload`` and finish their operations."""
    return await _run(payload)
