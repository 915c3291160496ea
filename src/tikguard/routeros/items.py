"""Item identity: a Config seen as per-menu lists of identified items.

Diff, patch and the push's convergence check must agree on what "the same item" is,
so this is the one place that decides it, asking :func:`schema.lookup` for each menu:

* singleton menus (``/ip dns``): one item, addressed by a plain ``set``;
* built-in items addressed by ``set [ find default-name=ether1 ]`` / ``default=yes``
  or by a bare reference (``set telnet``, ``set *0``): they always exist on the device,
  so a missing one means "all defaults", never "removed";
* added items with a natural key (``name``; ``address``+``interface``; ...);
* added items without one (firewall rules): identified by their full property set,
  the n-th duplicate by its occurrence number.

Property maps are normalised: ``!key`` (verbose "not set") and values equal to the
schema default, or to the factory value of the config's RouterOS version
(:mod:`tikguard.routeros.defaults`: per built-in item, such as ``/ip service www-ssl``
``disabled=yes port=443``), count as absent, so compact and verbose exports compare
equal where the defaults are known. A route without ``dst-address`` gets the implied
``0.0.0.0/0`` (its identity), and a hardware-reported value that only one side shows
is not a change (:func:`tikguard.routeros.matching.prop_changes`).

Normalised properties are version-independent: they say what the item *is*, relative
to the canonical defaults (``schema.defaults``, ``comment=""``, ``disabled=no`` on added
items). Where the config's RouterOS version adds items with a different default
(:func:`schema.defaults_for` with ``config.meta.ros_version``: 6.x adds DHCP clients
and servers, PPP clients, the PPPoE server and VPLS *disabled*), an added item that
does not say otherwise gets that value spelled out (``disabled=yes``), and the
``disabled=no`` that 6.x exports print is the canonical default and drops out. So a
6.x and a 7.x export of the same enabled DHCP client compare equal, and a 6.x client
without ``disabled=no`` compares as disabled, which it is.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final, Literal

from tikguard.routeros import defaults as defaults_mod
from tikguard.routeros import schema as schema_mod
from tikguard.routeros.model import Command, Config, Prop, Selector
from tikguard.routeros.quoting import quote
from tikguard.routeros.schema import MenuSchema
from tikguard.routeros.secrets import HIDDEN as HIDDEN
from tikguard.routeros.secrets import is_placeholder

KeyKind = Literal["singleton", "default", "ref", "natural", "content"]

#: An internal object id such as ``*1A`` or ``*FFFFFFFE``.
INTERNAL_ID: Final = re.compile(r"\*[0-9A-Fa-f]+")
_PRINT_NUMBER: Final = re.compile(r"[0-9]+")

#: The value of a bare boolean flag word (``add area=x interfaces=lo passive``).
FLAG: Final = "\x00flag"

#: Verbs that address an existing item and set properties on it.
_SET_VERBS: Final = frozenset({"set", "enable", "disable"})


@dataclass(frozen=True, slots=True)
class Key:
    """The identity of one item inside its menu.

    ``parts`` are ``(property, value)`` pairs: the natural key, the ``default-name``
    selector, ``("ref", "*0")`` for a bare reference, or the full property set for
    ``content`` identity. ``occurrence`` separates items whose parts are equal.
    """

    kind: KeyKind
    parts: tuple[tuple[str, str], ...] = ()
    occurrence: int = 0

    @property
    def builtin(self) -> bool:
        """The item exists on every device of its kind: it is set, never added or removed."""
        return self.kind in ("singleton", "default", "ref")

    def label(self, sensitive: frozenset[str] = frozenset()) -> str:
        """How an engineer would name the item: ``name=wan``, ``default-name=ether1``.

        Values of ``sensitive`` properties are shown as :data:`HIDDEN` (a keyless item
        is labelled by all its properties, secrets included).
        """
        if self.kind == "singleton":
            return "(settings)"
        if self.kind == "ref":
            return self.parts[0][1]
        text = " ".join(shown_prop(k, v, sensitive) for k, v in self.parts)
        if self.occurrence:
            text += f" (duplicate #{self.occurrence + 1})"
        return text

    def as_json(self) -> dict[str, object]:
        return {"kind": self.kind, "parts": dict(self.parts), "occurrence": self.occurrence}


@dataclass(slots=True)
class Item:
    """One configured item: its identity, normalised properties and where it came from."""

    menu: str
    key: Key
    #: Normalised properties (no ``!key``, no value equal to a known default), in
    #: first-seen order.
    props: dict[str, str]
    #: Properties a verbose export marked ``!key`` (explicitly not set).
    unset: frozenset[str] = frozenset()
    #: The ``find`` selector or bare reference that addresses a built-in item.
    selector: tuple[Prop, ...] = ()
    ref: str | None = None
    #: Which block of this menu (0 for the first ``/path`` line, 1 for a repeat) and
    #: the position among the menu's added items (ordered menus).
    block: int = 0
    position: int = 0
    #: The properties as written (defaults included when the export spelled them out),
    #: for display and for ``add``; comparisons use ``props``.
    shown: dict[str, str] = field(default_factory=dict)

    @property
    def builtin(self) -> bool:
        return self.key.builtin

    def label(self) -> str:
        """The key's label, secrets hidden."""
        return self.key.label(schema_mod.lookup(self.menu).redacted)


@dataclass(slots=True)
class MenuItems:
    """Every item of one menu path, across repeated blocks, in export order."""

    path: str
    schema: MenuSchema
    items: list[Item] = field(default_factory=list)
    #: Commands that are not item configuration (``:delay``, ``remove``, ``move``, ...).
    opaque: list[Command] = field(default_factory=list)
    #: Built-in items by key, so repeated ``set`` lines find theirs at once.
    builtins: dict[Key, Item] = field(default_factory=dict, repr=False)
    #: What an ``add`` gets on this config's RouterOS version where that differs from
    #: the canonical default (:func:`version_fill`): ``{"disabled": "yes"}`` for a 6.x
    #: DHCP client.
    fill: dict[str, str] = field(default_factory=dict)
    #: The config's RouterOS version, for its factory values (:mod:`.defaults`).
    ros_version: str | None = None
    #: The factory values every item of this menu has on that version (shared).
    every: Mapping[str, str] = field(default_factory=dict)

    def factory(
        self, item: Item | None = None, key: Key | None = None, name: str | None = None
    ) -> Mapping[str, str]:
        """The factory values an item of this menu has beyond the schema's defaults:
        a built-in item's own (by ``key``, and ``name`` where the export gives it),
        else the menu's for every item. Shared: never change the result."""
        key = key if key is not None else (item.key if item is not None else None)
        if name is None and item is not None:
            name = item.shown.get("name")
        if key is not None and key.builtin:
            return defaults_mod.item_defaults(self.path, key.parts, self.ros_version, name)
        return self.every


def effective(
    props: Iterable[Prop],
    schema: MenuSchema,
    *,
    builtin: bool = False,
    fill: dict[str, str] | None = None,
    factory: Mapping[str, str] | None = None,
) -> tuple[dict[str, str], frozenset[str]]:
    """Normalised ``(props, unset)`` for a command's properties, last value winning."""
    values, unset = _written(props)
    return strip_defaults(values, schema, builtin=builtin, fill=fill, factory=factory), unset


def version_fill(schema: MenuSchema, ros_version: str | None) -> dict[str, str]:
    """The defaults an added item gets on ``ros_version`` that differ from the canonical
    ones (``schema.defaults``, else ``comment=""`` / ``disabled=no``).

    Empty on 7.x and for most menus; ``{"disabled": "yes"}`` for the menus where 6.x
    adds items disabled (see :func:`schema.defaults_for`, the one source of this);
    the values :data:`defaults.IMPLIED` gives an item that leaves them out (a route's
    ``dst-address=0.0.0.0/0``).
    """
    implied = defaults_mod.IMPLIED.get(schema.path)
    if not schema.legacy_defaults:
        return dict(implied) if implied else {}
    fill: dict[str, str] = dict(implied) if implied else {}
    for key, value in schema_mod.defaults_for(schema, ros_version).items():
        canonical = schema.defaults.get(key)
        if canonical is None:
            canonical = _universal_default(key, False)
        if value != canonical:
            fill[key] = value
    return fill


def _written(props: Iterable[Prop]) -> tuple[dict[str, str], frozenset[str]]:
    values: dict[str, str] = {}
    unset: set[str] | None = None
    for prop in props:
        if prop.value is None:
            values.pop(prop.key, None)
            unset = unset or set()
            unset.add(prop.key)
        else:
            if unset:
                unset.discard(prop.key)
            values[prop.key] = FLAG if prop.flag else prop.value
    return values, frozenset(unset) if unset else _NO_KEYS


_NO_KEYS: Final[frozenset[str]] = frozenset()


def explicit(props: Iterable[Prop]) -> dict[str, str]:
    """The properties as written, last value winning, ``!key`` dropping an earlier value."""
    values: dict[str, str] = {}
    for prop in props:
        if prop.value is None:
            values.pop(prop.key, None)
        else:
            values[prop.key] = FLAG if prop.flag else prop.value
    return values


def strip_defaults(
    values: dict[str, str],
    schema: MenuSchema,
    *,
    builtin: bool = False,
    fill: dict[str, str] | None = None,
    factory: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """``values`` without the properties whose value is known to be the canonical default
    (or the value RouterOS derives from the others: :func:`schema.derived_values`).

    ``fill`` (:func:`version_fill`, added items only): the version's own defaults where
    they differ from the canonical ones; an item that does not set such a property has
    that value, so it is spelled out. ``factory``: the item's factory values on the
    config's version (:meth:`MenuItems.factory`), which count as defaults too.
    """
    defaults = schema.defaults
    derived = schema_mod.derived_values(schema.path, values)
    out: dict[str, str] = {}
    for key, value in values.items():
        default = derived.get(key)
        if default is None and factory:
            default = factory.get(key)
        if default is None:
            default = defaults.get(key)
        if default is None and (key == "comment" or key == "disabled"):
            default = _universal_default(key, builtin)
        if default != value:
            out[key] = value
    if fill and not builtin:
        for key, value in fill.items():
            if key not in values:
                out[key] = value
    return out


def default_of(schema: MenuSchema, item: Item | None, prop: str) -> str | None:
    """The value ``prop`` takes when not set, if known.

    The schema's defaults first; a built-in interface's ``name`` defaults to its
    ``default-name`` (an item found by ``name=`` keeps that name); ``comment`` is empty
    everywhere, and ``disabled`` is ``no`` for
    added items (built-in ones such as wireless interfaces can start disabled).
    """
    if prop in schema.defaults:
        return schema.defaults[prop]
    if item is not None and prop == "name":
        for sel in item.selector:
            if sel.key in ("default-name", "name") and sel.value is not None:
                return sel.value
        if item.key.kind == "default":
            for key, value in item.key.parts:
                if key == "name":
                    return value  # ``set telnet``: the built-in item named so
    return _universal_default(prop, item is not None and item.builtin)


def _universal_default(prop: str, builtin: bool) -> str | None:
    if prop == "comment":
        return ""
    if prop == "disabled" and not builtin:
        return "no"
    return None


#: How a secret value is shown where it must not appear (labels, messages, diffs).
def shown_value(key: str, value: str, sensitive: frozenset[str]) -> str:
    """``value``, or :data:`HIDDEN` for a sensitive property that is not a placeholder."""
    if key in sensitive and value and not is_placeholder(value):
        return HIDDEN
    return value


def shown_prop(key: str, value: str, sensitive: frozenset[str]) -> str:
    """``key=value`` for display, secrets hidden."""
    shown = shown_value(key, value, sensitive)
    return f"{key}={shown}" if shown is HIDDEN else prop_text(key, shown)


def prop_text(key: str, value: str) -> str:
    """``key=value`` as a console argument (a flag word stays bare)."""
    return key if value == FLAG else f"{key}={quote(value)}"


def natural_key(props: dict[str, str], schema: MenuSchema) -> tuple[tuple[str, str], ...] | None:
    """The first natural-key alternative the item carries, as ``(prop, value)`` pairs."""
    for alternative in schema.keys:
        if alternative and all(k in props for k in alternative):
            return tuple((k, props[k]) for k in alternative)
    return None


def content_parts(props: dict[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(props.items()))


def collect(config: Config) -> dict[str, MenuItems]:
    """Every menu of ``config`` as identified items, in order of first appearance."""
    menus: dict[str, MenuItems] = {}
    blocks: dict[str, int] = {}
    for menu in config.menus:
        block = blocks.get(menu.path, -1) + 1
        blocks[menu.path] = block
        items = menus.get(menu.path)
        if items is None:
            schema = schema_mod.lookup(menu.path)
            version = config.meta.ros_version
            items = menus[menu.path] = MenuItems(
                menu.path,
                schema,
                fill=version_fill(schema, version),
                ros_version=version,
                every=defaults_mod.menu_factory(menu.path, version).every,
            )
        for command in menu.commands:
            _absorb(items, command, block)
    for items in menus.values():
        _finish(items)
    return menus


def _absorb(menu: MenuItems, command: Command, block: int) -> None:
    schema = menu.schema
    if command.verb == "add" and command.selector is None:
        flags = [Prop(word, FLAG) for word in command.args]
        written, unset = _written([*command.props, *flags] if flags else command.props)
        menu.items.append(
            Item(
                menu.path,
                Key("content"),
                strip_defaults(written, schema, fill=menu.fill, factory=menu.factory()),
                unset,
                block=block,
                position=len(menu.items),
                shown=written,
            )
        )
        return
    if command.verb not in _SET_VERBS:
        menu.opaque.append(command)
        return
    raw = list(command.props)
    if command.verb != "set":
        raw.append(Prop("disabled", "yes" if command.verb == "disable" else "no"))
    selector = command.selector
    if selector is None and command.args:
        if len(command.args) != 1:
            menu.opaque.append(command)
            return
        selector = Selector(ref=command.args[0])  # ``set telnet``: a bare reference
    if selector is None:
        key = Key("singleton")
        target = _find_builtin(menu, key)
        _merge(menu, target, key, raw, block, (), None)
        return
    if selector.find is not None:
        find = tuple(p for p in selector.find if p.value is not None)
        existing = _find_added(menu, find)
        if existing is not None:
            _merge_into(existing, raw, menu)
            return
        key = Key("default", tuple((p.key, p.value or "") for p in find))
        _merge(menu, _find_builtin(menu, key), key, raw, block, find, None)
        return
    ref = selector.ref or ""
    if not INTERNAL_ID.fullmatch(ref) and not _PRINT_NUMBER.fullmatch(ref):
        existing = _find_added(menu, (Prop("name", ref),))
        if existing is not None:
            _merge_into(existing, raw, menu)
            return
        key = Key("default", (("name", ref),))
        _merge(menu, _find_builtin(menu, key), key, raw, block, (), ref)
        return
    key = Key("ref", (("ref", ref),))
    _merge(menu, _find_builtin(menu, key), key, raw, block, (), ref)


def _find_builtin(menu: MenuItems, key: Key) -> Item | None:
    return menu.builtins.get(key)


def _find_added(menu: MenuItems, find: tuple[Prop, ...]) -> Item | None:
    """An earlier ``add`` of this config that a ``set [ find ... ]`` addresses."""
    if not find:
        return None
    for item in menu.items:
        if item.key.kind == "content" and all(item.shown.get(p.key) == p.value for p in find):
            return item
    return None


def _merge(
    menu: MenuItems,
    target: Item | None,
    key: Key,
    raw: list[Prop],
    block: int,
    selector: tuple[Prop, ...],
    ref: str | None,
) -> None:
    if target is not None:
        _merge_into(target, raw, menu)
        return
    factory = menu.factory(key=key, name=_last_name(raw))
    props, unset = effective(raw, menu.schema, builtin=key.builtin, factory=factory)
    item = Item(
        menu.path,
        key,
        props,
        unset,
        selector=selector,
        ref=ref,
        block=block,
        position=len(menu.items),
        shown=explicit(raw),
    )
    menu.items.append(item)
    menu.builtins[key] = item


def _merge_into(item: Item, raw: list[Prop], menu: MenuItems) -> None:
    merged = [Prop(k, v, flag=v == FLAG) for k, v in item.shown.items()]
    merged += [Prop(k, None) for k in item.unset]
    props, unset = effective(
        [*merged, *raw],
        menu.schema,
        builtin=item.builtin,
        fill=menu.fill,
        factory=menu.factory(item, name=_last_name(raw) or item.shown.get("name")),
    )
    item.props = props
    item.unset = unset
    item.shown = explicit([*merged, *raw])


def _last_name(props: list[Prop]) -> str | None:
    """The ``name`` a command's properties give, if any (the last one wins)."""
    for prop in reversed(props):
        if prop.key == "name":
            return prop.value
    return None


def _finish(menu: MenuItems) -> None:
    """Give added items their final identity: natural key, else content; number duplicates."""
    seen: dict[tuple[KeyKind, tuple[tuple[str, str], ...]], int] = {}
    position = 0
    for item in menu.items:
        if item.key.kind == "content":
            natural = natural_key(item.props, menu.schema)
            kind: KeyKind = "natural" if natural is not None else "content"
            parts = natural if natural is not None else content_parts(item.props)
            n = seen.get((kind, parts), 0)
            seen[(kind, parts)] = n + 1
            item.key = Key(kind, parts, n)
            item.position = position
            position += 1


def rekey(menu: MenuItems) -> None:
    """Recompute the identity of added items after their properties changed."""
    for item in menu.items:
        if not item.builtin:
            item.key = Key("content")
    _finish(menu)


def name_of(item: Item, schema: MenuSchema) -> str | None:
    """The item's name as the device shows it (a built-in interface: its default-name)."""
    name = item.props.get("name")
    return name if name is not None else default_of(schema, item, "name")


def depends(dependent: str, on: str) -> bool:
    """Whether items of menu ``dependent`` may refer to items of menu ``on``.

    Exactly the schema's ``depends_on`` (see :class:`schema.MenuSchema`): an entry
    names one menu, never the menus below it, so ``/interface bridge`` covers bridges
    and not bridge ports or bridge VLANs (which would make every menu that depends on
    interfaces depend on the bridge ports that depend on it). A menu never depends on
    itself here: order inside a menu is the menu's own business.
    """
    return dependent != on and on in schema_mod.lookup(dependent).depends_on


def rewrite_refs(props: dict[str, str], renames: dict[str, str]) -> dict[str, str]:
    """``props`` with references to renamed items updated, as RouterOS does on rename.

    A reference is a whole value or one element of a comma list, optionally negated
    (``in-interface-list=!LAN``). ``name`` and ``comment`` are never references.
    """
    if not renames:
        return props
    out: dict[str, str] = {}
    for key, value in props.items():
        if key in ("name", "comment"):
            out[key] = value
            continue
        out[key] = ",".join(_rewrite_word(word, renames) for word in value.split(","))
    return out


def _rewrite_word(word: str, renames: dict[str, str]) -> str:
    if word.startswith("!"):
        new = renames.get(word[1:])
        return "!" + new if new is not None else word
    return renames.get(word, word)
