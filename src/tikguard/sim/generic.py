"""Generic verbs on any menu: the data side of add/set/.../print/get/find.

``print`` output follows RouterOS's shapes that tikguard reads: singletons as right
aligned ``name: value`` lines; item menus as ``print detail`` (``Flags:`` line, then
`` 0 X ;;; comment`` and ``key=value`` lines), ``print terse`` one item per line,
``count-only`` a number. Plain ``print`` on item menus uses the detail shape (RouterOS
prints per-menu tables there; nobody should parse those).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from tikguard.routeros.quoting import is_bare, quote
from tikguard.sim import engine
from tikguard.sim.configdb import ConfigDB, Item, MenuState
from tikguard.sim.context import Invocation, Session
from tikguard.sim.errors import NO_SUCH_ITEM, ConsoleError, syntax_error
from tikguard.sim.findexpr import compile_where


def items_for(inv: Invocation, state: MenuState | None, session: Session) -> list[Item]:
    return engine.select(state, inv.selection, session.numbering.get(inv.path))


def apply(
    db: ConfigDB, inv: Invocation, session: Session, *, ros_version: str | None = None
) -> bool:
    """Run a writing verb; returns True when the configuration changed.

    ``ros_version``: the router's RouterOS version (what ``add`` leaves unset differs).
    """
    path = inv.path
    state = db.read(path)
    verb = inv.verb
    if verb == "add":
        flags = tuple(w.value or "" for w in inv.words)
        engine.add(
            db, path, inv.values, flags, session.numbering.get(path), ros_version=ros_version
        )
        return True
    if verb in ("set", "enable", "disable", "comment"):
        values = dict(inv.values)
        if verb == "enable":
            values["disabled"] = "no"
        elif verb == "disable":
            values["disabled"] = "yes"
        elif verb == "comment" and inv.words:
            values["comment"] = inv.words[0].value or ""
        flags = tuple(w.value or "" for w in inv.words) if verb == "set" else ()
        if inv.selection.empty:
            if verb != "set" or (
                state is not None and state.items and not _is_singleton(path, state)
            ):
                raise ConsoleError(NO_SUCH_ITEM)
            engine.set_values(db, path, None, values)
            return True
        engine.set_values(db, path, items_for(inv, state, session), values, flags)
        return True
    if verb == "unset":
        keys = [w.value or "" for w in inv.words]
        value_name = inv.values.get("value-name")
        if value_name:
            keys.extend(k.strip() for k in value_name.split(","))
        if inv.selection.empty:
            engine.unset(db, path, None, keys)
        else:
            engine.unset(db, path, items_for(inv, state, session), keys)
        return True
    if verb == "remove":
        if inv.selection.empty:
            raise ConsoleError(NO_SUCH_ITEM)
        engine.remove(db, path, items_for(inv, state, session))
        return True
    if verb == "move":
        if state is None or inv.selection.empty:
            raise ConsoleError(NO_SUCH_ITEM)
        moving = items_for(inv, state, session)
        dest = inv.values.get("destination")
        if dest is None and inv.words:
            dest = inv.words[0].value
        before = engine.resolve_one(state, dest, session.numbering.get(path)) if dest else None
        engine.move(db, path, moving, before)
        return True
    raise syntax_error(f"bad command name {verb}", inv.verb_column)


def _is_singleton(path: str, state: MenuState) -> bool:
    return engine.is_singleton(path, state)


def find_ids(db: ConfigDB, inv: Invocation, session: Session) -> list[Item]:
    state = db.read(inv.path)
    if state is None:
        return []
    pred = compile_where([*inv.words, *inv.where] if inv.words or inv.where else [])
    if inv.values:
        wanted = dict(inv.values)
        return [
            i
            for i in state.items
            if pred(i)
            and all(i.get(k) == v or (v == "no" and i.get(k) is None) for k, v in wanted.items())
        ]
    return [i for i in state.items if pred(i)]


def get_value(db: ConfigDB, inv: Invocation, session: Session) -> str:
    state = db.read(inv.path)
    names = [w.value or "" for w in inv.words]
    if inv.selection.refs and (state is None or not state.items):
        names = inv.selection.refs + names  # ``/system identity get name``
        inv.selection.refs = []
    if inv.selection.empty:
        if state is None or state.items:
            raise ConsoleError(NO_SUCH_ITEM)
        if not names:
            return ";".join(f"{k}={v}" for k, v in state.singleton_effective().items())
        return state.singleton_get(names[0]) or ""
    items = items_for(inv, state, session)
    if not items:
        raise ConsoleError(NO_SUCH_ITEM)
    if not names:
        return ";".join(f"{k}={v}" for k, v in items[0].effective().items())
    if names[0] == ".id":
        return items[0].id_text()
    return items[0].get(names[0]) or ""


def print_menu(
    db: ConfigDB,
    inv: Invocation,
    session: Session,
    extra: dict[int, dict[str, str]] | None = None,
    *,
    columns: Sequence[str] = (),
    v6: bool = False,
) -> str:
    """``print`` output; ``extra`` adds read-only values per item id (run-count, ...).

    ``columns`` (RouterOS 7, menus with a column table): a plain ``print`` is a table
    under ``Flags:`` and ``Columns:`` lines; ``detail``, ``terse``, ``as-value``,
    ``count-only`` and ``proplist=`` keep their own forms. ``v6``: RouterOS 6's tables
    where the corpus transcripts show one (:data:`V6_TABLES`).
    """
    state = db.read(inv.path)
    options = {w.value for w in inv.words}
    if state is None or (not state.items and (engine.is_singleton(inv.path, state))):
        values = state.singleton_effective() if state is not None else {}
        if extra and 0 in extra:
            values = {**values, **extra[0]}
        return singleton_lines(values)
    pred = compile_where(inv.where)
    shown = [i for i in state.items if pred(i)]
    session.numbering[inv.path] = [i.id for i in state.items]
    numbers = {item.id: n for n, item in enumerate(state.items)}
    if "count-only" in options:
        return str(len(shown))
    proplist = inv.values.get("proplist")
    keys = [k.strip() for k in proplist.split(",")] if proplist else None
    if "as-value" in options:
        return as_value(shown, extra, keys)
    if columns and keys is None and not options & {"detail", "terse"}:
        return table(shown, numbers, columns, extra)
    legacy = V6_TABLES.get(inv.path) if v6 else None
    if legacy is not None and keys is None and not options & {"detail", "terse"}:
        return table_v6(shown, numbers, legacy, extra)
    terse = "terse" in options
    lines: list[str] = [] if terse else ["Flags: X - disabled"]
    for item in shown:
        values = item.effective()
        values.pop("password", None)  # print never shows user passwords
        if extra and item.id in extra:
            values.update(extra[item.id])
        lines.extend(_item_lines(numbers[item.id], item, values, keys, terse, session.width))
    return "\n".join(lines)


def _values(item: Item, extra: dict[int, dict[str, str]] | None) -> dict[str, str]:
    values = item.effective()
    values.pop("password", None)  # print never shows user passwords
    if extra and item.id in extra:
        values.update(extra[item.id])
    return values


def as_value(
    items: Sequence[Item], extra: dict[int, dict[str, str]] | None, keys: Sequence[str] | None
) -> str:
    """``print as-value``: the items as one RouterOS array (``.id=*1;address=...;...``)."""
    parts: list[str] = []
    for item in items:
        values = _values(item, extra)
        values["disabled"] = "true" if item.disabled else "false"
        if not values.get("comment"):
            values.pop("comment", None)
        chosen = sorted(values) if keys is None else [k for k in keys if k in values]
        parts.append(f".id={item.id_text()}")
        parts.extend(f"{k}={values[k]}" for k in chosen)
    return ";".join(parts)


def table(
    items: Sequence[Item],
    numbers: dict[int, int],
    columns: Sequence[str],
    extra: dict[int, dict[str, str]] | None,
) -> str:
    """RouterOS 7's table ``print`` (as the corpus transcripts show it)::

        Flags: X - DISABLED
        Columns: ADDRESS, NETWORK, INTERFACE
        #   ADDRESS        NETWORK    INTERFACE
        ;;; uplink
        0   10.0.2.100/24  10.0.2.0   ether1
        1 X 10.9.9.1/24    10.9.9.0   ether2

    The ``Flags:`` line names the flags some item shows (none: no line, no flag
    column); each column is as wide as its widest value or title, two spaces apart;
    a comment stands on its own line before its item.
    """
    rows: list[tuple[str, str, str | None, list[str]]] = []
    for item in items:
        values = _values(item, extra)
        flags = ("X" if item.disabled else "") + ("D" if item.dynamic else "")
        cells = [values.get(c, "") for c in columns]
        rows.append((str(numbers[item.id]), flags, values.get("comment") or None, cells))
    used = [f for f in ("X", "D") if any(f in r[1] for r in rows)]
    names = {"X": "DISABLED", "D": "DYNAMIC"}
    lines: list[str] = []
    if used:
        lines.append("Flags: " + ", ".join(f"{f} - {names[f]}" for f in used))
    lines.append("Columns: " + ", ".join(c.upper() for c in columns))
    num_w = max([1, *(len(r[0]) for r in rows)])
    flag_w = max([0, *(len(r[1]) for r in rows)])
    titles = [c.upper() for c in columns]
    widths = [max([len(t), *(len(r[3][i]) for r in rows)]) for i, t in enumerate(titles)]

    def line(num: str, flags: str, cells: Sequence[str]) -> str:
        head = f"{num:>{num_w}} " + (f"{flags:<{flag_w}} " if flag_w else "")
        return head + "  ".join(f"{c:<{w}}" for c, w in zip(cells, widths, strict=True))

    lines.append(line("#", "", titles))
    for num, flags, comment, cells in rows:
        if comment is not None:
            lines.append(f";;; {comment}")
        lines.append(line(num, flags, cells))
    return "\n".join(lines)


@dataclass(frozen=True)
class V6Table:
    """A RouterOS 6 ``print`` table: its ``Flags:`` line and (column, width) pairs."""

    flags: str
    columns: tuple[tuple[str, int], ...]


#: RouterOS 6 tables as the corpus transcripts show them (ntc-templates
#: ``ip_address_print``, ``user_print``, ``ip_dhcp-server_lease_print``); widths are
#: RouterOS's per type (an address/prefix 18, an address 15), wider when a value is.
V6_TABLES: Mapping[str, V6Table] = MappingProxyType(
    {
        "/ip address": V6Table(
            "X - disabled, I - invalid, D - dynamic",
            (("address", 18), ("network", 15), ("interface", 0)),
        ),
        "/user": V6Table(
            "X - disabled",
            (("name", 24), ("group", 6), ("address", 18), ("last-logged-in", 0)),
        ),
        "/ip dhcp-server lease": V6Table(
            "X - disabled, R - radius, D - dynamic, B - blocked",
            (
                ("address", 16),
                ("mac-address", 18),
                ("host-name", 10),
                ("server", 14),
                ("rate-limit", 11),
                ("status", 7),
                ("last-seen", 0),
            ),
        ),
    }
)


def table_v6(
    items: Sequence[Item],
    numbers: dict[int, int],
    spec: V6Table,
    extra: dict[int, dict[str, str]] | None,
) -> str:
    """RouterOS 6's table ``print`` (ntc-templates ``ip_address_print``)::

        Flags: X - disabled, I - invalid, D - dynamic
         #   ADDRESS            NETWORK         INTERFACE
         0   10.0.2.100/24      10.0.2.0        ether1
         1 X ;;; uplink
             10.9.9.1/24        10.9.9.0        ether2

    Numbers right-aligned in two places, a flag column as wide as the most flags an
    item shows (at least one), a comment after the flags with the values on the next
    line, no trailing spaces.
    """
    rows: list[tuple[str, str, str | None, list[str]]] = []
    for item in items:
        values = _values(item, extra)
        flags = ("X" if item.disabled else "") + ("D" if item.dynamic else "")
        cells = [values.get(c, "") for c, _ in spec.columns]
        rows.append((str(numbers[item.id]), flags, values.get("comment") or None, cells))
    flag_w = max([1, *(len(r[1]) for r in rows)])
    titles = [c.upper() for c, _ in spec.columns]
    widths = [max([w, *(len(r[3][i]) for r in rows)]) for i, (_, w) in enumerate(spec.columns)]

    def cells_text(cells: Sequence[str]) -> str:
        return " ".join(f"{c:<{w}}" for c, w in zip(cells, widths, strict=True)).rstrip()

    lines = [f"Flags: {spec.flags}", f"{'#':>2} {'':<{flag_w}} {cells_text(titles)}"]
    for num, flags, comment, cells in rows:
        head = f"{num:>2} {flags:<{flag_w}} "
        if comment is not None:
            lines.append(f"{head};;; {comment}")
            head = " " * len(head)
        lines.append(head + cells_text(cells))
    return "\n".join(lines)


def _fmt(value: str, terse: bool) -> str:
    return value if is_bare(value) else quote(value, always=not terse)


def _item_lines(
    number: int,
    item: Item,
    values: dict[str, str],
    keys: Sequence[str] | None,
    terse: bool,
    width: int,
) -> list[str]:
    flag = "X" if item.disabled else " "
    comment = values.pop("comment", None)
    values.pop("disabled", None)
    if keys is not None:
        values = {k: values[k] for k in keys if k in values}
    pairs = [f"{k}={_fmt(v, terse)}" for k, v in values.items()]
    pairs.extend(item.flags)
    head = f"{number:>2} {flag}"
    if terse:
        text = " ".join(pairs)
        if comment:
            text = f"comment={quote(comment)} " + text
        return [f"{head} {text}".rstrip()]
    lines: list[str] = []
    if comment:
        lines.append(f"{head} ;;; {comment}")
        current = "     "
    else:
        current = head + " "
    for pair in pairs:
        if len(current) + len(pair) + 1 > width and current.strip() and len(current) > 5:
            lines.append(current.rstrip())
            current = "     "
        current += pair + " "
    lines.append(current.rstrip())
    return lines


def singleton_lines(values: dict[str, str]) -> str:
    """``name: value`` lines, keys right-aligned as RouterOS prints them."""
    if not values:
        return ""
    width = max(len(k) for k in values) + 2
    return "\n".join(f"{k:>{width}}: {v}" for k, v in values.items())
