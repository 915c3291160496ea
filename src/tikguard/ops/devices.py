"""The device inventory: one service for the CLI, API, UI and benchmarks.

Every function takes the caller's tenant id and device ids (the CLI resolves a name
once with :func:`id_of`, the API an id or a name with :func:`resolve`); a device of
another tenant is "not found" exactly like one that does not exist. Every change is
audited with the caller's actor. Also here: the embedded default's tenant, CSV import
(the ``inventory.csv`` that ``tikguard sim run`` writes, or one an operator exports
from their own inventory), probing, and accepting a changed host key after showing
its fingerprint.
"""

from __future__ import annotations

import asyncio
import csv
import io
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from tikguard.device.hostkey import fingerprint
from tikguard.settings import Settings
from tikguard.store import devices as store_devices
from tikguard.store import tenants as store_tenants
from tikguard.store.audit import audit
from tikguard.store.db import Database
from tikguard.store.errors import AlreadyExists, InvalidInput, StateError
from tikguard.store.models import Device
from tikguard.store.reach import check_reach

if TYPE_CHECKING:  # the SSH stack and the backup engine load only where a router is reached
    from tikguard.device.probe import DeviceFacts

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
    "set_fields",
    "update",
]

_UNSET: Any = object()

#: Columns of an inventory CSV; ``name`` and ``host`` are required.
INVENTORY_COLUMNS = ("name", "host", "port", "username", "password", "tags", "site")


def default_tenant_id(db: Database, name: str = store_tenants.DEFAULT_TENANT) -> int:
    """The tenant the CLI works in on the embedded default (created on first use)."""
    with db.transaction() as session:
        return store_tenants.ensure_tenant(session, name).id


@dataclass(frozen=True)
class DeviceView:
    """What listing and showing a device displays (never the password)."""

    id: int
    name: str
    host: str
    port: int
    username: str
    has_password: bool
    tags: tuple[str, ...]
    site: str | None
    host_key_fingerprint: str | None
    host_key_first_seen: datetime | None
    host_key_last_verified: datetime | None
    pending_host_key_fingerprint: str | None
    ros_version: str | None
    model: str | None
    board: str | None
    last_backup_at: datetime | None
    last_backup_status: str | None
    last_backup_error: str | None
    #: Template variables of rollouts (``device set NAME --var KEY=VALUE``).
    vars: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, d: Device, has_password: bool) -> DeviceView:
        return cls(
            id=d.id,
            name=d.name,
            host=d.host,
            port=d.port,
            username=d.username,
            has_password=has_password,
            tags=tuple(d.tags),
            site=d.site,
            host_key_fingerprint=_safe_fingerprint(d.host_key),
            host_key_first_seen=d.host_key_first_seen,
            host_key_last_verified=d.host_key_last_verified,
            pending_host_key_fingerprint=_safe_fingerprint(d.host_key_pending),
            ros_version=d.ros_version,
            model=d.model,
            board=d.board,
            last_backup_at=d.last_backup_at,
            last_backup_status=d.last_backup_status,
            last_backup_error=d.last_backup_error,
            vars=dict(d.vars or {}),
        )


def _safe_fingerprint(key: str | None) -> str | None:
    if not key:
        return None
    try:
        return fingerprint(key)
    except Exception:  # a corrupt stored key must not break listing
        return "(unreadable key)"


def id_of(db: Database, tenant_id: int, name: str) -> int:
    """The id of the device called ``name`` (how the CLI turns a name into an id, once)."""
    with db.session() as session:
        return store_devices.get_device_by_name(session, tenant_id, name).id


#: The largest row id the database holds (a signed 64-bit integer).
MAX_ID = 2**63 - 1
#: Marks a reference as a name whatever it looks like (``name:1001`` is the router
#: called ``1001``, not the device with id 1001).
NAME_PREFIX = "name:"


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


def get(db: Database, tenant_id: int, device_id: int) -> DeviceView:
    with db.session() as session:
        device = store_devices.get_device(session, tenant_id, device_id)
        has_password = store_devices.get_password(session, tenant_id, device.id) is not None
        return DeviceView.of(device, has_password)


def name_of(db: Database, tenant_id: int, device_id: int) -> str:
    with db.session() as session:
        return store_devices.get_device(session, tenant_id, device_id).name


def names_of(db: Database, tenant_id: int, device_ids: list[int]) -> list[str]:
    """Names of the ids, in order; any id not in the tenant is :class:`NotFound`."""
    with db.session() as session:
        return [store_devices.get_device(session, tenant_id, i).name for i in device_ids]


def list_all(db: Database, tenant_id: int, *, tag: str | None = None) -> list[DeviceView]:
    with db.session() as session:
        return [
            DeviceView.of(d, True) for d in store_devices.list_devices(session, tenant_id, tag=tag)
        ]


@dataclass(frozen=True)
class NewDevice:
    """A router to add, as the caller gave it."""

    name: str
    host: str
    username: str
    password: str | None = field(repr=False)
    port: int = 22
    tags: list[str] = field(default_factory=list)
    site: str | None = None


def add(
    db: Database,
    tenant_id: int,
    *,
    actor: str,
    name: str,
    host: str,
    username: str,
    password: str | None,
    port: int = 22,
    tags: list[str] | None = None,
    site: str | None = None,
    as_operator: bool = False,
) -> DeviceView:
    """Add one router (password stored encrypted). A tenant's admin must keep to the
    tenant's management networks (:mod:`tikguard.store.reach`); the controller's
    operator (the CLI, ``as_operator``) is not bound by them."""
    new = NewDevice(name, host, username, password, port, tags or [], site)
    with db.transaction() as session:
        return _store_new(session, tenant_id, new, actor=actor, as_operator=as_operator)


def _store_new(
    session: Any,
    tenant_id: int,
    new: NewDevice,
    *,
    actor: str,
    as_operator: bool,
    details: dict[str, Any] | None = None,
) -> DeviceView:
    """Write one new device and its audit row (in the caller's transaction)."""
    if not as_operator:
        check_reach(session, tenant_id, new.host, new.port)
    device = store_devices.add_device(
        session,
        tenant_id,
        name=new.name,
        host=new.host,
        username=new.username,
        password=new.password,
        port=new.port,
        tags=new.tags,
        site=new.site,
    )
    audit(session, tenant_id, actor=actor, action="device.add", target=device.name, details=details)
    return DeviceView.of(device, new.password is not None)


async def add_probed(
    db: Database,
    settings: Settings,
    tenant_id: int,
    new: NewDevice,
    *,
    actor: str,
    as_operator: bool = False,
) -> tuple[DeviceView, DeviceFacts]:
    """Add a router only once it has answered: reached, logged in to with these
    credentials, probed, its host key pinned from this first contact. A probe that fails
    raises its :class:`~tikguard.device.errors.DeviceError` and nothing is stored; the
    input is checked before the router is contacted."""
    from tikguard.device.probe import probe
    from tikguard.device.session import Target, connect

    def check() -> None:
        with db.session() as session:
            if not as_operator:
                check_reach(session, tenant_id, new.host, new.port)
            store_devices.check_new_device(
                session,
                tenant_id,
                name=new.name,
                host=new.host,
                username=new.username,
                port=new.port,
                tags=new.tags,
                site=new.site,
            )

    await asyncio.to_thread(check)
    target = Target(new.name, new.host, new.port, new.username, new.password or "")
    async with await connect(target, settings) as session_:
        facts = await probe(session_)
        presented = session_.host_key

    def write() -> DeviceView:
        with db.transaction() as session:
            view = _store_new(
                session,
                tenant_id,
                new,
                actor=actor,
                as_operator=as_operator,
                details={"probed": True, "host_key": fingerprint(presented)},
            )
            store_devices.check_host_key(session, tenant_id, view.id, presented)
            _record_probe(session, tenant_id, view.id, facts)
            return DeviceView.of(
                store_devices.get_device(session, tenant_id, view.id), view.has_password
            )

    return await asyncio.to_thread(write), facts


def update(
    db: Database,
    tenant_id: int,
    device_id: int,
    *,
    actor: str,
    password: str | None = _UNSET,
    as_operator: bool = False,
    **changes: Any,
) -> DeviceView:
    """Change fields (``tags`` replaces the tags); ``password`` is stored encrypted. A
    new host or port is checked like :func:`add` does."""
    with db.transaction() as session:
        if not as_operator and ("host" in changes or "port" in changes):
            device = store_devices.get_device(session, tenant_id, device_id)
            host, port = changes.get("host", device.host), changes.get("port", device.port)
            check_reach(session, tenant_id, host, port, device_id=device_id)
        device = store_devices.update_device(session, tenant_id, device_id, **changes)
        changed = sorted(changes)
        if password is not _UNSET:
            store_devices.set_password(session, tenant_id, device_id, password)
            changed.append("password")
        audit(
            session,
            tenant_id,
            actor=actor,
            action="device.update",
            target=device.name,
            details={"fields": changed},
        )
        has_password = store_devices.get_password(session, tenant_id, device_id) is not None
        return DeviceView.of(device, has_password)


def set_fields(
    db: Database,
    tenant_id: int,
    device_id: int,
    *,
    site: str | None = None,
    tags: list[str] | None = None,
    values: dict[str, str] | None = None,
    unset: list[str] | None = None,
    actor: str,
) -> DeviceView:
    """Change a router's site, tags (replaced) or template variables (set and removed;
    the others stay). ``None`` leaves a field as it is."""
    with db.transaction() as session:
        device = store_devices.get_device(session, tenant_id, device_id)
        missing = [k for k in unset or [] if k not in device.vars]
        if missing:
            raise InvalidInput(f"{device.name} has no variable {', '.join(missing)}")
        changes: dict[str, Any] = {}
        if site is not None:
            changes["site"] = site or None
        if tags is not None:
            changes["tags"] = tags
        if values or unset:
            kept = {k: v for k, v in device.vars.items() if k not in (unset or [])}
            changes["vars"] = {**kept, **(values or {})}
        store_devices.update_device(session, tenant_id, device.id, **changes)
        audit(
            session,
            tenant_id,
            actor=actor,
            action="device.update",
            target=device.name,
            details={"fields": sorted(changes)},
        )
        return DeviceView.of(device, True)


def remove(db: Database, tenant_id: int, device_id: int, *, actor: str) -> None:
    """Delete a device and its stored versions."""
    with db.transaction() as session:
        device = store_devices.get_device(session, tenant_id, device_id)
        store_devices.remove_device(session, tenant_id, device_id)
        audit(session, tenant_id, actor=actor, action="device.remove", target=device.name)


# --- inventory CSV -----------------------------------------------------------


@dataclass(frozen=True)
class InventoryRow:
    name: str
    host: str
    port: int
    username: str
    password: str | None = field(repr=False)
    tags: tuple[str, ...]
    site: str | None
    line: int
    #: Extra columns: the router's template variables.
    vars: dict[str, str] = field(default_factory=dict)


def parse_inventory(text: str, source: str = "inventory.csv") -> list[InventoryRow]:
    """Rows of an inventory CSV with a header line naming its columns.

    Required: ``name``, ``host``. Optional: ``port`` (22), ``username`` (admin),
    ``password`` (empty: ask), ``tags`` (separated by ``;``, ``|`` or spaces), ``site``.
    Any other column is a template variable of each router (``dns`` -> ``vars.dns``);
    an empty cell sets none.
    """
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    missing = [c for c in ("name", "host") if c not in header]
    if missing:
        raise InvalidInput(
            f"{source}: the header line must name the columns "
            f"({', '.join(INVENTORY_COLUMNS)}); missing: {', '.join(missing)}"
        )
    extra = [h for h in header if h and h not in INVENTORY_COLUMNS]
    try:
        store_devices.check_vars(dict.fromkeys(extra, ""))
    except InvalidInput as exc:
        raise InvalidInput(f"{source}: column {exc} (extra columns are variables)") from None
    rows: list[InventoryRow] = []
    seen: set[str] = set()
    for record in reader:
        values = {
            (k or "").strip().lower(): (v or "").strip()
            for k, v in record.items()
            if k is not None and isinstance(v, str | None)
        }
        line = reader.line_num
        name, host = values.get("name", ""), values.get("host", "")
        if not name and not host:
            continue
        if not name or not host:
            raise InvalidInput(f"{source}:{line}: every row needs a name and a host")
        if name in seen:
            raise InvalidInput(f"{source}:{line}: device {name!r} appears twice")
        seen.add(name)
        port_text = values.get("port") or "22"
        try:
            port = int(port_text)
        except ValueError:
            raise InvalidInput(f"{source}:{line}: port {port_text!r} is not a number") from None
        tags_text = values.get("tags", "").replace("|", ";").replace(" ", ";")
        rows.append(
            InventoryRow(
                name=name,
                host=host,
                port=port,
                username=values.get("username") or "admin",
                password=values.get("password") or None,
                tags=tuple(t for t in tags_text.split(";") if t),
                site=values.get("site") or None,
                line=line,
                vars={k: values[k] for k in extra if values.get(k)},
            )
        )
    return rows


@dataclass(frozen=True)
class ImportReport:
    added: list[str]
    updated: list[str]
    skipped: list[str]


def import_rows(
    db: Database, tenant_id: int, rows: list[InventoryRow], *, actor: str, update: bool = False
) -> ImportReport:
    """Add every row in one transaction; existing names are skipped (or updated)."""
    added: list[str] = []
    updated: list[str] = []
    skipped: list[str] = []
    with db.transaction() as session:
        for row in rows:
            try:
                with session.begin_nested():
                    store_devices.add_device(
                        session,
                        tenant_id,
                        name=row.name,
                        host=row.host,
                        username=row.username,
                        password=row.password,
                        port=row.port,
                        tags=row.tags,
                        site=row.site,
                        vars=row.vars,
                    )
                added.append(row.name)
            except AlreadyExists:
                if not update:
                    skipped.append(row.name)
                    continue
                device = store_devices.get_device_by_name(session, tenant_id, row.name)
                store_devices.update_device(
                    session,
                    tenant_id,
                    device.id,
                    host=row.host,
                    port=row.port,
                    username=row.username,
                    site=row.site,
                    tags=list(row.tags),
                    vars={**device.vars, **row.vars},
                )
                if row.password is not None:
                    store_devices.set_password(session, tenant_id, device.id, row.password)
                updated.append(row.name)
            except InvalidInput as exc:
                raise InvalidInput(f"line {row.line}: {exc}") from None
        audit(
            session,
            tenant_id,
            actor=actor,
            action="device.import",
            target=None,
            details={"added": added, "updated": updated, "skipped": skipped},
        )
    return ImportReport(added, updated, skipped)


# --- probe -----------------------------------------------------------------------


async def probe_device(
    db: Database, settings: Settings, tenant_id: int, device_id: int
) -> DeviceFacts:
    """Connect (pinned key; pinned now on first use), probe, and record what was seen."""
    from tikguard.device.probe import probe
    from tikguard.device.session import connect
    from tikguard.ops.backup.service import load_jobs

    (job,) = await asyncio.to_thread(load_jobs, db, tenant_id, device_ids=[device_id])
    async with await connect(job.target, settings) as session_:
        facts = await probe(session_)
        presented = session_.host_key
    with db.transaction() as session:
        store_devices.check_host_key(session, tenant_id, device_id, presented)
        _record_probe(session, tenant_id, device_id, facts)
    return facts


def _record_probe(session: Any, tenant_id: int, device_id: int, facts: DeviceFacts) -> None:
    """Keep what a probe saw on the device's row."""
    details: dict[str, Any] = {
        "identity": facts.identity,
        "channel": facts.resource.channel,
        "free_bytes": facts.resource.free_bytes,
        "total_bytes": facts.resource.total_bytes,
        "uptime_seconds": facts.resource.uptime_seconds,
        "clock": facts.clock.isoformat() if facts.clock else None,
        "time_zone": facts.time_zone,
        "device_mode": facts.device_mode,
        "has_flash": facts.has_flash,
        "user_group": facts.user_group,
        "policies": sorted(facts.policies) if facts.policies is not None else None,
    }
    store_devices.record_probe(
        session,
        tenant_id,
        device_id,
        ros_version=facts.version,
        board=facts.resource.board,
        architecture=facts.resource.architecture,
        details=details,
    )


# --- host keys -----------------------------------------------------------------


@dataclass(frozen=True)
class HostKeyOffer:
    """The key an operator is asked to accept for a device."""

    device: str
    old_fingerprint: str | None
    new_key: str
    new_fingerprint: str
    #: True when the router presented it during an operation (recorded as pending);
    #: False when it was read just now.
    recorded: bool


async def host_key_offer(
    db: Database, settings: Settings, tenant_id: int, device_id: int
) -> HostKeyOffer:
    """The pending key of a device, or the key it presents now if none is pending."""
    from tikguard.device.session import fetch_host_key

    with db.session() as session:
        device = store_devices.get_device(session, tenant_id, device_id)
        name, old, pending, host, port = (
            device.name,
            device.host_key,
            device.host_key_pending,
            device.host,
            device.port,
        )
    recorded = pending is not None
    key = pending if pending is not None else await fetch_host_key(host, port, settings, name=name)
    return HostKeyOffer(
        name,
        _safe_fingerprint(old),
        key,
        fingerprint(key),
        recorded,
    )


async def accept_host_key(
    db: Database,
    settings: Settings,
    tenant_id: int,
    device_id: int,
    fingerprint: str,
    *,
    actor: str,
) -> DeviceView:
    """Pin the device's new key, if it is the one the operator saw (by fingerprint)."""
    offer = await host_key_offer(db, settings, tenant_id, device_id)
    if offer.new_fingerprint != fingerprint.strip():
        raise StateError(
            f"{offer.device} now offers {offer.new_fingerprint}, not {fingerprint.strip()}: "
            "look again before accepting"
        )

    def write() -> DeviceView:
        with db.transaction() as session:
            store_devices.accept_host_key(session, tenant_id, device_id, offer.new_key)
            audit(
                session,
                tenant_id,
                actor=actor,
                action="device.accept-host-key",
                target=offer.device,
                details={"old": offer.old_fingerprint, "new": offer.new_fingerprint},
            )
            return DeviceView.of(store_devices.get_device(session, tenant_id, device_id), True)

    return await asyncio.to_thread(write)
