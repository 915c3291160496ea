"""Rendering a :class:`~tikguard.routeros.diff.Diff` as text and as JSON.

The text reads like Junos ``show | compare``: one block per menu, one line per item
(``+`` added, ``-`` removed, ``~`` changed, ``>`` moved), property changes indented
under their item. Values are shown quoted the way a RouterOS console would take them;
secrets appear only as the redacted placeholders the input carries.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tikguard.routeros.items import FLAG, HIDDEN, prop_text
from tikguard.routeros.quoting import quote

if TYPE_CHECKING:
    from tikguard.routeros.diff import Diff, ItemDiff, PropChange

_MARK = {"added": "+", "removed": "-", "changed": "~", "moved": ">"}


def diff_json(diff: Diff) -> dict[str, object]:
    """The stable JSON document (schema ``tikguard.diff/1``, see docs/diff-and-patch.md)."""
    from tikguard.routeros.diff import JSON_SCHEMA

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
