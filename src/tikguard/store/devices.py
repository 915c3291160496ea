"""The device inventory: add, change, find and remove routers of one tenant.

Passwords go through the vault (bound to the device row), host keys are pinned on
first use, and probe and backup results are recorded here. Every helper takes the
tenant id; a device of another tenant is "not found", by id and by name.
"""

from __future__ import annotations

import enum
import re
import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session, lazyload, undefer

from tikguard.store._util import check_text, vault_of
from tikguard.store.errors import AlreadyExists, InvalidInput, NotFound
from tikguard.store.models import Device, DeviceTag, utcnow

PASSWORD_PURPOSE = "device-password"
_UPDATABLE = frozenset({"name", "host", "port", "username", "site", "vars"})


#: What a device name may hold: it is a directory of the git mirror, a CLI argument a
#: shell must not split or expand, and part of URLs; a hostname's characters (what a
#: RouterOS identity usually is) plus '_'.
_NAME_CHARS = frozenset(string.ascii_letters + string.digits + "._-")


def _described(char: str) -> str:
    """A character as an error message shows it: visible, or named when it is not."""
    names = {" ": "a space", "\t": "a tab", "\n": "a line break"}
    if char in names:
        return names[char]
    return repr(char) if char.isprintable() else f"U+{ord(char):04X}"


def check_device_name(name: str) -> str:
    """Device names are git mirror directories, CLI arguments and URL parts: ASCII
    letters, digits, '.', '-' and '_', starting with a letter or digit. The error names
    the first character that is not allowed and where it is."""
    check_text(name, "device name", max_len=128)
    for index, char in enumerate(name):
        if char not in _NAME_CHARS:
            raise InvalidInput(
                f"device name {name!r} has {_described(char)} at position {index + 1}: "
                "use letters, digits, '.', '-' and '_'",
                hint="e.g. the router's identity with spaces written as '-'",
            )
    if not name[0].isalnum():
        raise InvalidInput(
            f"device name {name!r} starts with {_described(name[0])}: "
            "start it with a letter or a digit"
        )
    return name


def _check_port(port: int) -> int:
    if not isinstance(port, int) or isinstance(port, bool) or not 1 <= port <= 65535:
        raise InvalidInput(f"SSH port must be 1-65535, got {port!r}")
    return port


def _check_tags(tags: Iterable[str]) -> list[str]:
    clean = sorted({check_text(t.strip(), "tag", max_len=64) for t in tags})
    for tag in clean:
        if "," in tag:
            raise InvalidInput(f"tag {tag!r} must not contain ','")
    return clean


_VAR_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")


def check_vars(values: Mapping[str, str]) -> dict[str, str]:
    """Template variables: names as in a template (``site_dns``), values short text."""
    clean: dict[str, str] = {}
    for key, value in values.items():
        if not isinstance(key, str) or not _VAR_NAME.fullmatch(key):
            raise InvalidInput(
                f"variable name {key!r}: letters, digits and '_', not starting with a digit"
            )
        if not isinstance(value, str):
            raise InvalidInput(f"variable {key}: the value must be text")
        clean[key] = check_text(value, f"variable {key}", max_len=1024, allow_empty=True)
    if len(clean) > 200:
        raise InvalidInput("a device has at most 200 variables")
    return clean


def check_new_device(
    session: Session,
    tenant_id: int,
    *,
    name: str,
    host: str,
    username: str,
    port: int = 22,
    tags: Iterable[str] = (),
    site: str | None = None,
) -> list[str]:
    """Refuse (InvalidInput, AlreadyExists) what :func:`add_device` would refuse, before
    anything is written or a router is contacted; the clean tags."""
    clean_tags = _checked(name=name, host=host, username=username, port=port, tags=tags, site=site)
    _refuse_taken(session, tenant_id, name)
    return clean_tags


def _checked(
    *, name: str, host: str, username: str, port: int, tags: Iterable[str], site: str | None
) -> list[str]:
    """The field checks of a new device (InvalidInput); the clean tags."""
    check_device_name(name)
    check_text(host, "host", max_len=255)
    check_text(username, "username", max_len=128)
    _check_port(port)
    if site is not None:
        check_text(site, "site", max_len=128)
    return _check_tags(tags)


def _refuse_taken(session: Session, tenant_id: int, name: str) -> None:
    if _find_by_name(session, tenant_id, name) is not None:
        raise AlreadyExists(
            f"device {name!r} already exists",
            hint=f"pick another name, or see it with `tikguard device show {name}`",
        )


def new_device(
    tenant_id: int,
    *,
    name: str,
    host: str,
    username: str,
    port: int = 22,
    tags: Iterable[str] = (),
    site: str | None = None,
    vars: Mapping[str, str] | None = None,
) -> Device:
    """A checked device row, not yet in a session (a batch adds many, flushes once; the
    unique name constraint still refuses a duplicate)."""
    clean_tags = _checked(name=name, host=host, username=username, port=port, tags=tags, site=site)
    device = Device(
        tenant_id=tenant_id,
        name=name,
        host=host,
        port=port,
        username=username,
        site=site,
        vars=check_vars(vars or {}),
    )
    device.tag_rows = [DeviceTag(tag=t, tenant_id=tenant_id) for t in clean_tags]
    return device


def add_device(
    session: Session,
    tenant_id: int,
    *,
    name: str,
    host: str,
    username: str,
    password: str | None = None,
    port: int = 22,
    tags: Iterable[str] = (),
    site: str | None = None,
    vars: Mapping[str, str] | None = None,
) -> Device:
    """Add a router; its password is stored encrypted. AlreadyExists on a duplicate name."""
    device = new_device(
        tenant_id,
        name=name,
        host=host,
        username=username,
        port=port,
        tags=tags,
        site=site,
        vars=vars,
    )
    _refuse_taken(session, tenant_id, name)
    session.add(device)
    session.flush()
    if password is not None:
        set_password(session, tenant_id, device.id, password)
    return device


def _find_by_name(session: Session, tenant_id: int, name: str) -> Device | None:
    return session.scalar(select(Device).where(Device.tenant_id == tenant_id, Device.name == name))


def get_device(session: Session, tenant_id: int, device_id: int) -> Device:
    device = session.scalar(
        select(Device).where(Device.tenant_id == tenant_id, Device.id == device_id)
    )
    if device is None:
        raise NotFound(f"device {device_id} does not exist")
    return device


def get_device_by_name(session: Session, tenant_id: int, name: str) -> Device:
    device = _find_by_name(session, tenant_id, name)
    if device is None:
        raise NotFound(f"device {name!r} does not exist")
    return device


def list_devices(
    session: Session,
    tenant_id: int,
    *,
    tag: str | None = None,
    site: str | None = None,
    names: Iterable[str] | None = None,
    with_passwords: bool = False,
) -> list[Device]:
    """The tenant's devices by name, optionally only those with a tag, site or name.

    ``with_passwords`` loads the encrypted passwords in the same query (for a fleet
    backup: one query instead of one per device); decrypt with :func:`decrypt_password`.
    """
    query = select(Device).where(Device.tenant_id == tenant_id).order_by(Device.name)
    if with_passwords:
        query = query.options(undefer(Device.password_enc))
    return list(session.scalars(query.where(*_filters(tenant_id, tag, site, names))))


def _filters(
    tenant_id: int, tag: str | None, site: str | None, names: Iterable[str] | None
) -> list[ColumnElement[bool]]:
    """The conditions of :func:`list_devices`' filters (tenant aside)."""
    conditions: list[ColumnElement[bool]] = []
    if tag is not None:
        conditions.append(
            Device.id.in_(
                select(DeviceTag.device_id).where(
                    DeviceTag.tenant_id == tenant_id, DeviceTag.tag == tag
                )
            )
        )
    if site is not None:
        conditions.append(Device.site == site)
    if names is not None:
        conditions.append(Device.name.in_(list(names)))
    return conditions


def ids_matching(tenant_id: int, *, tag: str | None = None, site: str | None = None) -> Any:
    """A subquery of the ids of the tenant's devices with ``tag`` and/or at ``site``:
    rows that belong to devices (operations, versions) filter with ``.in_()`` on it."""
    return select(Device.id).where(
        Device.tenant_id == tenant_id, *_filters(tenant_id, tag, site, None)
    )


@dataclass(frozen=True)
class DeviceAccess:
    """What a connection to one device needs, its password decrypted (never log it)."""

    id: int
    name: str
    host: str
    port: int
    username: str
    password: str | None = field(repr=False)
    host_key: str | None
    ros_version: str | None


def list_access(
    session: Session,
    tenant_id: int,
    *,
    tag: str | None = None,
    names: Iterable[str] | None = None,
    ids: Iterable[int] | None = None,
    site: str | None = None,
) -> list[DeviceAccess]:
    """:func:`list_devices`' devices (by name, same filters, or by id) with only what
    connecting needs, in one lean query: for fleet jobs, where loading whole rows costs
    more than the rest of the preparation."""
    query = select(
        Device.id,
        Device.name,
        Device.host,
        Device.port,
        Device.username,
        Device.password_enc,
        Device.host_key,
        Device.ros_version,
    ).where(Device.tenant_id == tenant_id, *_filters(tenant_id, tag, site, names))
    if ids is not None:
        query = query.where(Device.id.in_(list(ids)))
    query = query.order_by(Device.name)
    vault = vault_of(session)
    out = []
    for row in session.execute(query):
        password = None
        if row.password_enc is not None:
            password = vault.decrypt(
                session, tenant_id, PASSWORD_PURPOSE, row.id, row.password_enc
            ).decode("utf-8", "surrogateescape")
        out.append(
            DeviceAccess(
                row.id,
                row.name,
                row.host,
                row.port,
                row.username,
                password,
                row.host_key,
                row.ros_version,
            )
        )
    return out


def update_device(session: Session, tenant_id: int, device_id: int, **changes: Any) -> Device:
    """Change name/host/port/username/site; ``tags=[...]`` replaces the tags,
    ``vars={...}`` the template variables."""
    device = get_device(session, tenant_id, device_id)
    tags = changes.pop("tags", None)
    unknown = set(changes) - _UPDATABLE
    if unknown:
        raise InvalidInput(f"cannot change {', '.join(sorted(unknown))} with update_device")
    if "name" in changes and changes["name"] != device.name:
        check_device_name(changes["name"])
        if _find_by_name(session, tenant_id, changes["name"]) is not None:
            raise AlreadyExists(
                f"device {changes['name']!r} already exists",
                hint="pick a name no other device has (`tikguard device list`)",
            )
    if "host" in changes:
        check_text(changes["host"], "host", max_len=255)
    if "username" in changes:
        check_text(changes["username"], "username", max_len=128)
    if "port" in changes:
        _check_port(changes["port"])
    if changes.get("site") is not None:
        check_text(changes["site"], "site", max_len=128)
    if "vars" in changes:
        changes["vars"] = check_vars(changes["vars"] or {})
    for key, value in changes.items():
        setattr(device, key, value)
    if tags is not None:
        clean = _check_tags(tags)
        device.tag_rows = [DeviceTag(tag=t, tenant_id=tenant_id) for t in clean]
    session.flush()
    return device


def remove_device(session: Session, tenant_id: int, device_id: int) -> None:
    """Delete a device and its versions (the git mirror keeps their history)."""
    session.delete(get_device(session, tenant_id, device_id))
    session.flush()


# --- credentials -------------------------------------------------------------


def set_password(session: Session, tenant_id: int, device_id: int, password: str | None) -> None:
    """Store (encrypted, bound to this device) or clear the device's SSH password."""
    encrypt_password(session, get_device(session, tenant_id, device_id), password)
    session.flush()


def encrypt_password(
    session: Session, device: Device, password: str | None, *, key_version: int | None = None
) -> None:
    """Set a loaded (flushed) device's encrypted password; the caller flushes. A batch
    passes the tenant's ``key_version`` (``Vault.current_version``), read once."""
    if password is None:
        device.password_enc = None
        return
    if not isinstance(password, str):
        raise InvalidInput("password must be text")
    vault = vault_of(session)
    version = key_version or vault.current_version(session, device.tenant_id)
    device.password_enc = vault.encrypt_with(
        session,
        device.tenant_id,
        version,
        PASSWORD_PURPOSE,
        device.id,
        password.encode("utf-8", "surrogateescape"),
    )


def decrypt_password(session: Session, device: Device) -> str | None:
    """The SSH password of a loaded device row, decrypted (never log it)."""
    if device.password_enc is None:
        return None
    plain = vault_of(session).decrypt(
        session, device.tenant_id, PASSWORD_PURPOSE, device.id, device.password_enc
    )
    return plain.decode("utf-8", "surrogateescape")


def get_password(session: Session, tenant_id: int, device_id: int) -> str | None:
    """The device's SSH password, decrypted (for the SSH session only; never log it)."""
    return get_login(session, tenant_id, device_id)[1]


def get_login(session: Session, tenant_id: int, device_id: int) -> tuple[Device, str | None]:
    """The device row and its SSH password (decrypted; never log it) in one read, for
    opening a session; the tags are read only when asked for."""
    device = session.scalar(
        select(Device)
        .options(undefer(Device.password_enc), lazyload(Device.tag_rows))
        .where(Device.tenant_id == tenant_id, Device.id == device_id)
    )
    if device is None:
        raise NotFound(f"device {device_id} does not exist")
    return device, decrypt_password(session, device)


# --- host keys ---------------------------------------------------------------


class HostKeyCheck(enum.StrEnum):
    PINNED_NOW = "pinned-now"  # first use: the key is now pinned
    MATCH = "match"
    MISMATCH = "mismatch"  # refuse to talk; recorded as pending until accepted


def pinned_key_seen(now: datetime) -> dict[str, Any]:
    """A device row's changes when its router presented the pinned key: verified now,
    and another key it offered earlier is no longer pending (it is back on its pin, so a
    "host key changed" warning would be stale)."""
    return {"host_key_last_verified": now, "host_key_pending": None, "host_key_pending_seen": None}


def host_key_changes(
    pinned: str | None, presented: str, now: datetime
) -> tuple[HostKeyCheck, dict[str, object]]:
    """Trust on first use, as column changes of the device row: pin an unknown key,
    mark a pinned one verified (:func:`pinned_key_seen`), keep another key as pending
    (the pin stays until an operator accepts it). The one statement of the rule:
    :func:`check_host_key` and ``tikguard.ops.readings`` (what backups and pushes
    record) both apply it."""
    if pinned is None:
        changes: dict[str, object] = {
            "host_key": presented,
            "host_key_first_seen": now,
            "host_key_last_verified": now,
        }
        return HostKeyCheck.PINNED_NOW, changes
    if pinned == presented:
        return HostKeyCheck.MATCH, pinned_key_seen(now)
    return HostKeyCheck.MISMATCH, {"host_key_pending": presented, "host_key_pending_seen": now}


def check_host_key(
    session: Session, tenant_id: int, device_id: int, presented: str, *, now: datetime | None = None
) -> HostKeyCheck:
    """Trust on first use on the device's row (:func:`host_key_changes`).

    On MISMATCH the pinned key stays and the presented key is kept as pending, so an
    operator can see and accept it (:func:`accept_host_key`).
    """
    check_text(presented, "host key", max_len=16384)
    device = get_device(session, tenant_id, device_id)
    result, changes = host_key_changes(device.host_key, presented, now or utcnow())
    for column, value in changes.items():
        setattr(device, column, value)
    session.flush()
    return result


def accept_host_key(
    session: Session, tenant_id: int, device_id: int, key: str | None = None
) -> Device:
    """Pin ``key`` (default: the pending key the device presented), replacing the old one."""
    device = get_device(session, tenant_id, device_id)
    new = key if key is not None else device.host_key_pending
    if new is None:
        raise InvalidInput(f"device {device.name!r} has no pending host key to accept")
    check_text(new, "host key", max_len=16384)
    now = utcnow()
    device.host_key = new
    device.host_key_first_seen = now
    device.host_key_last_verified = None
    device.host_key_pending = None
    device.host_key_pending_seen = None
    session.flush()
    return device


# --- probe and backup results --------------------------------------------------


def record_probe(
    session: Session,
    tenant_id: int,
    device_id: int,
    *,
    ros_version: str | None,
    model: str | None = None,
    board: str | None = None,
    architecture: str | None = None,
    details: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> Device:
    """What a probe saw: version, model, board, architecture and the rest (JSON)."""
    device = get_device(session, tenant_id, device_id)
    device.ros_version = ros_version
    device.model = model
    device.board = board
    device.architecture = architecture
    device.last_probe = dict(details or {})
    device.last_probe_at = at or utcnow()
    session.flush()
    return device


def record_backup_result(
    session: Session,
    tenant_id: int,
    device_id: int,
    *,
    status: str,
    error: str | None = None,
    at: datetime | None = None,
) -> Device:
    """The last backup attempt's status (changed/unchanged/failed/...), time and error."""
    check_text(status, "backup status", max_len=32)
    device = get_device(session, tenant_id, device_id)
    device.last_backup_status = status
    device.last_backup_error = error
    device.last_backup_at = at or utcnow()
    session.flush()
    return device
