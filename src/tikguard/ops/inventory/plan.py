"""What a sync would change, computed the same way for a dry-run and for the real run.

The plan compares the source's rows with the tenant's devices, in the transaction that
applies it: ``add`` a router the source lists and the tenant lacks; ``update`` one the
source added before (tag ``source:<name>``) whose fields differ; ``remove`` one the
source added that it no longer lists, only when the source's removal policy is on and
only when all its versions are in the git mirror (so its history stays readable with
``git log``); everything else is reported and left alone: ``conflict`` (a router of
that name exists but the source did not add it), ``stale`` (left the source, removal
off), ``hold`` (RANCID ``down``, or versions not yet mirrored).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tikguard.ops.inventory.formats import Parsed, RowNote, SourceRow
from tikguard.store import devices as store_devices
from tikguard.store._util import vault_of
from tikguard.store.audit import audit
from tikguard.store.errors import StoreError
from tikguard.store.models import ConfigVersion, Device
from tikguard.store.reach import check_reach

#: What the plan shows for a password (never the value).
HIDDEN = "(secret)"


def owner_tag(source: str) -> str:
    """The tag that marks a router as added (and managed) by the source."""
    return f"source:{source}"


@dataclass(frozen=True)
class Defaults:
    """What a row that does not say gets (the source's defaults)."""

    username: str = "admin"
    port: int = 22
    site: str | None = None
    tags: tuple[str, ...] = ()
    password: str | None = field(default=None, repr=False)
    #: Remove routers the source added once it no longer lists them.
    remove: bool = False


@dataclass(frozen=True)
class Change:
    action: str
    device: str
    #: Where the source lists it (``line 4``, ``item 2``), None when it does not.
    ref: str | None = None
    #: Field -> (old, new) (``add``: old is None); passwords appear as HIDDEN.
    fields: Mapping[str, tuple[Any, Any]] = field(default_factory=dict)
    reason: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "device": self.device,
            "ref": self.ref,
            "fields": {k: {"old": o, "new": n} for k, (o, n) in self.fields.items()},
            "reason": self.reason,
        }


#: Actions that change the inventory.
CHANGING = ("add", "update", "remove")


@dataclass
class Plan:
    source: str
    changes: list[Change] = field(default_factory=list)
    errors: list[RowNote] = field(default_factory=list)
    ignored: list[RowNote] = field(default_factory=list)
    unchanged: int = 0
    #: The desired state of each row to add or update (not shown: holds the password).
    targets: dict[str, dict[str, Any]] = field(default_factory=dict, repr=False)

    def counts(self) -> dict[str, int]:
        out = {a: 0 for a in (*CHANGING, "conflict", "stale", "hold")}
        for c in self.changes:
            out[c.action] = out.get(c.action, 0) + 1
        out.update(unchanged=self.unchanged, errors=len(self.errors), ignored=len(self.ignored))
        return out

    def as_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "counts": self.counts(),
            "changes": [c.as_json() for c in self.changes],
            "errors": [{"ref": e.ref, "device": e.name, "reason": e.reason} for e in self.errors],
            "ignored": [{"ref": e.ref, "device": e.name, "reason": e.reason} for e in self.ignored],
        }


def _desired(row: SourceRow, defaults: Defaults, tag: str, device: Device | None) -> dict[str, Any]:
    want: dict[str, Any] = {
        "host": row.host,
        "port": row.port or defaults.port,
        "username": row.username or defaults.username,
    }
    site = row.site or defaults.site
    if site is not None or device is None:
        want["site"] = site
    if row.tags is not None or defaults.tags or device is None:
        want["tags"] = sorted({*(row.tags or ()), *defaults.tags, tag})
    elif tag not in device.tags:
        want["tags"] = sorted({*device.tags, tag})
    if row.vars or device is None:
        want["vars"] = {**(device.vars if device else {}), **row.vars}
    password = row.password or defaults.password
    if password is not None or device is None:
        want["password"] = password
    return want


def _versions(
    session: Session, tenant_id: int, device_ids: list[int]
) -> dict[int, tuple[int, int]]:
    """Per device: (versions, versions not yet in the git mirror)."""
    if not device_ids:
        return {}
    rows = session.execute(
        select(
            ConfigVersion.device_id,
            func.count(),
            func.count().filter(ConfigVersion.mirror_commit.is_(None)),
        )
        .where(ConfigVersion.tenant_id == tenant_id, ConfigVersion.device_id.in_(device_ids))
        .group_by(ConfigVersion.device_id)
    )
    return {r[0]: (int(r[1]), int(r[2])) for r in rows}


def make_plan(
    session: Session,
    tenant_id: int,
    source: str,
    parsed: Parsed,
    defaults: Defaults,
    *,
    check_networks: bool,
) -> Plan:
    """The plan for ``parsed`` against the tenant's devices now (reads only)."""
    tag = owner_tag(source)
    plan = Plan(source, errors=list(parsed.errors), ignored=list(parsed.ignored))
    devices = {
        d.name: d for d in store_devices.list_devices(session, tenant_id, with_passwords=True)
    }
    for row in parsed.rows:
        device = devices.get(row.name)
        if device is not None and tag not in device.tags:
            plan.changes.append(
                Change(
                    "conflict",
                    row.name,
                    row.ref,
                    reason=f"exists, not added by {source}: "
                    f"left alone (tag it {tag} to let {source} manage it)",
                )
            )
            continue
        want = _desired(row, defaults, tag, device)
        try:
            if check_networks:
                check_reach(
                    session,
                    tenant_id,
                    want["host"],
                    want["port"],
                    device_id=device.id if device else None,
                )
            store_devices.check_device_name(row.name)
        except StoreError as exc:
            plan.errors.append(RowNote(row.ref, str(exc), row.name))
            continue
        if device is None:
            shown = {k: (None, HIDDEN if k == "password" and v else v) for k, v in want.items()}
            plan.changes.append(Change("add", row.name, row.ref, shown))
            plan.targets[row.name] = want
            continue
        diff: dict[str, tuple[Any, Any]] = {}
        for key, new in want.items():
            if key == "password":
                if store_devices.decrypt_password(session, device) != new:
                    diff[key] = (HIDDEN if device.password_enc else None, HIDDEN)
                continue
            old = device.tags if key == "tags" else getattr(device, key)
            if old != new:
                diff[key] = (old, new)
        if diff:
            plan.changes.append(Change("update", row.name, row.ref, diff))
            plan.targets[row.name] = {k: want[k] for k in diff}
        else:
            plan.unchanged += 1
    listed = {r.name for r in parsed.rows} | {h.name for h in parsed.held if h.name}
    for note in parsed.held:
        if note.name in devices:
            plan.changes.append(Change("hold", note.name or "", note.ref, reason=note.reason))
    gone = [d for n, d in sorted(devices.items()) if tag in d.tags and n not in listed]
    if not gone:
        return plan
    if not defaults.remove:
        for d in gone:
            plan.changes.append(
                Change(
                    "stale",
                    d.name,
                    reason=f"no longer in {source}; kept (its removal policy is off)",
                )
            )
        return plan
    if not parsed.rows and not parsed.held:
        plan.errors.append(
            RowNote(
                "-",
                f"{source} lists no routers: refusing to remove all "
                f"{len(gone)} it added (check the source)",
            )
        )
        return plan
    counts = _versions(session, tenant_id, [d.id for d in gone])
    for d in gone:
        total, unmirrored = counts.get(d.id, (0, 0))
        if unmirrored:
            plan.changes.append(
                Change(
                    "hold",
                    d.name,
                    reason=(
                        f"no longer in {source}, but {unmirrored} of its {total} versions are "
                        "not in the git mirror yet: kept (run `tikguard mirror sync`)"
                    ),
                )
            )
        else:
            plan.changes.append(
                Change(
                    "remove",
                    d.name,
                    reason=f"no longer in {source}; "
                    + (f"its {total} versions stay in the git mirror" if total else "no versions"),
                )
            )
    return plan


def apply_plan(session: Session, tenant_id: int, plan: Plan, *, actor: str) -> None:
    """Make the plan's changes (in the caller's transaction), each audited. New routers
    are written as one batch: a first sync of a large source is a few statements."""
    added: list[tuple[Device, str | None]] = []
    for change in plan.changes:
        if change.action not in CHANGING:
            continue
        want = dict(plan.targets.get(change.device, {}))
        password = want.pop("password", None)
        if change.action == "add":
            device = store_devices.new_device(tenant_id, name=change.device, **want)
            session.add(device)
            added.append((device, password))
        elif change.action == "update":
            device = store_devices.get_device_by_name(session, tenant_id, change.device)
            if "password" in plan.targets[change.device]:
                store_devices.set_password(session, tenant_id, device.id, password)
            store_devices.update_device(session, tenant_id, device.id, **want)
        else:
            device = store_devices.get_device_by_name(session, tenant_id, change.device)
            store_devices.remove_device(session, tenant_id, device.id)
        details: dict[str, Any] = {"source": plan.source, "fields": sorted(change.fields)}
        audit(
            session,
            tenant_id,
            actor=actor,
            action=f"device.{change.action}",
            target=change.device,
            details=details,
            flush=False,
        )
    session.flush()  # the new routers get their ids (a duplicate name fails here)
    if any(password for _, password in added):
        version = vault_of(session).current_version(session, tenant_id)
        with session.no_autoflush:
            for device, password in added:
                store_devices.encrypt_password(session, device, password, key_version=version)
    session.flush()
