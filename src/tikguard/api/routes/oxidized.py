"""Oxidized-compatible read endpoints under ``/oxidized``: tools that speak Oxidized's
REST API (LibreNMS' config tab and its Refresh button, NetBox plugins, scripts) read
tikguard's history and trigger a backup without knowing tikguard.

Where each shape comes from (public sources, read at the commits noted in
docs/oxidized.md):

* routes, ``.json`` / ``?format=json`` / ``?format=text`` handling, strings sent as a
  JSON array of lines, ``/nodes`` adding ``status``/``time``/``group``, group paths
  split at the last ``/``, ``/node/next`` answering ``"ok"`` or redirecting to
  ``/nodes``: ytti/oxidized-web ``lib/oxidized/web/webapp.rb`` (``out``,
  ``route_parse``, the ``get '/nodes...'``, ``/node/fetch``, ``/node/next``,
  ``/node/show``, ``/node/version``, ``/node/version/view``, ``/node/version/diffs``,
  ``/reload`` routes);
* a node (``name``, ``full_name``, ``ip``, ``group``, ``model``, ``last`` with
  ``start``/``end``/``status``/``time``, ``vars``, ``mtime``): ytti/oxidized
  ``lib/oxidized/node.rb`` (``Node#serialize``); times in UTC printed as Ruby prints a
  UTC ``Time`` (``2025-02-05 18:03:00 UTC``): ``lib/oxidized/job.rb``; ``mtime``
  ``"unknown"`` until a change: ``lib/oxidized/node/stats.rb``; statuses ``success``,
  ``fail``, ``no_connection``: ``lib/oxidized/node.rb`` (``Node#run``);
* a version (``oid``, ``date``, ``time``, ``author`` {name, email, time},
  ``message``), newest first: ytti/oxidized ``lib/oxidized/output/git.rb``
  (``Git.update_cache``); "node not found" / "version not found" texts: the same file;
* what LibreNMS calls and reads (``/node/show/NAME?format=json`` -> ``full_name``,
  ``group``, ``ip``, ``model``, ``last.status``, ``last.end``; ``/node/version?node_full=
  ...&format=json`` -> ``[0].oid``, ``date``, ``author.name``, ``message``;
  ``/node/version/view?node=&group=&oid=&date=&num=&format=text``;
  ``/node/version/diffs?...&oid2=...&format=text``; ``/node/fetch/[GROUP/]NAME``;
  ``PUT /node/next/NAME`` with ``{"user", "msg"}``; ``/reload.json``):
  librenms/librenms ``includes/html/pages/device/showconfig.inc.php`` and
  ``app/ApiClients/Oxidized.php``.

tikguard's mapping: a node is a device, its group the device's site (none: no group),
its model ``RouterOS`` (Oxidized's model class for MikroTik), a version's ``oid`` its
version number. Configurations are always the redacted export unless an admin adds
``?with_secrets=true`` (the rule of ``/api/v1/devices/{device}/versions/{ref}.rsc``).
Every endpoint needs a token (Bearer, or HTTP Basic with the token as the password, as
a URL's ``user:token@`` sends it) and sees only the token's tenant; ``/node/next``
needs the operator role. Where oxidized-web renders HTML, these answer JSON or text.
"""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse, RedirectResponse

from tikguard.api.deps import State, authenticate_basic, require
from tikguard.api.routes.history import read_version
from tikguard.ops import backup as backup_ops
from tikguard.ops import fleet as fleet_ops
from tikguard.ops import history
from tikguard.ops.accounts import Principal
from tikguard.server.errors import OXIDIZED_PREFIX, ApiError
from tikguard.server.state import need_engine
from tikguard.store.mirror import AUTHOR_EMAIL, AUTHOR_NAME
from tikguard.store.models import Role

#: Not in the OpenAPI document: these mirror another tool's API (docs/oxidized.md).
router = APIRouter(prefix=OXIDIZED_PREFIX, tags=["oxidized"], include_in_schema=False)

Reader = Annotated[Principal, Depends(require(Role.VIEWER, authenticate_basic))]
Refresher = Annotated[Principal, Depends(require(Role.OPERATOR, authenticate_basic))]
#: Oxidized's ``format`` parameter (``json`` or ``text``).
Format = Annotated[str | None, Query(max_length=8)]
#: Oxidized's model class for MikroTik RouterOS (``lib/oxidized/model/routeros.rb``).
MODEL = "RouterOS"
_STATUS = MappingProxyType({"changed": "success", "unchanged": "success", "failed": "fail"})
_LINES = re.compile(r"[^\n]*\n|[^\n]+")


def route_parse(value: str) -> tuple[str, bool]:
    """oxidized-web's ``route_parse``: a trailing ``.json`` asks for JSON."""
    if value.endswith(".json"):
        return value[: -len(".json")], True
    return value, False


def split_full(full: str) -> tuple[str | None, str]:
    """``GROUP/NAME`` (the group may hold ``/``; split at the last) or ``NAME``."""
    group, _, name = full.rpartition("/")
    return (group or None), name


def ruby_utc(at: datetime | None) -> str | None:
    """A time as Ruby prints a UTC ``Time`` (Oxidized's job times)."""
    if at is None:
        return None
    return _utc(at).strftime("%Y-%m-%d %H:%M:%S UTC")


def ruby_git(at: datetime) -> str:
    """A time as Ruby prints a commit's ``Time`` (Oxidized's version dates)."""
    return _utc(at).strftime("%Y-%m-%d %H:%M:%S +0000")


def _utc(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def out(data: Any, json: bool) -> Response:
    """oxidized-web's ``out``: JSON when asked (a string becomes its lines, as
    ``JSON.generate(@data.lines)``), else text for strings and JSON for data."""
    if isinstance(data, str):
        if json:
            return JSONResponse(_LINES.findall(data))
        return PlainTextResponse(data)
    return JSONResponse(data)


def serialize(node: fleet_ops.Node) -> dict[str, Any]:
    """``Node#serialize``."""
    last = None
    if node.last_backup_status is not None and node.last_backup_at is not None:
        at = ruby_utc(node.last_backup_at)
        # tikguard keeps when a device's last backup ended, not how long it took.
        last = {
            "start": at,
            "end": at,
            "status": _STATUS.get(node.last_backup_status, "fail"),
            "time": 0,
        }
    return {
        "name": node.name,
        "full_name": f"{node.site}/{node.name}" if node.site else node.name,
        "ip": node.host,
        "group": node.site,
        "model": MODEL,
        "last": last,
        "vars": {},
        "mtime": ruby_utc(node.changed_at) or "unknown",
    }


def listed(node: fleet_ops.Node) -> dict[str, Any]:
    """A node as ``/nodes`` lists it: with ``status``, ``time`` and a ``default`` group."""
    data = serialize(node)
    last = data["last"]
    data["status"] = last["status"] if last else "never"
    data["time"] = last["end"] if last else "never"
    data["group"] = data["group"] or "default"
    return data


async def _find(state: State, who: Principal, name: str) -> fleet_ops.Node:
    return await asyncio.to_thread(fleet_ops.find_node, state.db, who.tenant_id, name)


def _wants_json(json: bool, format: str | None) -> bool:
    return json or format == "json"


@router.get("/nodes")
@router.get("/nodes.json")
async def list_nodes(state: State, who: Reader) -> Response:
    """Every router of the token's tenant as an Oxidized node."""
    found = await asyncio.to_thread(fleet_ops.nodes, state.db, who.tenant_id)
    return JSONResponse([listed(n) for n in found])


@router.get("/nodes/{field}/{value:path}")
async def filter_nodes(field: str, value: str, state: State, who: Reader) -> Response:
    """``/nodes/group/SITE[.json]`` (``default``: routers without a site) or
    ``/nodes/model/RouterOS[.json]``."""
    value, _json = route_parse(value)
    if field not in ("group", "model"):
        raise ApiError(404, f"no node filter {field!r}", "filter by group or model")
    found = await asyncio.to_thread(fleet_ops.nodes, state.db, who.tenant_id)
    rows = [listed(n) for n in found]
    return JSONResponse([r for r in rows if r[field] == value])


@router.get("/reload")
@router.get("/reload.json")
async def reload(who: Reader) -> Response:
    """A no-op: tikguard's inventory is read live (LibreNMS calls this after changes)."""
    return out("reloaded list of nodes", True)


@router.get("/node/show/{node}")
async def show(node: str, state: State, who: Reader) -> Response:
    """One node (looked up by name, or by address when only one device has it)."""
    name, _json = route_parse(node)
    return JSONResponse(serialize(await _find(state, who, name)))


@router.get("/node/fetch/{path:path}")
async def fetch(
    path: str, state: State, who: Reader, format: Format = None, with_secrets: bool = False
) -> Response:
    """``/node/fetch/[GROUP/]NAME[.json]``: the newest configuration (the group is not
    needed: names are unique in a tenant)."""
    full, json = route_parse(path)
    _group, name = split_full(full)
    node = await _find(state, who, name)
    found = await read_version(state, who, node.id, "latest", with_secrets)
    return out(found.text, _wants_json(json, format))


@router.get("/node/version")
@router.get("/node/version.json")
async def versions(
    state: State,
    who: Reader,
    node_full: Annotated[str, Query(min_length=1, max_length=400)],
) -> Response:
    """``/node/version?node_full=[GROUP/]NAME``: every version, newest first."""
    _group, name = split_full(node_full)
    node = await _find(state, who, name)
    found = await asyncio.to_thread(history.list_history, state.db, who.tenant_id, node.name)
    return JSONResponse([_version(node, v) for v in found])


def _version(node: fleet_ops.Node, v: history.VersionInfo) -> dict[str, Any]:
    when = ruby_git(v.created_at)
    return {
        "oid": str(v.seq),
        "date": when,
        "time": when,
        "author": {"name": AUTHOR_NAME, "email": AUTHOR_EMAIL, "time": when},
        "message": f"{v.trigger}: {node.name} ({node.host}) RouterOS {v.ros_version or 'unknown'}",
    }


def _seq(oid: str | None) -> int:
    if oid is None or not oid.isascii() or not oid.isdigit() or len(oid) > 10:
        raise ApiError(404, "version not found", "take an oid from /node/version")
    return int(oid)


@router.get("/node/version/view")
@router.get("/node/version/view.json")
async def view(
    request: Request,
    state: State,
    who: Reader,
    node: Annotated[str, Query(min_length=1, max_length=200)],
    oid: Annotated[str | None, Query(max_length=64)] = None,
    format: Format = None,
    with_secrets: bool = False,
) -> Response:
    """``/node/version/view?node=NAME&oid=OID[&group=..&num=..&date=..]``: one version."""
    name, json = route_parse(node)
    found_node = await _find(state, who, name)
    found = await read_version(state, who, found_node.id, str(_seq(oid)), with_secrets)
    json = json or request.url.path.endswith(".json")
    return out(found.text, _wants_json(json, format))


@router.get("/node/version/diffs")
async def diffs(
    state: State,
    who: Reader,
    node: Annotated[str, Query(min_length=1, max_length=200)],
    oid: Annotated[str | None, Query(max_length=64)] = None,
    oid2: Annotated[str | None, Query(max_length=64)] = None,
    format: Format = None,
) -> Response:
    """``/node/version/diffs?node=NAME&oid=NEW[&oid2=OLD]``: the unified diff from
    ``oid2`` (default: the version before ``oid``) to ``oid``."""
    name, json = route_parse(node)
    found_node = await _find(state, who, name)
    new = _seq(oid)
    old = _seq(oid2) if oid2 else new - 1
    if old < 1:
        return out("No diff available", _wants_json(json, format))
    found = await history.diff_versions(
        state.db, state.settings, who.tenant_id, found_node.name, str(old), str(new)
    )
    return out(found.unified, _wants_json(json, format))


@router.get("/node/next/{path:path}")
@router.put("/node/next/{path:path}")
async def next_(path: str, state: State, who: Refresher) -> Response:
    """Back the router up now (through the backup service, audited as the token). JSON
    callers get ``["ok"]``; others are sent to ``/nodes``, as oxidized-web does. A
    ``PUT`` body (``{"user", "msg"}``) is accepted and not needed."""
    full, json = route_parse(path)
    _group, name = split_full(full)
    node = await _find(state, who, name)
    need_engine(state)
    await backup_ops.start(state.db, who.tenant_id, [node.id], requested_by=who.actor)
    if json:
        return out("ok", True)
    return RedirectResponse(f"{OXIDIZED_PREFIX}/nodes", status_code=303)
