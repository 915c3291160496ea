"""The RouterOS script that turns a running configuration into a target one.

``make_patch(running, target)`` walks the item matching of :mod:`matching` and writes
``add``/``set``/``unset``/``remove``/``move`` commands in an order RouterOS accepts:

1. removals, menus in reverse dependency order (referrers before what they refer to,
   e.g. bridge ports before their bridge), addressed by the names the device still has;
2. then menu by menu in dependency order: changed properties (``set``; renames first
   take effect, and RouterOS rewrites references to renamed items exactly as the
   patch's own model of the device does), new items, and in ordered menus the minimal
   moves, placing each new or moved item before the next item that keeps its place
   (``place-before=`` / ``move ... destination=``).

Every item is addressed by a selector proven to match exactly that item in the
device's state at that point of the script: its natural key, its comment, its whole
property set, or -- in ordered menus only -- its position among static items
(``[ :pick [ find dynamic=no ] N ]``). Every value is written with
:func:`quoting.quote`.

What cannot be expressed safely is not guessed: it is listed in
``Patch.unsupported`` (menu, item, what, why), and the push falls back to a full
replace.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Final

from tikguard.routeros.diff import Diff, command_text, diff_matches
from tikguard.routeros.items import (
    FLAG,
    INTERNAL_ID,
    Item,
    default_of,
    depends,
    natural_key,
    prop_text,
    rewrite_refs,
    shown_value,
)
from tikguard.routeros.matching import MenuMatch, PropChange, match, prop_changes
from tikguard.routeros.model import Config
from tikguard.routeros.quoting import quote
from tikguard.routeros.schema import INTERFACE_MENUS, MenuSchema

#: Above this many items, proving a whole-property ``find`` unique is not attempted.
_SCAN_LIMIT: Final = 3000


@dataclass(frozen=True, slots=True)
class Unsupported:
    """A change the patch cannot express safely: where, what, and why."""

    menu: str
    item: str
    what: str
    why: str

    def __str__(self) -> str:
        return f"{self.menu} {self.item}: cannot {self.what}: {self.why}"

    def as_json(self) -> dict[str, str]:
        return {"menu": self.menu, "item": self.item, "what": self.what, "why": self.why}


@dataclass(slots=True)
class Patch:
    """The script (menu lines and commands, as ``/import`` takes them) and its gaps."""

    lines: list[str] = field(default_factory=list)
    unsupported: list[Unsupported] = field(default_factory=list)

    @property
    def script(self) -> str:
        return "\n".join(self.lines) + "\n" if self.lines else ""

    @property
    def ok(self) -> bool:
        """True when the script alone turns the running config into the target."""
        return not self.unsupported

    @property
    def empty(self) -> bool:
        return not self.lines

    @property
    def command_count(self) -> int:
        return sum(1 for line in self.lines if not line.startswith("/"))

    def as_json(self) -> dict[str, object]:
        """``{"ok", "script", "commands", "unsupported": [{menu, item, what, why}]}``."""
        return {
            "ok": self.ok,
            "script": self.script,
            "commands": self.command_count,
            "unsupported": [u.as_json() for u in self.unsupported],
        }


class _Live:
    """One item as the device has it at this point of the script."""

    __slots__ = ("item", "props")

    def __init__(self, item: Item, props: dict[str, str]) -> None:
        self.item = item
        self.props = props


class _MenuState:
    """The device's items of one menu while the script is being written."""

    def __init__(self, m: MenuMatch) -> None:
        self.path = m.path
        self.schema: MenuSchema = m.schema
        self.items: list[_Live] = []  # added (non-built-in) items, in device order
        self.builtins: dict[object, _Live] = {}
        self.old: dict[int, _Live] = {}
        self._comments: Counter[str] = Counter()
        self._naturals: Counter[tuple[tuple[str, str], ...]] = Counter()
        self._keyless = 0
        #: Items were removed or placed: print numbers no longer mean what the export's did.
        self.renumbered = False
        for i, item in enumerate(m.old_raw):
            live = _Live(item, dict(item.props))
            self.old[i] = live
            if item.builtin:
                self.builtins[item.key] = live
            else:
                self.append(live)

    # -- index upkeep -------------------------------------------------------------
    def _index(self, live: _Live, delta: int) -> None:
        comment = live.props.get("comment")
        if comment:
            self._comments[comment] += delta
        natural = natural_key(live.props, self.schema)
        if natural is None:
            self._keyless += delta
        else:
            self._naturals[natural] += delta

    def append(self, live: _Live) -> None:
        self.items.append(live)
        self._index(live, 1)

    def insert(self, at: int, live: _Live) -> None:
        self.items.insert(at, live)
        self._index(live, 1)
        self.renumbered = True

    def remove(self, live: _Live) -> None:
        self.items.remove(live)
        self._index(live, -1)
        self.renumbered = True

    def update(self, live: _Live, props: dict[str, str]) -> None:
        if live.item.builtin:
            live.props = props
            return
        self._index(live, -1)
        live.props = props
        self._index(live, 1)

    def holds(self, key: tuple[tuple[str, str], ...]) -> bool:
        """Whether an item with this natural key exists now."""
        return self._naturals[key] > 0

    # -- addressing ---------------------------------------------------------------
    def address(self, live: _Live) -> tuple[str | None, str]:
        """A selector matching exactly ``live`` now, or None and the reason why not."""
        item = live.item
        if item.builtin:
            return _builtin_address(item, self.renumbered)
        natural = natural_key(live.props, self.schema)
        if natural is not None and self._keyless == 0 and self._naturals[natural] == 1:
            return _find(natural), ""
        comment = live.props.get("comment")
        if comment and self._comments[comment] == 1:
            return _find((("comment", comment),)), ""
        whole = tuple(
            (k, v)
            for k, v in live.props.items()
            if v != FLAG and k not in self.schema.redacted and not INTERNAL_ID.search(v)
        )
        if whole and len(self.items) <= _SCAN_LIMIT and self._unique(whole):
            return _find(whole), ""
        if self.schema.ordered:
            return f"[ :pick [ find dynamic=no ] {self.items.index(live)} ]", ""
        return None, (
            "it has no natural key, no unique comment, and its properties also match "
            "another item, so no selector addresses it alone"
        )

    def _unique(self, find: tuple[tuple[str, str], ...]) -> bool:
        count = 0
        for other in self.items:
            if all(self._may_match(other, k, v) for k, v in find):
                count += 1
                if count > 1:
                    return False
        return count == 1

    def _may_match(self, live: _Live, key: str, value: str) -> bool:
        """Whether ``find key=value`` could match ``live`` (unknown defaults: maybe).

        A property the item leaves out matches its default; one the schema knows has no
        value unless given (a firewall matcher) matches no non-empty value.
        """
        have = live.props.get(key)
        if have is None:
            have = default_of(self.schema, live.item, key)
            if have is None and key in self.schema.unset_when_absent:
                return value == ""
            return have is None or have == value
        return have == value


def _builtin_address(item: Item, renumbered: bool) -> tuple[str | None, str]:
    if item.key.kind == "singleton":
        return "", ""
    if item.selector:
        return _find(tuple((p.key, p.value or "") for p in item.selector)), ""
    ref = item.ref or ""
    if ref.isdigit() and renumbered:
        return None, (
            f"the export addresses it by print number {ref}, and items of this menu were "
            "removed or moved earlier in the script, so the number may name another item"
        )
    # A print number as the export itself writes it (``/port set 0``): a full replace
    # would rely on it just the same.
    return (ref if INTERNAL_ID.fullmatch(ref) or ref.isdigit() else quote(ref)), ""


def _find(parts: tuple[tuple[str, str], ...]) -> str:
    return "[ find " + " ".join(f"{k}={quote(v)}" for k, v in parts) + " ]"


def _command(verb: str, address: str, args: list[str]) -> str:
    return " ".join(part for part in (verb, address, *args) if part)


class _Writer:
    """Writes the script menu by menu, keeping one :class:`_MenuState` per menu."""

    def __init__(self, matches: list[MenuMatch]) -> None:
        # Own copies: keyless replacements rewrite the pairing, and the caller's
        # matching may also feed a diff.
        self.matches = [
            replace(
                m,
                pairs=list(m.pairs),
                removed=list(m.removed),
                added=list(m.added),
                stayers=set(m.stayers),
            )
            for m in matches
        ]
        self.states = {m.path: _MenuState(m) for m in self.matches}
        self.patch = Patch()
        self._menu: str | None = None

    def emit(self, path: str, line: str) -> None:
        if self._menu != path:
            self.patch.lines.append(path)
            self._menu = path
        self.patch.lines.append(line)

    def unsupported(self, m: MenuMatch, label: str, what: str, why: str) -> None:
        self.patch.unsupported.append(Unsupported(m.path, label, what, why))

    def run(self) -> Patch:
        for m in self.matches:
            self._check_opaque(m)
            self._split_replacements(m)
        for m in reversed(self.matches):
            self._removals(m)
        for m in self.matches:
            self._changes(m)
            if m.schema.ordered:
                self._order(m)
            else:
                self._adds(m)
        return self.patch

    # -- preparation --------------------------------------------------------------
    def _check_opaque(self, m: MenuMatch) -> None:
        """Commands that are not item configuration cannot be patched, except console
        commands (``:delay 5``, ``:put``) which change no configuration at all."""
        old = [command_text(c) for c in m.opaque_old if not c.verb.startswith(":")]
        for command in m.opaque_new:
            if command.verb.startswith(":"):
                continue
            text = command_text(command)
            if text in old:
                old.remove(text)
            else:
                self.unsupported(
                    m, text, "add this command", "it is not item configuration the patch models"
                )
        for text in old:
            self.unsupported(
                m, text, "undo this command", "it is not item configuration the patch models"
            )

    def _split_replacements(self, m: MenuMatch) -> None:
        """Keyless items whose dropped property has no known default: remove and re-add."""
        keep: list[tuple[int, int]] = []
        for i, j in m.pairs:
            if i >= 0 and j >= 0 and m.new[j].key.kind == "content" and self._needs_reset(m, i, j):
                m.removed.append(i)
                m.added.append(j)
                m.stayers.discard((i, j))
            else:
                keep.append((i, j))
        m.pairs = keep
        m.removed.sort()
        m.added.sort()

    def _needs_reset(self, m: MenuMatch, i: int, j: int) -> bool:
        new = m.new[j]
        for change in prop_changes(m, i, j):
            if (
                change.new is None
                and change.default is None
                and change.old != FLAG
                and change.prop not in new.unset
            ):
                return True
        return False

    # -- phase 1: removals --------------------------------------------------------
    def _removals(self, m: MenuMatch) -> None:
        state = self.states[m.path]
        for i in sorted(m.removed, reverse=True):
            live = state.old[i]
            address, why = state.address(live)
            if address is None:
                self.unsupported(m, live.item.label(), "remove it", why)
                continue
            self.emit(m.path, _command("remove", address, []))
            state.remove(live)

    # -- phase 2: property changes ------------------------------------------------
    def _changes(self, m: MenuMatch) -> None:
        state = self.states[m.path]
        for i, j in m.pairs:
            changes = prop_changes(m, i, j)
            if not changes:
                continue
            item = m.new[j] if j >= 0 else m.old[i]
            live = state.old.get(i) if i >= 0 else None
            if live is None:
                live = state.builtins.get(item.key) or _Live(item, {})
                state.builtins[item.key] = live
            label = item.label()
            args: list[str] = []
            unsets: list[str] = []
            problems = False
            for change in changes:
                key = change.prop
                if change.new is not None:
                    if change.new == FLAG:
                        args.append(key)
                    elif self._internal(m, label, key, change.new):
                        problems = True
                    else:
                        args.append(f"{key}={quote(change.new)}")
                elif change.old == FLAG:
                    args.append(f"{key}=no")
                elif change.default is not None:
                    args.append(f"{key}={quote(change.default)}")
                elif j >= 0 and key in m.new[j].unset:
                    unsets.append(key)
                else:
                    problems = True
                    old_value, sensitive = change.old or "", state.schema.redacted
                    self.unsupported(
                        m,
                        label,
                        f"reset {key} (now {quote(shown_value(key, old_value, sensitive))})",
                        "the target leaves it unset and its default value is not in the schema",
                    )
            if problems:
                continue
            address, why = state.address(live)
            if address is None:
                self.unsupported(m, label, "change it", why)
                continue
            if not self._rename_ok(m, state, live, changes, label):
                continue
            if j >= 0 and not self._key_free(m, state, live, m.new[j].props, label):
                continue
            if args:
                self.emit(m.path, _command("set", address, args))
            for key in unsets:
                self.emit(m.path, _command("unset", address, [f"value-name={key}"]))
            self._apply(state, live, m.new[j].props if j >= 0 else {})

    def _rename_ok(
        self, m: MenuMatch, state: _MenuState, live: _Live, changes: list[PropChange], label: str
    ) -> bool:
        """A new name must be free in its name space (all interface menus share one)."""
        new_name = next((c.new for c in changes if c.prop == "name" and c.new), None)
        if new_name is None:
            return True
        space = INTERFACE_MENUS if state.path in INTERFACE_MENUS else (state.path,)
        for path in space:
            other = self.states.get(path)
            if other is None:
                continue
            for holder in [*other.items, *other.builtins.values()]:
                name = holder.props.get("name") or default_of(other.schema, holder.item, "name")
                if holder is not live and name == new_name:
                    self.unsupported(
                        m,
                        label,
                        f"rename it to {quote(new_name)}",
                        f"{path} {holder.item.label()} still has that name at this point "
                        "(names are swapped or passed along)",
                    )
                    return False
        return True

    def _key_free(
        self, m: MenuMatch, state: _MenuState, live: _Live, props: dict[str, str], label: str
    ) -> bool:
        """A changed natural key must not be one another item still holds."""
        if live.item.builtin:
            return True
        new_key = natural_key(props, state.schema)
        if new_key is None or new_key == natural_key(live.props, state.schema):
            return True
        if state.holds(new_key):
            shown = " ".join(f"{k}={quote(v)}" for k, v in new_key)
            self.unsupported(
                m,
                label,
                f"change its key to {shown}",
                "another item still has that key at this point (keys are swapped or passed along)",
            )
            return False
        return True

    def _apply(self, state: _MenuState, live: _Live, props: dict[str, str]) -> None:
        """Record the new properties; a new name is propagated like RouterOS does."""
        old_name = live.props.get("name") or default_of(state.schema, live.item, "name")
        state.update(live, dict(props))
        new_name = props.get("name") or default_of(state.schema, live.item, "name")
        if old_name and new_name and old_name != new_name:
            for other in self.states.values():
                if depends(other.path, state.path):
                    for dependent in [*other.items, *other.builtins.values()]:
                        other.update(dependent, rewrite_refs(dependent.props, {old_name: new_name}))

    # -- phase 3: new items -------------------------------------------------------
    def _adds(self, m: MenuMatch) -> None:
        state = self.states[m.path]
        for j in m.added:
            item = m.new[j]
            args = self._add_args(m, item)
            if args is None:
                continue
            self.emit(m.path, _command("add", "", args))
            state.append(_Live(item, dict(item.props)))

    def _add_args(self, m: MenuMatch, item: Item) -> list[str] | None:
        """The item's properties as written, plus any whose add default differs.

        Where the device's version adds the item with another value than the target
        implies (a 7.x target's DHCP client pushed to 6.x, which adds it disabled; a
        6.x target's disabled one pushed to 7.x), that value is written out.
        """
        for key, value in item.shown.items():
            if self._internal(m, item.label(), key, value):
                return None
        args = [prop_text(k, v) for k, v in item.shown.items()]
        implied = [k for k in item.props if k not in item.shown]
        for key in dict.fromkeys([*m.add_fill, *implied]):
            if key in item.shown or key in item.unset:
                continue
            want = item.props.get(key)
            if want is None:
                want = default_of(m.schema, item, key)
            got = m.add_fill.get(key)
            if got is None:
                got = default_of(m.schema, item, key)
            if want is not None and want != got:
                args.append(prop_text(key, want))
        return args

    def _internal(self, m: MenuMatch, label: str, key: str, value: str) -> bool:
        ids = [w.lstrip("!") for w in value.split(",") if INTERNAL_ID.fullmatch(w.lstrip("!"))]
        if not ids:
            return False
        self.unsupported(
            m,
            label,
            f"set {key}={quote(shown_value(key, value, m.schema.redacted))}",
            f"it refers to internal id {ids[0]}, which names a different object (or none) "
            "once items are re-created",
        )
        return True

    def _order(self, m: MenuMatch) -> None:
        """New items and moves in an ordered menu: each placed before the next stayer."""
        state = self.states[m.path]
        placed: dict[int, _Live] = {}
        for i, j in m.pairs:
            if i >= 0 and j >= 0:
                placed[j] = state.old[i]
        stay_new = {j for _, j in m.stayers}
        added = set(m.added)
        next_stayer: list[int | None] = [None] * (len(m.new) + 1)
        for j in range(len(m.new) - 1, -1, -1):
            next_stayer[j] = j if j in stay_new else next_stayer[j + 1]
        for j, item in enumerate(m.new):
            if j in stay_new or item.builtin:
                continue
            anchor_j = next_stayer[j + 1]
            anchor = placed.get(anchor_j) if anchor_j is not None else None
            anchor_address = None
            if anchor is not None:
                anchor_address, why = state.address(anchor)
                if anchor_address is None:
                    self.unsupported(m, item.label(), "place it", f"the item after it: {why}")
                    continue
            if j in added:
                args = self._add_args(m, item)
                if args is None:
                    continue
                if anchor_address is not None:
                    args.append(f"place-before={anchor_address}")
                self.emit(m.path, _command("add", "", args))
                live = _Live(item, dict(item.props))
                placed[j] = live
            elif j in placed:
                live = placed[j]
                address, why = state.address(live)
                if address is None:
                    self.unsupported(m, item.label(), "move it", why)
                    continue
                extra = [f"destination={anchor_address}"] if anchor_address is not None else []
                self.emit(m.path, _command("move", address, extra))
                state.remove(live)
            else:
                continue
            if anchor is not None:
                state.insert(state.items.index(anchor), live)
            else:
                state.append(live)


def make_patch(running: Config, target: Config) -> Patch:
    """The script that turns ``running`` into ``target``, and what it cannot express."""
    return patch_matches(match(running, target))


def diff_and_patch(running: Config, target: Config) -> tuple[Diff, Patch]:
    """The diff and the patch from one matching (what a push plan shows and sends)."""
    matches = match(running, target)
    return diff_matches(matches), patch_matches(matches)


def patch_matches(matches: list[MenuMatch]) -> Patch:
    """The patch for an existing matching (shares the work with :func:`diff.diff_matches`)."""
    return _Writer(matches).run()
