"""Generic menu commands: add, set, unset, remove, move, enable, disable, get, find.

Works on any menu path: menus the schema knows get their natural keys checked
(``failure: already have such entry``); menus nobody modelled accept any property,
so every real export imports. Item selection follows RouterOS: ``[ find ... ]``,
internal ids (``*1A``), numbers from the last ``print`` and names.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from tikguard.routeros import schema as schema_mod
from tikguard.routeros.items import version_fill
from tikguard.sim.configdb import ConfigDB, Item, MenuState, Value
from tikguard.sim.errors import ALREADY_HAVE, NO_SUCH_ITEM, ConsoleError
from tikguard.sim.findexpr import Predicate

_INTERNAL_ID = re.compile(r"\*([0-9A-Fa-f]+)")
_NUMBER = re.compile(r"[0-9]+")

#: Menus whose items are interfaces: one name space across all of them.
INTERFACE_MENUS = frozenset(schema_mod.INTERFACE_MENUS)


#: Menus where RouterOS refuses a second item with the same name (real exports show
#: duplicate names elsewhere, e.g. two BGP connections or SMB shares of one name).
UNIQUE_NAME_MENUS = frozenset(
    {
        "/system scheduler",
        "/system script",
        "/user",
        "/user group",
        "/ip pool",
        "/interface list",
        "/ppp secret",
        "/ppp profile",
    }
)
#: Menus where RouterOS refuses a second item with the same natural key.
UNIQUE_KEY_MENUS = frozenset({"/ip address", "/ip firewall address-list", "/ip dns static"})


@dataclass
class Selection:
    """How a command names its items: a find predicate, references, or nothing."""

    predicate: Predicate | None = None
    refs: list[str] = field(default_factory=list)
    column: int = 1

    @property
    def empty(self) -> bool:
        return self.predicate is None and not self.refs


def is_singleton(path: str, state: MenuState | None) -> bool:
    """A menu addressed by plain ``set`` (``/ip dns``): the schema says so, or it has no items."""
    if schema_mod.lookup(path).singleton:
        return True
    return state is None or not state.items


def select(
    state: MenuState | None, selection: Selection, numbering: Sequence[int] | None
) -> list[Item]:
    """The items a selection names; references that name nothing raise ``no such item``."""
    if state is None:
        if selection.refs:
            raise ConsoleError(NO_SUCH_ITEM)
        return []
    if selection.predicate is not None:
        pred = selection.predicate
        return [i for i in state.items if pred(i)]
    out: list[Item] = []
    for ref in selection.refs:
        for part in ref.split(","):
            out.append(_resolve_ref(state, part.strip(), numbering))
    return out


def _resolve_ref(state: MenuState, ref: str, numbering: Sequence[int] | None) -> Item:
    m = _INTERNAL_ID.fullmatch(ref)
    if m:
        item = state.by_id(int(m.group(1), 16))
        if item is None:
            raise ConsoleError(NO_SUCH_ITEM)
        return item
    if _NUMBER.fullmatch(ref):
        if numbering is None:
            # Exports address some built-ins by number (``/queue type set 1``).
            for item in state.items:
                if item.ref == ref:
                    return item
        n = int(ref)
        ids = list(numbering) if numbering is not None else [i.id for i in state.items]
        if n >= len(ids):
            raise ConsoleError(NO_SUCH_ITEM)
        item = state.by_id(ids[n])
        if item is None:
            raise ConsoleError(NO_SUCH_ITEM)
        return item
    for item in state.items:
        if item.get("name") == ref:
            return item
    raise ConsoleError(NO_SUCH_ITEM)


def _check_unique(
    db: ConfigDB, path: str, state: MenuState, values: dict[str, Value], me: Item | None
) -> None:
    schema = schema_mod.lookup(path)
    name = values.get("name")
    if name is not None and path in UNIQUE_NAME_MENUS:
        for item in state.items:
            if item is not me and item.get("name") == name:
                raise ConsoleError(ALREADY_HAVE)
    if name is not None and path in INTERFACE_MENUS:
        for other_path in INTERFACE_MENUS:
            other = db.read(other_path)
            if other is None:
                continue
            for item in other.items:
                if item is not me and item.get("name") == name:
                    raise ConsoleError("failure: already have interface with such name")
        return
    for alternative in schema.keys:
        if not alternative or path not in UNIQUE_KEY_MENUS:
            continue
        merged = dict(me.effective()) if me is not None else {}
        merged.update({k: v for k, v in values.items() if v is not None})
        if not all(k in merged for k in alternative):
            continue
        if not any(k in values for k in alternative):
            return
        wanted = tuple(merged[k] for k in alternative)
        for item in state.items:
            if item is me:
                continue
            if tuple(item.get(k) for k in alternative) == wanted:
                raise ConsoleError(ALREADY_HAVE)
        return


def add(
    db: ConfigDB,
    path: str,
    values: dict[str, Value],
    flags: tuple[str, ...] = (),
    numbering: Sequence[int] | None = None,
    *,
    ros_version: str | None = None,
) -> Item:
    """Add an item (``place-before=`` puts it before another one); returns it.

    What the item is when a value is not given follows the version
    (:func:`tikguard.routeros.items.version_fill`, from the schema's
    ``defaults_for``): RouterOS 6 adds DHCP clients and servers, PPP clients, the PPPoE
    server and VPLS disabled unless ``disabled=no``. Such values are the item's base,
    like a built-in item's factory values: they count for ``find``, ``print`` and
    reachability, and a compact export leaves them out, as RouterOS does.
    """
    state = db.write(path)
    values = dict(values)
    before = values.pop("place-before", None)
    copy_from = values.pop("copy-from", None)
    if copy_from is not None:
        source = _resolve_ref(state, copy_from, numbering)
        merged = dict(source.values)
        merged.pop("name", None)
        merged.update(values)
        values = merged
    _check_unique(db, path, state, values, None)
    check_references(db, path, values)
    base = version_fill(schema_mod.lookup(path), ros_version)
    derive(path, values, values)
    item = Item(id=state.new_id(), values=values, base=base, flags=flags)
    if before is not None:
        target = _resolve_ref(state, before, numbering)
        state.items.insert(state.items.index(target), item)
    else:
        state.items.append(item)
    return item


def set_values(
    db: ConfigDB,
    path: str,
    items: list[Item] | None,
    values: dict[str, Value],
    flags: tuple[str, ...] = (),
) -> None:
    """``set`` on items (ids) or, with ``items=None``, on the singleton."""
    state = db.write(path)
    if items is None:
        state.values.update(values)
        return
    check_references(db, path, values)
    for target in items:
        mine = _own(state, target)
        _check_unique(db, path, state, values, mine)
        old_name = mine.get("name")
        mine.values.update(values)
        derive(path, mine.values, values)
        new_name = mine.get("name")
        if old_name and new_name and old_name != new_name:
            follow_rename(db, path, old_name, new_name)
        if flags:
            mine.flags = tuple(dict.fromkeys((*mine.flags, *flags)))


def derive(path: str, values: dict[str, Value], given: dict[str, Value]) -> None:
    """Fill in what RouterOS computes from other values (:func:`schema.derived_values`).

    ``/ip address``: ``network`` follows the address; RouterOS keeps a given one only
    for a /32 (a point-to-point peer), also when ``set`` changes something else.
    """
    derived = schema_mod.derived_values(path, values)
    if not derived:
        return
    point_to_point = str(values.get("address", "")).endswith("/32") or "/" not in str(
        values.get("address", "")
    )
    for key, value in derived.items():
        if point_to_point and values.get(key) and (given.get(key) or "address" not in given):
            continue
        values[key] = value


def unset(db: ConfigDB, path: str, items: list[Item] | None, keys: list[str]) -> None:
    state = db.write(path)
    if items is None:
        for key in keys:
            if key in state.base:
                state.values[key] = None
            else:
                state.values.pop(key, None)
        return
    for target in items:
        mine = _own(state, target)
        for key in keys:
            if key in mine.base:
                mine.values[key] = None
            else:
                mine.values.pop(key, None)
            mine.flags = tuple(f for f in mine.flags if f != key)
        derive(path, mine.values, {})


def remove(db: ConfigDB, path: str, items: list[Item]) -> None:
    state = db.write(path)
    for target in items:
        if target.builtin:
            raise ConsoleError("failure: can not remove built-in item")
    ids = {t.id for t in items}
    state.items = [i for i in state.items if i.id not in ids]


def move(db: ConfigDB, path: str, items: list[Item], before: Item | None) -> None:
    """Move items so they stand just before ``before`` (at the end when None)."""
    state = db.write(path)
    ids = [t.id for t in items]
    moving = [i for i in state.items if i.id in ids]
    rest = [i for i in state.items if i.id not in ids]
    if before is None or before.id in ids:
        if before is not None:
            return
        state.items = rest + moving
        return
    at = next(n for n, i in enumerate(rest) if i.id == before.id)
    state.items = rest[:at] + moving + rest[at:]


def _own(state: MenuState, target: Item) -> Item:
    """The router's own (mutable) copy of ``target`` inside ``state``."""
    mine = state.by_id(target.id)
    if mine is None:
        raise ConsoleError(NO_SUCH_ITEM)
    return mine


def resolve_one(state: MenuState, ref: str, numbering: Sequence[int] | None) -> Item:
    return _resolve_ref(state, ref, numbering)


#: Interface references: properties that name an interface.
_INTERFACE_REFS = frozenset(
    {
        "interface",
        "interfaces",
        "bridge",
        "in-interface",
        "out-interface",
        "master-port",
        "master-interface",
        "tagged",
        "untagged",
        "slaves",
        "ports",
    }
)

#: For a renamed item of a menu, the properties elsewhere that refer to it by name.
_REFERENCES: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "/interface list": frozenset(
            {"list", "in-interface-list", "out-interface-list", "interface-list"}
        ),
        "/ip pool": frozenset({"address-pool", "pool", "next-pool", "remote-address"}),
        "/routing ospf instance": frozenset({"instance"}),
        "/routing ospf area": frozenset({"area"}),
        "/routing bgp template": frozenset({"templates", "template"}),
        "/routing table": frozenset({"routing-table", "table"}),
        "/ppp profile": frozenset({"profile", "default-profile"}),
        "/interface wireless security-profiles": frozenset({"security-profile"}),
        "/ip dhcp-server": frozenset({"server"}),
    }
)


def follow_rename(db: ConfigDB, path: str, old: str, new: str) -> None:
    """RouterOS refers to objects, not names: a rename shows up in every reference."""
    keys = _INTERFACE_REFS if path in INTERFACE_MENUS else _REFERENCES.get(path)
    if not keys:
        return
    for other_path, state in list(db.menus()):
        if not any(_refers(item, keys, old) for item in state.items):
            continue
        mine = db.write(other_path)
        for item in mine.items:
            for key in keys:
                value = item.values.get(key)
                if value is None:
                    continue
                parts = value.split(",")
                if old in parts:
                    item.values[key] = ",".join(new if p == old else p for p in parts)


def _refers(item: Item, keys: frozenset[str], name: str) -> bool:
    for key in keys:
        value = item.values.get(key)
        if value is not None and name in value.split(","):
            return True
    return False


#: Properties that must name an existing interface, per menu (RouterOS refuses others
#: with ``input does not match any value of interface``).
_CHECKED_INTERFACE_REFS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "/ip address": ("interface",),
        "/interface vlan": ("interface",),
        "/interface bridge port": ("bridge",),
    }
)

#: Interfaces that exist without configuration.
_IMPLICIT_INTERFACES = frozenset({"lo", "all", "none"})


def check_references(db: ConfigDB, path: str, values: dict[str, Value]) -> None:
    """Refuse a value naming an interface that does not exist."""
    if not db.check_references:
        return
    for key in _CHECKED_INTERFACE_REFS.get(path, ()):
        name = values.get(key)
        if name is None or name in _IMPLICIT_INTERFACES or _INTERNAL_ID.fullmatch(name):
            continue
        if not _interface_exists(db, name):
            raise ConsoleError(f"input does not match any value of {key}")


def _interface_exists(db: ConfigDB, name: str) -> bool:
    for path, state in db.menus():
        if not path.startswith("/interface") or (
            path not in INTERFACE_MENUS and path.count(" ") > 1
        ):
            continue
        for item in state.items:
            if item.get("name") == name:
                return True
    return False
