"""The device inventory: one service for the CLI, API, UI and benchmarks.

Every function takes the caller's tenant id and device ids (the CLI resolves a name
once with :func:`id_of`, the API an id or a name with :func:`resolve`); a device of
another tenant is "not found" exactly like one that does not exist. Every change is
audited with the caller's actor, whoever calls.

One concept per module: :mod:`.refs` (how a name or an id names a device, the embedded
default's tenant), :mod:`.views` (what a device shows), :mod:`.changes` (add, edit,
remove), :mod:`.csvimport` (an inventory CSV, read and imported), :mod:`.contact`
(what needs the router: add after a probe, probe, a changed host key). See
``docs/backups.md`` for the inventory as an operator uses it.
"""

from __future__ import annotations

from tikguard.ops.devices.changes import NewDevice, add, remove, update
from tikguard.ops.devices.contact import (
    HostKeyOffer,
    accept_host_key,
    add_probed,
    host_key_offer,
    probe_device,
)
from tikguard.ops.devices.csvimport import (
    INVENTORY_COLUMNS,
    ImportReport,
    InventoryRow,
    import_rows,
    parse_inventory,
)
from tikguard.ops.devices.refs import (
    MAX_ID,
    NAME_PREFIX,
    default_tenant_id,
    id_of,
    name_of,
    names_of,
    parse_ref,
    resolve,
    resolve_all,
)
from tikguard.ops.devices.views import DeviceView, get, list_all

__all__ = [
    "INVENTORY_COLUMNS",
    "MAX_ID",
    "NAME_PREFIX",
    "DeviceView",
    "HostKeyOffer",
    "ImportReport",
    "InventoryRow",
    "NewDevice",
    "accept_host_key",
    "add",
    "add_probed",
    "default_tenant_id",
    "get",
    "host_key_offer",
    "id_of",
    "import_rows",
    "list_all",
    "name_of",
    "names_of",
    "parse_inventory",
    "parse_ref",
    "probe_device",
    "remove",
    "resolve",
    "resolve_all",
    "update",
]
