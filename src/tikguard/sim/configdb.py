"""The simulated router's configuration database.

Menus hold items (with RouterOS internal ids ``*1``, ``*A``, ...) or, for singletons,
one set of values. Values are stored decoded, exactly as they were set, so what an
import put in comes back out of ``/export``.

Memory: thousands of routers share their model's default configuration. A router's
database starts as a view of that shared, never-mutated base and copies a menu only
when it first changes it (copy-on-write), so an untouched router costs a few objects.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

#: ``None`` marks a verbose export's ``!key`` (the property is explicitly not set).
Value = str | None


@dataclass(slots=True)
class Item:
    """One item of a menu.

    ``base`` holds a built-in item's factory values (shared, never mutated); ``values``
    what was set on top, in the order it was set. ``ref`` says how ``/export`` addresses
    a built-in item (``[ find default-name=ether1 ]``, ``*FFFFFFFE``, ``0``, ``telnet``);
    added items have none. ``flags`` are bare words RouterOS keeps (``passive``).
    """

    id: int
    values: dict[str, Value] = field(default_factory=dict)
    base: Mapping[str, str] = field(default_factory=dict)
    ref: str | None = None
    flags: tuple[str, ...] = ()
    #: Dynamic items (created by the system) are listed by print, never exported.
    dynamic: bool = False

    def get(self, key: str) -> str | None:
        if key in self.values:
            return self.values[key]
        return self.base.get(key)

    def effective(self) -> dict[str, str]:
        """Every known value: factory values overlaid with what was set."""
        out = dict(self.base)
        for k, v in self.values.items():
            if v is None:
                out.pop(k, None)
            else:
                out[k] = v
        return out

    def changed(self) -> dict[str, Value]:
        """Values that differ from the factory ones (what a compact export shows)."""
        return {k: v for k, v in self.values.items() if self.base.get(k) != v}

    @property
    def builtin(self) -> bool:
        return self.ref is not None

    @property
    def disabled(self) -> bool:
        return self.get("disabled") == "yes"

    def copy(self) -> Item:
        return Item(self.id, dict(self.values), self.base, self.ref, self.flags, self.dynamic)

    def id_text(self) -> str:
        return f"*{self.id:X}"


@dataclass(slots=True)
class MenuState:
    """A menu's items (in print order) and, for singletons, its values."""

    items: list[Item] = field(default_factory=list)
    values: dict[str, Value] = field(default_factory=dict)
    base: Mapping[str, str] = field(default_factory=dict)
    next_id: int = 1

    def copy(self) -> MenuState:
        return MenuState([i.copy() for i in self.items], dict(self.values), self.base, self.next_id)

    def new_id(self) -> int:
        used = {i.id for i in self.items}
        while self.next_id in used:
            self.next_id += 1
        self.next_id += 1
        return self.next_id - 1

    def by_id(self, ident: int) -> Item | None:
        for item in self.items:
            if item.id == ident:
                return item
        return None

    def singleton_get(self, key: str) -> str | None:
        if key in self.values:
            return self.values[key]
        return self.base.get(key)

    def singleton_effective(self) -> dict[str, str]:
        out = dict(self.base)
        for k, v in self.values.items():
            if v is None:
                out.pop(k, None)
            else:
                out[k] = v
        return out


class ConfigDB:
    """Menus by path, copy-on-write over a shared base."""

    __slots__ = ("_base", "_order", "_own", "check_references", "revision")

    def __init__(self, base: Mapping[str, MenuState] | None = None) -> None:
        #: Refuse references to interfaces that do not exist (RouterOS does).
        self.check_references = True
        self._base: Mapping[str, MenuState] = base or {}
        self._own: dict[str, MenuState] = {}
        self._order: list[str] | None = None  # paths written, in first-write order
        #: Counts every :meth:`write` and :meth:`reset`: a change to the content can
        #: only follow one, so equal revisions mean equal content (export cache).
        self.revision = 0

    def read(self, path: str) -> MenuState | None:
        """The menu for reading (never mutate it)."""
        own = self._own.get(path)
        return own if own is not None else self._base.get(path)

    def write(self, path: str, *, track: bool = True) -> MenuState:
        """The menu for changing: this router's own copy, created on first write.

        ``track=False`` keeps the menu out of first-write order (set-up values such as
        the identity, which RouterOS exports near the end).
        """
        self.revision += 1
        own = self._own.get(path)
        if own is not None:
            if track and (self._order is None or path not in self._order):
                # First real write to a menu set up untracked: it takes its place now.
                if self._order is None:
                    self._order = []
                self._order.append(path)
            return own
        shared = self._base.get(path)
        own = shared.copy() if shared is not None else MenuState()
        self._own[path] = own
        if track:
            if self._order is None:
                self._order = []
            self._order.append(path)
        return own

    def paths(self) -> Iterator[str]:
        """Every menu path: those written, in first-write order, then untouched base ones.

        First-write order is what an export prints: importing an export writes its
        menus in RouterOS's order, and building a config by hand can only reference
        what already exists.
        """
        ordered = self._order or []
        yield from ordered
        for path in self._base:
            if path not in self._own:
                yield path
        for path in self._own:
            if path not in ordered:
                yield path

    def written(self, path: str) -> bool:
        return path in self._own

    def menus(self) -> Iterator[tuple[str, MenuState]]:
        for path in self.paths():
            state = self.read(path)
            if state is not None:
                yield path, state

    def copy(self) -> ConfigDB:
        """An independent database with the same content (for backups and dry runs)."""
        clone = ConfigDB(self._base)
        clone.check_references = self.check_references
        clone._own = {p: m.copy() for p, m in self._own.items()}
        clone._order = list(self._order) if self._order else None
        return clone

    def reset(self, base: Mapping[str, MenuState]) -> None:
        self.revision += 1
        self._base = base
        self._own = {}
        self._order = None

    def owned_menus(self) -> int:
        """How many menus this router holds its own copy of (memory accounting)."""
        return len(self._own)
