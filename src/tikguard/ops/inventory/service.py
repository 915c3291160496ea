"""Inventory sources of a tenant: add, list, remove, and sync (dry-run or for real).

A sync reads the source (a file on the controller, or an HTTP JSON API), parses every
row, and plans against the tenant's devices in one transaction; a dry-run stops there,
a real run applies that same plan in the same transaction, or refuses as a whole when
any row is wrong (each error names its row). Every change is audited with the actor;
the source's outcome is kept on the source (``last_sync``), never its secrets.
"""

from __future__ import annotations

import asyncio
import codecs
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.exc import IntegrityError

from tikguard.ops.inventory import formats
from tikguard.ops.inventory.fetch import (
    HttpSource,
    SourceUnavailable,
    check_url,
    fetch_hosts,
    shown,
)
from tikguard.ops.inventory.plan import Defaults, Plan, apply_plan, make_plan
from tikguard.settings import Settings
from tikguard.store import mirror
from tikguard.store import sources as store_sources
from tikguard.store.audit import audit
from tikguard.store.db import Database
from tikguard.store.errors import InvalidInput, StateError, StoreError
from tikguard.store.models import InventorySource

#: The largest source file read.
MAX_FILE_BYTES = 32 * 1024 * 1024


class SyncRefused(InvalidInput):
    """Rows of the source are wrong: nothing was changed. ``plan`` says which."""

    def __init__(self, plan: Plan) -> None:
        first = plan.errors[0]
        more = f" (and {len(plan.errors) - 1} more)" if len(plan.errors) > 1 else ""
        super().__init__(
            f"{plan.source}: {first.ref}: {first.reason}{more}; nothing was changed",
            hint=f"fix the source, or see every row with `tikguard inventory sync "
            f"{plan.source} --dry-run`",
        )
        self.plan = plan


@dataclass(frozen=True)
class SourceView:
    """What listing a source shows: settings, never a secret (header names only)."""

    name: str
    kind: str
    location: str
    config: dict[str, Any]
    has_password: bool
    created_at: datetime
    last_sync_at: datetime | None
    last_sync: dict[str, Any] | None

    @classmethod
    def of(cls, s: InventorySource) -> SourceView:
        config = dict(s.config)
        location = config.get("path") or shown(config.get("url") or "")
        return cls(
            s.name,
            s.kind,
            location,
            config,
            bool(config.get("has_password")),
            s.created_at,
            s.last_sync_at,
            s.last_sync,
        )


def build_config(
    kind: str,
    *,
    path: str | None = None,
    url: str | None = None,
    delimiter: str | None = None,
    mapping: dict[str, str] | None = None,
    vars_map: dict[str, str] | None = None,
    models: list[str] | None = None,
    types: list[str] | None = None,
    hosts_location: str | None = None,
    pagination: bool = False,
    pagination_key: str = "next",
    insecure: bool = False,
    timeout: float = 60.0,
    header_names: list[str] | None = None,
    username: str | None = None,
    port: int | None = None,
    site: str | None = None,
    tags: list[str] | None = None,
    remove: bool = False,
    has_password: bool = False,
) -> dict[str, Any]:
    """A source's settings, checked (InvalidInput names what is wrong)."""
    if kind not in store_sources.KINDS:
        raise InvalidInput(f"source kind {kind!r}: one of {', '.join(store_sources.KINDS)}")
    config: dict[str, Any] = {"remove": remove, "has_password": has_password}
    if kind == "http":
        if not url:
            raise InvalidInput("an http source needs --url")
        config |= {
            "url": check_url(url),
            "hosts_location": hosts_location or None,
            "pagination": pagination,
            "pagination_key": pagination_key,
            "insecure": insecure,
            "timeout": float(timeout),
            "header_names": sorted(header_names or []),
        }
        if not 1 <= timeout <= 600:
            raise InvalidInput("timeout: 1 to 600 seconds")
    else:
        if not path:
            raise InvalidInput(f"a {kind} source needs --path (the file to read)")
        config["path"] = str(Path(path).expanduser().resolve())
    columns = kind == "oxidized-csv"
    if kind == "rancid":
        if mapping or vars_map:
            raise InvalidInput("a rancid source has no map: router.db is name;type;state")
        config["types"] = [t.lower() for t in types or formats.DEFAULT_TYPES]
    else:
        default_map: dict[str, object] = {"name": 0, "model": 1} if columns else {"name": "name"}
        config["map"] = formats.check_map(mapping or default_map, columns=columns)
        config["vars_map"] = {
            k: formats.check_position(k, v, columns=columns) for k, v in (vars_map or {}).items()
        }
        config["models"] = [
            m.lower() for m in (models if models is not None else formats.DEFAULT_MODELS)
        ]
    if delimiter is not None:
        if kind == "http":
            raise InvalidInput("--delimiter is for file sources")
        config["delimiter"] = delimiter
    elif columns:
        config["delimiter"] = ":"
    if port is not None and not 1 <= port <= 65535:
        raise InvalidInput(f"port {port}: 1-65535")
    config["defaults"] = {
        "username": username,
        "port": port,
        "site": site,
        "tags": sorted(set(tags or [])),
    }
    return config


def add_source(
    db: Database,
    tenant_id: int,
    *,
    actor: str,
    name: str,
    kind: str,
    config: dict[str, Any],
    headers: dict[str, str] | None = None,
    password: str | None = None,
) -> SourceView:
    """Keep a source (its header values and default password encrypted), audited."""
    secrets: dict[str, Any] = {}
    if headers:
        secrets["headers"] = headers
    if password is not None:
        secrets["password"] = password
    with db.transaction() as session:
        source = store_sources.add_source(
            session, tenant_id, name=name, kind=kind, config=config, secrets=secrets
        )
        audit(
            session,
            tenant_id,
            actor=actor,
            action="inventory.source.add",
            target=name,
            details={"kind": kind, "location": SourceView.of(source).location},
        )
        return SourceView.of(source)


def list_sources(db: Database, tenant_id: int) -> list[SourceView]:
    with db.session() as session:
        return [SourceView.of(s) for s in store_sources.list_sources(session, tenant_id)]


def get_source(db: Database, tenant_id: int, name: str) -> SourceView:
    with db.session() as session:
        return SourceView.of(store_sources.get_source(session, tenant_id, name))


def remove_source(db: Database, tenant_id: int, name: str, *, actor: str) -> None:
    """Forget a source; the routers it added stay (with their ``source:`` tag)."""
    with db.transaction() as session:
        store_sources.remove_source(session, tenant_id, name)
        audit(session, tenant_id, actor=actor, action="inventory.source.remove", target=name)


def _read_file(path: str) -> str:
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise SourceUnavailable(
            f"cannot read {path}: {exc.strerror or exc}", hint="check the source's --path"
        ) from None
    if len(data) > MAX_FILE_BYTES:
        raise SourceUnavailable(f"{path} is larger than {MAX_FILE_BYTES} bytes")
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise SourceUnavailable(f"{path}: line {line}: not UTF-8 text (byte {exc.start})") from None


def _rules(config: dict[str, Any]) -> formats.RowRules:
    return formats.RowRules(
        mapping=config.get("map") or {"name": "name"},
        vars_map=config.get("vars_map") or {},
        models=tuple(config.get("models") or ()),
    )


def read_source(
    config: dict[str, Any], kind: str, secrets: dict[str, Any], settings: Settings
) -> formats.Parsed:
    """Read and parse a source (blocking: a file or HTTP)."""
    if kind == "http":
        hosts = fetch_hosts(
            HttpSource(
                url=config["url"],
                headers=secrets.get("headers") or {},
                hosts_location=config.get("hosts_location"),
                pagination=bool(config.get("pagination")),
                pagination_key=config.get("pagination_key") or "next",
                timeout=float(config.get("timeout") or 60),
                verify_tls=not config.get("insecure"),
            ),
            settings,
        )
        return formats.parse_json_items(hosts, _rules(config))
    text = _read_file(config["path"])
    if kind == "rancid":
        return formats.parse_rancid(
            text,
            types=config.get("types") or formats.DEFAULT_TYPES,
            delimiter=config.get("delimiter"),
        )
    return formats.parse_delimited(text, _rules(config), delimiter=config.get("delimiter") or ":")


def _defaults(config: dict[str, Any], secrets: dict[str, Any]) -> Defaults:
    d = config.get("defaults") or {}
    return Defaults(
        username=d.get("username") or "admin",
        port=d.get("port") or 22,
        site=d.get("site"),
        tags=tuple(d.get("tags") or ()),
        password=secrets.get("password"),
        remove=bool(config.get("remove")),
    )


def _load(db: Database, tenant_id: int, name: str) -> tuple[str, dict[str, Any], dict[str, Any]]:
    with db.session() as session:
        source = store_sources.get_source(session, tenant_id, name)
        return source.kind, dict(source.config), store_sources.get_secrets(session, source)


def _record(db: Database, tenant_id: int, name: str, result: dict[str, Any]) -> None:
    with db.transaction() as session:
        source = store_sources.find_source(session, tenant_id, name)
        if source is not None:
            store_sources.record_sync(session, source, result)


def _plan_and_apply(
    db: Database,
    tenant_id: int,
    name: str,
    parsed: formats.Parsed,
    defaults: Defaults,
    *,
    actor: str,
    dry_run: bool,
    check_networks: bool,
) -> Plan:
    if dry_run:  # the same plan the real run makes, read without writing
        with db.session() as session:
            return make_plan(
                session, tenant_id, name, parsed, defaults, check_networks=check_networks
            )
    try:
        with db.transaction() as session:
            plan = make_plan(
                session, tenant_id, name, parsed, defaults, check_networks=check_networks
            )
            if plan.errors:
                raise SyncRefused(plan)
            apply_plan(session, tenant_id, plan, actor=actor)
            audit(
                session,
                tenant_id,
                actor=actor,
                action="inventory.sync",
                target=name,
                details=plan.counts(),
            )
            source = store_sources.get_source(session, tenant_id, name)
            store_sources.record_sync(session, source, {"ok": True, **plan.counts()})
            return plan
    except IntegrityError:  # a device added or renamed beside this sync (PostgreSQL)
        raise StateError(
            f"{name}: the inventory changed while syncing; nothing was changed",
            hint=f"sync again: tikguard inventory sync {name}",
        ) from None


async def sync(
    db: Database,
    settings: Settings,
    tenant_id: int,
    name: str,
    *,
    actor: str,
    dry_run: bool = False,
    as_operator: bool = False,
) -> Plan:
    """Read the source and plan; apply the plan unless ``dry_run``.

    Raises :class:`SourceUnavailable` (the source could not be read) or
    :class:`SyncRefused` (rows are wrong); either way nothing changed. A tenant's
    admin (the API, schedules) keeps to the tenant's management networks; the
    controller's operator (the CLI, ``as_operator``) is not bound by them.
    """
    kind, config, secrets = await asyncio.to_thread(_load, db, tenant_id, name)
    try:
        parsed = await asyncio.to_thread(read_source, config, kind, secrets, settings)
        defaults = _defaults(config, secrets)
        if defaults.remove:
            # Removal waits for a device's versions to be in the git mirror: catch it up.
            await asyncio.to_thread(mirror.sync_tenant, db, tenant_id, push=False)
        plan = await asyncio.to_thread(
            _plan_and_apply,
            db,
            tenant_id,
            name,
            parsed,
            defaults,
            actor=actor,
            dry_run=dry_run,
            check_networks=not as_operator,
        )
        if not dry_run and plan.counts()["remove"]:
            # The mirror records the removal (a ``removed: <name>`` commit) now.
            await asyncio.to_thread(mirror.sync_tenant, db, tenant_id, push=False)
        return plan
    except StoreError as exc:
        if not dry_run:
            await asyncio.to_thread(_record, db, tenant_id, name, {"ok": False, "error": str(exc)})
        raise
