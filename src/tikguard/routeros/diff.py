"""Semantic diff of two configurations, per menu and per item.

Built on the item matching of :mod:`tikguard.routeros.matching`: items added, removed,
changed (which properties, old -> new; a property not set shows its schema default
when known) and moved (ordered menus, minimal moves). Secret values never appear:
placeholders from :mod:`tikguard.routeros.secrets` are shown as they are, any other
sensitive value as ``(hidden)``.

The text form reads like Junos ``show | compare``; the JSON form (``Diff.to_json()``)
is stable, see ``docs/diff-and-patch.md``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Final, Literal

from tikguard.routeros.items import FLAG, HIDDEN, Item, prop_text, shown_value
from tikguard.routeros.matching import MenuMatch, PropChange, match, prop_changes
from tikguard.routeros.model import Command, Config
from tikguard.routeros.quoting import quote
from tikguard.routeros.secrets import hide_script_secrets

__all__ = [
    "JSON_SCHEMA",
    "Diff",
    "ItemDiff",
    "MenuDiff",
    "MenuMatch",
    "PropChange",
    "command_text",
    "diff",
    "diff_matches",
    "match",
    "prop_changes",
    "remaining_differences",
]

JSON_SCHEMA: Final = "tikguard.diff/1"
Op = Literal["added", "removed", "changed", "moved"]


@dataclass(frozen=True, slots=True)
class ItemDiff:
    op: Op
    item: str
    builtin: bool
    old_position: int | None = None
    new_position: int | None = None
    #: For added/removed: the item's properties; for changed/moved: the new ones.
    props: tuple[tuple[str, str], ...] = ()
    changes: tuple[PropChange, ...] = ()
    moved: bool = False
    #: The old label when the item's key changed (renamed or re-addressed).
    renamed_from: str | None = None
    #: Identified by its whole property set (no natural key), e.g. a firewall rule.
    keyless: bool = False


@dataclass(slots=True)
class MenuDiff:
    path: str
    ordered: bool
    items: list[ItemDiff] = field(default_factory=list)
    #: Commands that are not item configuration, present on one side only.
    commands_added: list[str] = field(default_factory=list)
    commands_removed: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.items or self.commands_added or self.commands_removed)


@dataclass(slots=True)
class Diff:
    menus: list[MenuDiff] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return all(m.empty for m in self.menus)

    def summary(self) -> dict[str, int]:
        counts = {"added": 0, "removed": 0, "changed": 0, "moved": 0}
        for menu in self.menus:
            for item in menu.items:
                counts[item.op] += 1
                if item.moved and item.op == "changed":
                    counts["moved"] += 1
        return counts

    def to_json(self) -> dict[str, object]:
        return diff_json(self)

    def to_text(self) -> str:
        return diff_text(self)


def diff(old: Config, new: Config) -> Diff:
    """The semantic difference from ``old`` to ``new``."""
    return diff_matches(match(old, new))


def _display(m: MenuMatch, key: str, value: str) -> str:
    """A value as a diff shows it: secrets hidden, also those written inside scripts."""
    if key in m.schema.scripts:
        return hide_script_secrets(value, HIDDEN)
    return shown_value(key, value, m.schema.redacted)


def _shown(m: MenuMatch, item: Item) -> tuple[tuple[str, str], ...]:
    return tuple((k, _display(m, k, v)) for k, v in item.shown.items())


def _shown_change(m: MenuMatch, change: PropChange) -> PropChange:
    return replace(
        change,
        old=None if change.old is None else _display(m, change.prop, change.old),
        new=None if change.new is None else _display(m, change.prop, change.new),
    )


def diff_matches(matches: list[MenuMatch]) -> Diff:
    """The diff of a matching; secret values are shown only as placeholders or hidden."""
    result = Diff()
    for m in matches:
        menu = MenuDiff(m.path, m.schema.ordered)
        for i in m.removed:
            item = m.old[i]
            menu.items.append(
                ItemDiff(
                    "removed",
                    item.label(),
                    item.builtin,
                    old_position=item.position if m.schema.ordered else None,
                    props=_shown(m, item),
                    keyless=item.key.kind == "content",
                )
            )
        for i, j in m.pairs:
            item = m.new[j] if j >= 0 else m.old[i]
            changes = prop_changes(m, i, j)
            moved = m.schema.ordered and i >= 0 and j >= 0 and (i, j) not in m.stayers
            if not changes and not moved:
                continue
            renamed_from = None
            if i >= 0 and j >= 0 and m.old[i].key.parts != m.new[j].key.parts:
                renamed_from = m.old[i].label()
            menu.items.append(
                ItemDiff(
                    "changed" if changes else "moved",
                    item.label(),
                    item.builtin,
                    old_position=m.old[i].position if m.schema.ordered and i >= 0 else None,
                    new_position=m.new[j].position if m.schema.ordered and j >= 0 else None,
                    props=_shown(m, item),
                    changes=tuple(_shown_change(m, c) for c in changes),
                    moved=moved,
                    renamed_from=renamed_from,
                    keyless=item.key.kind == "content",
                )
            )
        for j in m.added:
            item = m.new[j]
            menu.items.append(
                ItemDiff(
                    "added",
                    item.label(),
                    item.builtin,
                    new_position=item.position if m.schema.ordered else None,
                    props=_shown(m, item),
                    keyless=item.key.kind == "content",
                )
            )
        menu.items.sort(key=_display_order)
        menu.commands_added, menu.commands_removed = _opaque_delta(m)
        if not menu.empty:
            result.menus.append(menu)
    return result


def _display_order(item: ItemDiff) -> tuple[float, int]:
    """New-side order, removed items where they used to be."""
    if item.new_position is not None:
        return (item.new_position, 1)
    if item.old_position is not None:
        return (item.old_position - 0.5, 0)
    return (float("inf"), 0 if item.op == "removed" else 1)


def _opaque_delta(m: MenuMatch) -> tuple[list[str], list[str]]:
    old = [command_text(c) for c in m.opaque_old]
    new = [command_text(c) for c in m.opaque_new]
    remaining = list(old)
    added: list[str] = []
    for text in new:
        if text in remaining:
            remaining.remove(text)
        else:
            added.append(text)
    return added, remaining


def command_text(command: Command) -> str:
    """A command as one console line (for commands the diff does not model)."""
    parts = [command.verb]
    if command.selector is not None:
        if command.selector.find is not None:
            inner = " ".join(
                p.key if p.value is None else f"{p.key}={quote(p.value)}"
                for p in command.selector.find
            )
            parts.append(f"[ find {inner} ]" if inner else "[ find ]")
        elif command.selector.ref is not None:
            parts.append(quote(command.selector.ref))
    parts += [quote(a) for a in command.args]
    parts += [
        "!" + p.key if p.value is None else p.key if p.flag else f"{p.key}={quote(p.value)}"
        for p in command.props
    ]
    return " ".join(parts)


def remaining_differences(running: Config, target: Config) -> list[str]:
    """What still keeps ``running`` (read back from a device) from being ``target``.

    One line per item that differs, by the same identity the patch used; console
    commands that are not configuration (``:delay 5``, ``:put``) are ignored, since an
    export never shows them. An empty list means converged.
    """
    lines: list[str] = []
    for menu in diff(running, target).menus:
        for item in menu.items:
            what = ", ".join(c.prop for c in item.changes) if item.changes else ""
            lines.append(f"{menu.path} {item.op} {item.item}" + (f" ({what})" if what else ""))
        lines += [
            f"{menu.path} command {text}"
            for text in (*menu.commands_added, *menu.commands_removed)
            if not text.startswith(":")
        ]
    return lines


# --- rendering: text like Junos ``show | compare``, and JSON ----------------------
#
# Rendering a :class:`~tikguard.routeros.diff.Diff` as text and as JSON.
#
# The text reads like Junos ``show | compare``: one block per menu, one line per item
# (``+`` added, ``-`` removed, ``~`` changed, ``>`` moved), property changes indented
# under their item. Values are shown quoted the way a RouterOS console would take them;
# secrets appear only as the redacted placeholders the input carries.

_MARK = MappingProxyType({"added": "+", "removed": "-", "changed": "~", "moved": ">"})


def diff_json(diff: Diff) -> dict[str, object]:
    """The stable JSON document (schema ``tikguard.diff/1``, see docs/diff-and-patch.md)."""
    return {
        "schema": JSON_SCHEMA,
        "summary": diff.summary(),
        "menus": [
            {
                "path": menu.path,
                "ordered": menu.ordered,
                "items": [_item_json(item) for item in menu.items],
                "commands_added": list(menu.commands_added),
                "commands_removed": list(menu.commands_removed),
            }
            for menu in diff.menus
        ],
    }


def _item_json(item: ItemDiff) -> dict[str, object]:
    return {
        "op": item.op,
        "item": item.item,
        "builtin": item.builtin,
        "keyless": item.keyless,
        "old_position": item.old_position,
        "new_position": item.new_position,
        "moved": item.moved,
        "renamed_from": item.renamed_from,
        "props": dict(item.props),
        "changes": [
            {"prop": c.prop, "old": c.old, "new": c.new, "default": c.default} for c in item.changes
        ],
    }


def _json_value(value: str | None) -> str | bool | None:
    """A bare flag word (``passive``) is ``true`` in JSON; everything else a string."""
    return True if value == FLAG else value


def diff_text(diff: Diff) -> str:
    """The human-readable form; empty diff says so."""
    if diff.empty:
        return "no differences\n"
    lines: list[str] = []
    for menu in diff.menus:
        lines.append(menu.path)
        for item in menu.items:
            lines.append(f"  {_MARK[item.op]} {_where(item)}{_describe(item)}")
            if item.renamed_from is not None and not item.keyless:
                lines.append(f"        was: {item.renamed_from}")
            lines.extend(f"        {_change(c)}" for c in item.changes)
        lines.extend(f"  + {text}" for text in menu.commands_added)
        lines.extend(f"  - {text}" for text in menu.commands_removed)
    s = diff.summary()
    lines.append(
        f"{s['added']} added, {s['removed']} removed, {s['changed']} changed, {s['moved']} moved"
    )
    return "\n".join(lines) + "\n"


def _where(item: ItemDiff) -> str:
    old, new = item.old_position, item.new_position
    if item.moved and old is not None and new is not None:
        return f"[#{old} -> #{new}] "
    if new is not None:
        return f"[#{new}] "
    if old is not None:
        return f"[#{old}] "
    return ""


def _describe(item: ItemDiff) -> str:
    """Keyed items by their key; keyless ones (rules) by their properties in order."""
    if item.keyless:
        return " ".join(_prop(k, v) for k, v in item.props) or "(no properties)"
    return item.item


def _prop(key: str, value: str) -> str:
    return f"{key}={HIDDEN}" if value == HIDDEN else prop_text(key, value)


def _change(change: PropChange) -> str:
    old = _value(change.old, change.default)
    return f"{change.prop}: {old} -> {_value(change.new, change.default)}"


def _value(value: str | None, default: str | None) -> str:
    if value == FLAG:
        return "(set)"
    if value == HIDDEN:
        return HIDDEN
    if value is not None:
        return quote(value)
    if default is not None:
        return f"(default {quote(default)})" if default else "(unset)"
    return "(unset)"
