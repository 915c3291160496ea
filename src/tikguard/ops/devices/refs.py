"""How a caller names a device: by id or by name, in its tenant.

The CLI resolves a name once (:func:`id_of`); the API takes an id or a name on every
path and body (:func:`resolve`, one rule in :func:`parse_ref`), so the same text never
means two routers. Also the tenant the CLI works in on the embedded default.
"""

from __future__ import annotations

from tikguard.store import devices as store_devices
from tikguard.store import tenants as store_tenants
from tikguard.store.db import Database
from tikguard.store.errors import InvalidInput

#: The largest row id the database holds (a signed 64-bit integer).
MAX_ID = 2**63 - 1
#: Marks a reference as a name whatever it looks like (``name:1001`` is the router
#: called ``1001``, not the device with id 1001).
NAME_PREFIX = "name:"


def default_tenant_id(db: Database, name: str = store_tenants.DEFAULT_TENANT) -> int:
    """The tenant the CLI works in on the embedded default (created on first use)."""
    with db.transaction() as session:
        return store_tenants.ensure_tenant(session, name).id


def id_of(db: Database, tenant_id: int, name: str) -> int:
    """The id of the device called ``name`` (how the CLI turns a name into an id, once)."""
    with db.session() as session:
        return store_devices.get_device_by_name(session, tenant_id, name).id


def parse_ref(ref: int | str) -> int | str:
    """How callers that take ids or names (the API) read a device reference: an int or
    a string of ASCII digits is an id; ``name:X`` is the name ``X``; anything else is a
    name. One rule, so the same text never means two routers; since names are letters,
    digits, ``.``, ``-`` and ``_``, only an all-digit name needs ``name:``."""
    if isinstance(ref, int):
        digits = str(ref)
    elif ref.startswith(NAME_PREFIX):
        return ref[len(NAME_PREFIX) :]
    elif ref.isascii() and ref.isdigit():
        digits = ref
    else:
        return ref
    value = int(digits)
    if not 1 <= value <= MAX_ID:
        raise InvalidInput(
            f"device id {digits} is out of range",
            hint=f"ids are 1 to {MAX_ID}; write {NAME_PREFIX}{digits} for a router of that name",
        )
    return value


def resolve(db: Database, tenant_id: int, ref: int | str) -> int:
    """The device id of ``ref`` (see :func:`parse_ref`). A name is looked up in the
    tenant (NotFound otherwise); an id is returned as given: every operation that uses
    it checks it in the tenant."""
    parsed = parse_ref(ref)
    if isinstance(parsed, int):
        return parsed
    return id_of(db, tenant_id, parsed)


def resolve_all(db: Database, tenant_id: int, refs: list[int | str]) -> list[int]:
    """:func:`resolve` for many references, in order, in one session; every one must be
    a device of the tenant (NotFound names the first that is not)."""
    with db.session() as session:
        out: list[int] = []
        for ref in refs:
            parsed = parse_ref(ref)
            if isinstance(parsed, int):
                out.append(store_devices.get_device(session, tenant_id, parsed).id)
            else:
                out.append(store_devices.get_device_by_name(session, tenant_id, parsed).id)
        return out


def name_of(db: Database, tenant_id: int, device_id: int) -> str:
    with db.session() as session:
        return store_devices.get_device(session, tenant_id, device_id).name


def names_of(db: Database, tenant_id: int, device_ids: list[int]) -> list[str]:
    """Names of the ids, in order; any id not in the tenant is :class:`NotFound`."""
    with db.session() as session:
        return [store_devices.get_device(session, tenant_id, i).name for i in device_ids]
