"""Reading routers out of the inventory formats other tools keep (no I/O here).

Three formats, each turned into :class:`SourceRow` values with a reference to where the
row came from (``line 12``, ``item 3``) so that every problem names its row:

* RANCID's ``router.db``: ``name;type;state[;comment]`` (``:`` before RANCID 3.0),
  ``#`` comments. Only the configured types (``mikrotik``) in state ``up`` are routers
  to keep; a row of such a type in another state is *held* (RANCID keeps a ``down``
  router's history and stops collecting it: tikguard leaves it as it is).
* Oxidized's CSV source: one line per node split on a delimiter (a regular expression,
  ``:`` by default), columns picked by a ``map`` (``name: 0, model: 1, ...``) and a
  ``vars_map``; lines starting with ``#`` skipped; ``nil`` means empty.
* A JSON document (Oxidized's http source, NetBox's device API): a list of objects,
  reached by ``hosts_location``, each mapped by dotted paths (``primary_ip.address``,
  ``interfaces[0].name``).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tikguard.store import devices as store_devices
from tikguard.store.errors import InvalidInput

#: Fields a source may map. ``ip`` (Oxidized's name) and ``host`` are the address
#: (default: the name); ``group`` becomes a tag; ``model`` filters the rows.
FIELDS = ("name", "ip", "host", "port", "username", "password", "model", "group", "site", "tags")
#: Oxidized's model names of a MikroTik router (compared without case).
DEFAULT_MODELS = ("routeros", "mikrotik")
#: RANCID's device type of a MikroTik router.
DEFAULT_TYPES = ("mikrotik",)
#: The most rows one source may list (a runaway API answer is refused, not imported).
MAX_ROWS = 100_000


@dataclass(frozen=True)
class SourceRow:
    """One router as its source describes it; None: the source does not say."""

    ref: str
    name: str
    host: str
    port: int | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    site: str | None = None
    #: None: the source maps no tags (the device keeps its own).
    tags: tuple[str, ...] | None = None
    vars: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RowNote:
    """A row that is not imported: why, and (if known) which router it names."""

    ref: str
    reason: str
    name: str | None = None


@dataclass
class Parsed:
    rows: list[SourceRow] = field(default_factory=list)
    #: Rows that are wrong: any of them stops the sync (nothing is half-imported).
    errors: list[RowNote] = field(default_factory=list)
    #: Rows that are not routers to manage (another type or model): not errors.
    ignored: list[RowNote] = field(default_factory=list)
    #: Routers the source lists but does not want collected now (RANCID ``down``):
    #: left exactly as they are, never removed.
    held: list[RowNote] = field(default_factory=list)


def _text(value: object) -> str | None:
    """A source value as text; Oxidized's ``nil`` and JSON null are "not given"."""
    if value is None or isinstance(value, dict | list):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value).strip()
    return None if text in ("", "nil") else text


def _host(value: str) -> str:
    """An address as a router is reached: ``192.0.2.1/24`` (NetBox's primary IP) is
    the interface address, so its prefix length is dropped."""
    if "/" in value:
        try:
            return str(ipaddress.ip_interface(value).ip)
        except ValueError:
            pass
    return value


def _tags(value: object) -> tuple[str, ...]:
    """Tags from text (``a;b``, ``a|b``, ``a,b``, ``a b``) or a JSON list of names or of
    objects with a ``slug``/``name`` (NetBox's tags)."""
    items: list[object] = list(value) if isinstance(value, list) else [value]
    out: list[str] = []
    for item in items:
        if isinstance(item, dict):
            item = item.get("slug") or item.get("name")
        text = _text(item)
        if text:
            out.extend(t for t in re.split(r"[;|, ]+", text) if t)
    return tuple(out)


def check_map(mapping: Mapping[str, object], *, columns: bool) -> dict[str, Any]:
    """A field map as the source configuration keeps it: known fields only, ``name``
    required, column numbers (CSV) or dotted paths (JSON)."""
    unknown = sorted(set(mapping) - set(FIELDS))
    if unknown:
        raise InvalidInput(f"map: unknown field {', '.join(unknown)} (fields: {', '.join(FIELDS)})")
    if "name" not in mapping:
        raise InvalidInput("map: the name field is required (map name=...)")
    return {k: check_position(k, v, columns=columns) for k, v in mapping.items()}


def check_position(key: str, value: object, *, columns: bool) -> int | str:
    if columns:
        try:
            number = int(str(value))
        except ValueError:
            raise InvalidInput(
                f"map {key}: {value!r} is not a column number (0 is the first)"
            ) from None
        if not 0 <= number < 1000:
            raise InvalidInput(f"map {key}: column {number} is out of range (0-999)")
        return number
    text = str(value).strip()
    if not text or len(text) > 200:
        raise InvalidInput(f"map {key}: a path like primary_ip.address is needed")
    return text


def navigate(document: object, path: str) -> object:
    """Oxidized's ``string_navigate_object``: ``a.b[2].c`` walks keys and list indexes;
    a missing step gives None."""
    current = document
    for part in path.split("."):
        head, _, rest = part.partition("[")
        steps: list[str | int] = [head] if head else []
        steps += [int(i) for i in re.findall(r"(\d+)\]", "[" + rest)] if rest else []
        for step in steps:
            if isinstance(step, int) and isinstance(current, list):
                current = current[step] if -len(current) <= step < len(current) else None
            elif isinstance(step, str) and isinstance(current, dict):
                current = current.get(step)
            else:
                return None
    return current


@dataclass(frozen=True)
class RowRules:
    """How raw values become a row: the field map, model filter and defaults."""

    mapping: Mapping[str, int | str]
    vars_map: Mapping[str, int | str] = field(default_factory=dict)
    #: Accepted models (lower case); empty: every row, whatever its model.
    models: tuple[str, ...] = DEFAULT_MODELS


def _row(
    ref: str,
    raw: Mapping[str, object],
    vars_raw: Mapping[str, object],
    rules: RowRules,
    parsed: Parsed,
    seen: dict[str, str],
) -> None:
    """Add the row built from ``raw`` values to ``parsed`` (or its error / why not)."""
    name = _text(raw.get("name"))
    if name is None:
        parsed.errors.append(RowNote(ref, "no name (the mapped name field is empty)"))
        return
    if "model" in rules.mapping and rules.models:
        model = (_text(raw.get("model")) or "").lower()
        if model not in rules.models:
            parsed.ignored.append(RowNote(ref, f"model {model or '(none)'!r}", name))
            return
    try:
        store_devices.check_device_name(name)
        host = _host(_text(raw.get("ip")) or _text(raw.get("host")) or name)
        port = None
        if _text(raw.get("port")) is not None:
            port_text = _text(raw.get("port")) or ""
            if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
                raise InvalidInput(f"port {port_text!r} is not a port number (1-65535)")
            port = int(port_text)
        tags: tuple[str, ...] | None = None
        if "tags" in rules.mapping or "group" in rules.mapping:
            tags = _tags(raw.get("tags")) + _tags(raw.get("group"))
        values = {k: _text(v) for k, v in vars_raw.items()}
        variables = store_devices.check_vars({k: v for k, v in values.items() if v is not None})
    except InvalidInput as exc:
        parsed.errors.append(RowNote(ref, str(exc), name))
        return
    if name in seen:
        parsed.errors.append(
            RowNote(ref, f"{name!r} is listed twice (first at {seen[name]})", name)
        )
        return
    seen[name] = ref
    parsed.rows.append(
        SourceRow(
            ref=ref,
            name=name,
            host=host,
            port=port,
            username=_text(raw.get("username")),
            password=_text(raw.get("password")),
            site=_text(raw.get("site")),
            tags=tags,
            vars=variables,
        )
    )


def _too_many(parsed: Parsed) -> bool:
    if len(parsed.rows) + len(parsed.errors) + len(parsed.ignored) >= MAX_ROWS:
        parsed.errors.append(RowNote("-", f"more than {MAX_ROWS} rows: refused"))
        return True
    return False


def parse_rancid(
    text: str, *, types: Sequence[str] = DEFAULT_TYPES, delimiter: str | None = None
) -> Parsed:
    """A RANCID ``router.db``. ``delimiter`` None: ``;`` (RANCID 3) if any router line
    has one, else ``:`` (RANCID 2). Names are lower-cased, as RANCID files them."""
    lines = text.splitlines()
    data = [ln for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]
    sep = delimiter or (";" if any(";" in ln for ln in data) else ":")
    wanted = {t.lower() for t in types}
    parsed, seen = Parsed(), dict[str, str]()
    for number, line in enumerate(lines, start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if _too_many(parsed):
            break
        ref = f"line {number}"
        fields = [f.strip() for f in line.split(sep)]
        if len(fields) < 3 or not fields[0]:
            parsed.errors.append(
                RowNote(
                    ref, f"expected name{sep}type{sep}state[{sep}comment], got {line.strip()!r}"
                )
            )
            continue
        name, kind, state = fields[0].lower(), fields[1].lower(), fields[2].lower()
        if kind not in wanted:
            parsed.ignored.append(RowNote(ref, f"type {kind!r}", name))
            continue
        if state != "up":
            parsed.held.append(
                RowNote(ref, f"state {state!r} (not collected: left as it is)", name)
            )
            continue
        _row(ref, {"name": name}, {}, RowRules({"name": 0}, models=()), parsed, seen)
    return parsed


def parse_delimited(text: str, rules: RowRules, *, delimiter: str = ":") -> Parsed:
    """An Oxidized CSV source (its ``router.db``): columns by number, split on the
    ``delimiter`` regular expression; a column past the end of a line is empty."""
    try:
        splitter = re.compile(delimiter)
    except re.error as exc:
        raise InvalidInput(f"delimiter {delimiter!r} is not a regular expression: {exc}") from None
    parsed, seen = Parsed(), dict[str, str]()
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or re.match(r"\s*#", line):
            continue
        if _too_many(parsed):
            break
        cells = splitter.split(line)

        def pick(spec: Mapping[str, int | str], cells: list[str] = cells) -> dict[str, object]:
            return {k: cells[int(i)] if int(i) < len(cells) else None for k, i in spec.items()}

        _row(f"line {number}", pick(rules.mapping), pick(rules.vars_map), rules, parsed, seen)
    return parsed


def parse_json_hosts(document: object, rules: RowRules, *, hosts_location: str | None) -> Parsed:
    """Hosts of one JSON document (one page): the list at ``hosts_location`` (or the
    document itself), each mapped by dotted paths. References are ``item N`` (from 1)."""
    return parse_json_items(hosts_of(document, hosts_location), rules)


def hosts_of(document: object, hosts_location: str | None) -> list[object]:
    """The list of hosts in a document, or a clear error saying what was there."""
    hosts = navigate(document, hosts_location) if hosts_location else document
    if not isinstance(hosts, list):
        where = f"hosts_location {hosts_location!r}" if hosts_location else "the document"
        found = type(hosts).__name__ if hosts is not None else "nothing"
        raise InvalidInput(f"{where} is not a list of hosts (found {found})")
    return hosts


def parse_json_items(items: Sequence[object], rules: RowRules) -> Parsed:
    parsed, seen = Parsed(), dict[str, str]()
    for number, item in enumerate(items, start=1):
        if _too_many(parsed):
            break
        ref = f"item {number}"
        if not isinstance(item, dict):
            parsed.errors.append(
                RowNote(ref, f"a host must be an object, not {type(item).__name__}")
            )
            continue
        if not item:
            continue
        raw = {k: navigate(item, str(p)) for k, p in rules.mapping.items()}
        vars_raw = {k: navigate(item, str(p)) for k, p in rules.vars_map.items()}
        _row(ref, raw, vars_raw, rules, parsed, seen)
    return parsed
