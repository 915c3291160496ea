"""An inventory CSV: the ``inventory.csv`` that ``tikguard sim run`` writes, or one an
operator exports from their own inventory; read (:func:`parse_inventory`) and
imported in one transaction, audited as one ``device.import`` row
(``tikguard device import FILE``; ``POST /api/v1/devices/import``)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from tikguard.store import devices as store_devices
from tikguard.store.audit import audit
from tikguard.store.db import Database
from tikguard.store.errors import AlreadyExists, InvalidInput
from tikguard.store.reach import check_reach

#: Columns of an inventory CSV; ``name`` and ``host`` are required.
INVENTORY_COLUMNS = ("name", "host", "port", "username", "password", "tags", "site")


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
    try:
        return _rows(reader, source)
    except csv.Error as exc:  # a field over the csv module's limit, a broken quote
        raise InvalidInput(f"{source}:{reader.line_num}: {exc}") from None


def _rows(reader: csv.DictReader[str], source: str) -> list[InventoryRow]:
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
    db: Database,
    tenant_id: int,
    rows: list[InventoryRow],
    *,
    actor: str,
    update: bool = False,
    as_operator: bool = False,
) -> ImportReport:
    """Add every row in one transaction; existing names are skipped (or updated). A
    tenant's admin keeps to the tenant's management networks like
    :func:`tikguard.ops.devices.add` (the CLI, ``as_operator``, is not bound by them);
    a row that is refused names its line and nothing is imported."""
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
                    if not as_operator:  # after the name: a row that exists is skipped
                        check_reach(session, tenant_id, row.host, row.port)
                added.append(row.name)
            except AlreadyExists:
                if not update:
                    skipped.append(row.name)
                    continue
                device = store_devices.get_device_by_name(session, tenant_id, row.name)
                if not as_operator:
                    check_reach(session, tenant_id, row.host, row.port, device_id=device.id)
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
