"""Inventory sources: routers from RANCID's router.db, Oxidized's CSV source, or an
HTTP JSON API (Oxidized's http source, NetBox), imported and kept in sync.

The public face every caller (CLI, API, schedules) uses. Inside: ``formats`` (reading
each format, pure), ``fetch`` (the HTTP source), ``plan`` (what a sync changes),
``service`` (sources and the sync), ``schedule`` (periodic sync). See
docs/inventory-sources.md.
"""

from tikguard.ops.inventory.fetch import SourceUnavailable
from tikguard.ops.inventory.formats import RowNote
from tikguard.ops.inventory.plan import Change, Plan, owner_tag
from tikguard.ops.inventory.schedule import (
    create_source,
    delete_source,
    drop_sync_schedule,
    set_sync_schedule,
    sync_schedules,
)
from tikguard.ops.inventory.service import (
    SourceView,
    SyncRefused,
    add_source,
    build_config,
    get_source,
    list_sources,
    remove_source,
    sync,
)

__all__ = [
    "Change",
    "Plan",
    "RowNote",
    "SourceUnavailable",
    "SourceView",
    "SyncRefused",
    "add_source",
    "build_config",
    "create_source",
    "delete_source",
    "drop_sync_schedule",
    "get_source",
    "list_sources",
    "owner_tag",
    "remove_source",
    "set_sync_schedule",
    "sync",
    "sync_schedules",
]
