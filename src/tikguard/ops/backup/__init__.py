"""Backups: read each router's configuration, store it as a version, mirror it to git.

The public face every caller (CLI, API, UI, schedules, benchmarks) uses. Inside:
``service`` (read, batch-write and mirror many devices at once), ``snapshot`` (one
router's export read and made comparable), ``workflow`` (a backup request as durable
operations), ``schedule`` (per-tenant timed backups). See docs/backups.md.
"""

from tikguard.ops.backup.schedule import (
    DAILY,
    BackupSchedule,
    change_schedule,
    drop_schedule,
    list_schedules,
    remove_schedule,
    schedule_name,
    set_schedule,
    tenant_schedules,
)
from tikguard.ops.backup.service import (
    BackupJob,
    BackupResult,
    Origin,
    backup,
    load_jobs,
    run_backups,
)
from tikguard.ops.backup.snapshot import ExportUnreadable, Snapshot, take_snapshot
from tikguard.ops.backup.workflow import start
from tikguard.ops.mirror import mirror_in_background, wait_for_mirror
from tikguard.ops.readings import BackupStatus

__all__ = [
    "DAILY",
    "BackupJob",
    "BackupResult",
    "BackupSchedule",
    "BackupStatus",
    "ExportUnreadable",
    "Origin",
    "Snapshot",
    "backup",
    "change_schedule",
    "drop_schedule",
    "list_schedules",
    "load_jobs",
    "mirror_in_background",
    "remove_schedule",
    "run_backups",
    "schedule_name",
    "set_schedule",
    "start",
    "take_snapshot",
    "tenant_schedules",
    "wait_for_mirror",
]
