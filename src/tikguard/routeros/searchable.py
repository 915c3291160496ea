"""What of a stored configuration the fleet search sees: sections, items and lines.

A configuration is split into **sections**, one per menu path (``/ip service``; the
header comments are the section ``""``), by text alone, so an index can key each
section by its content and parse it once however many routers share it: a fleet built
from templates repeats most of its sections word for word.

Each section gives:

* **lines**: every command as one line in terse form (``/ip dns set servers=9.9.9.9``:
  continuations joined, the menu in front), secret placeholders shown as ``(hidden)``;
  regular expressions run over these;
* **items** (:class:`SearchItem`): each configured item with its *effective* properties:
  what the export wrote over the factory values tikguard knows (schema defaults, the
  version's factory table, a built-in item's own name), so ``disabled=no`` matches a
  service the export never mentions. Built-in items of the version's factory table that
  the export leaves out are there too, and :data:`ALWAYS_PRESENT` menus are there even
  when the export has no such section (every router has ``/ip service``). Secret
  properties are left out of the properties and hidden in the lines.

Pure code: the index (:mod:`tikguard.store.search_index`) stores what this computes, and
a brute-force search computes the same from the text.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, replace
from typing import Final

from tikguard.routeros import defaults as defaults_mod
from tikguard.routeros.errors import ParseError
from tikguard.routeros.items import FLAG, Item, MenuItems, collect, default_of, shown_prop
from tikguard.routeros.lexer import clean_lines, logical_lines
from tikguard.routeros.model import ExportMeta
from tikguard.routeros.parse import VERBS, parse
from tikguard.routeros.secrets import HIDDEN

#: Menus every router has, whose built-in items exist even when an export shows none.
ALWAYS_PRESENT: Final = ("/ip service",)
#: Longest line kept for display (a script's source can run to kilobytes).
MAX_LINE: Final = 400

_MENU_WORD: Final = re.compile(r"[a-z0-9][a-z0-9-]*(?:\.[a-z0-9-]+)*")
_PLACEHOLDER: Final = re.compile(r'"tikguard-secret:[^"]*"|tikguard-secret:[^\s"\\]+')
#: A byte the router sent that is not UTF-8, as the lexer keeps it (``surrogateescape``).
_RAW_BYTE: Final = re.compile("[\udc80-\udcff]")


@dataclass(frozen=True)
class Section:
    """One menu's commands in a configuration (logical lines as stored)."""

    menu: str
    lines: tuple[str, ...]

    def digest(self, ros_version: str | None) -> str:
        """The content address of this section as the index keys it: its items depend on
        the RouterOS major version (factory values), so that is part of it."""
        major = defaults_mod.major(ros_version)
        body = "\n".join((str(major), self.menu, *self.lines))
        return hashlib.sha256(body.encode("utf-8", "surrogateescape")).hexdigest()


@dataclass(frozen=True)
class SearchItem:
    """One item as the search sees it: where, how it reads, and its effective values."""

    menu: str
    line: str
    props: dict[str, str]


def hide_placeholders(text: str) -> str:
    """``text`` as the search shows it: every secret placeholder as ``(hidden)``, and a
    byte that is not UTF-8 (a CP1251 comment on 6.x) as RouterOS writes it, ``\\XX``."""
    if "tikguard-secret:" in text:
        text = _PLACEHOLDER.sub(HIDDEN, text)
    return _RAW_BYTE.sub(lambda m: f"\\{ord(m.group()) - 0xDC00:02X}", text)


def _clip(text: str) -> str:
    return text if len(text) <= MAX_LINE else text[: MAX_LINE - 1] + "…"


def excerpt(line: str, start: int, end: int) -> str:
    """How a matching line is shown: whole, or (a script's source) its start and the
    match with some context, so a result never floods the screen."""
    if len(line) <= MAX_LINE:
        return line
    head = line[: MAX_LINE // 2]
    if end <= len(head):
        return head + " …"
    begin = max(len(head), start - MAX_LINE // 4)
    tail = line[begin : min(len(line), max(end, begin) + MAX_LINE // 4)]
    return head + " … " + tail + (" …" if begin + len(tail) < len(line) else "")


def menu_of(line: str) -> tuple[str, str]:
    """``(menu path, rest)`` of a line that starts with ``/`` (``/ip dns set x`` ->
    ``("/ip dns", "set x")``), splitting as the parser does: menu words up to a verb."""
    words = line.split(" ")
    parts = [p for p in words[0][1:].split("/") if p]
    index = 1
    while index < len(words):
        word = words[index]
        if word in VERBS or not _MENU_WORD.fullmatch(word):
            break
        parts.append(word)
        index += 1
    return "/" + " ".join(parts), " ".join(words[index:]).strip()


def sections(text: str) -> list[Section]:
    """The sections of a normalised export, in order of first appearance; a menu that
    appears in several blocks is one section (its lines in order). Every
    :data:`ALWAYS_PRESENT` menu has one (empty where the export shows none)."""
    found: dict[str, list[str]] = {}
    current = ""
    found[current] = []
    for logical in logical_lines(clean_lines(text)):
        line = logical.text
        if not line.strip():
            continue
        if line.startswith("/"):
            menu, rest = menu_of(line)
            current = menu
            found.setdefault(menu, [])
            if not rest:
                continue
        found.setdefault(current, []).append(line)
    for menu in ALWAYS_PRESENT:
        found.setdefault(menu, [])
    return [Section(menu, tuple(lines)) for menu, lines in found.items() if menu or lines]


def section_lines(section: Section) -> list[str]:
    """The section's commands in terse form, secrets hidden (what a regex runs over)."""
    out: list[str] = []
    for line in section.lines:
        if section.menu and not line.startswith("/") and not line.startswith("#"):
            line = f"{section.menu} {line}"
        out.append(hide_placeholders(line))
    return out


def section_items(section: Section, ros_version: str | None) -> list[SearchItem]:
    """The section's items with their effective values (see the module notes)."""
    if not section.menu:
        return []
    text = "\n".join((section.menu, *section.lines))
    try:
        config = parse(text)
    except ParseError:
        return []  # the text was stored, so it parsed whole; a fragment that does not
        # (a block that only makes sense after another) still has its lines searched
    config.meta = replace(ExportMeta(), ros_version=ros_version)
    out: list[SearchItem] = []
    present: set[tuple[tuple[str, str], ...]] = set()
    for menu in collect(config).values():
        present.update(item.key.parts for item in menu.items if item.builtin)
        out.extend(_search_item(menu, item) for item in menu.items)
    out.extend(_factory_items(section.menu, ros_version, present))
    return out


def _factory_items(
    path: str, ros_version: str | None, present: set[tuple[tuple[str, str], ...]]
) -> list[SearchItem]:
    """The built-in items of ``path``'s factory table that are not in ``present``."""
    factory = defaults_mod.menu_factory(path, ros_version)
    out: list[SearchItem] = []
    for parts, values in factory.items.items():
        if parts in present or not parts:
            continue
        props = dict(_schema_defaults(path))
        props.update(factory.every)
        props.update(values)
        props.update((k, v) for k, v in parts if k != "ref")
        props.setdefault("disabled", "no")
        ref = factory.refs.get(parts, "")
        shown = " ".join(f"{k}={v}" for k, v in values.items())
        line = f"{path} set {ref} {shown}".rstrip() + "  # factory values"
        out.append(SearchItem(path, _clip(line), _secret_free(path, props)))
    return out


def _schema_defaults(path: str) -> dict[str, str]:
    from tikguard.routeros.schema import lookup

    return lookup(path).defaults


def _search_item(menu: MenuItems, item: Item) -> SearchItem:
    schema = menu.schema
    props: dict[str, str] = dict(schema.defaults)
    props.update(menu.factory(item))
    if item.builtin or "disabled" not in props:
        props.setdefault("disabled", "no")
    for sel in item.selector:
        if sel.value is not None:
            props[sel.key] = sel.value
    if "name" not in item.shown:
        name = default_of(schema, item, "name")
        if name is not None and item.key.kind != "singleton":
            props["name"] = name
    for key, value in item.shown.items():
        props[key] = "yes" if value == FLAG else value
    for key in item.unset:
        props.pop(key, None)
    return SearchItem(menu.path, _clip(_item_line(menu, item)), _secret_free(menu.path, props))


def _secret_free(path: str, props: dict[str, str]) -> dict[str, str]:
    from tikguard.routeros.schema import lookup

    redacted = lookup(path).redacted
    return {
        hide_placeholders(k): hide_placeholders(v) for k, v in props.items() if k not in redacted
    }


def _item_line(menu: MenuItems, item: Item) -> str:
    """The item as one terse command: ``/ip service set telnet disabled=yes``."""
    redacted = menu.schema.redacted
    shown = " ".join(shown_prop(k, v, redacted) for k, v in item.shown.items())
    if not item.builtin:
        verb = "add"
    elif item.key.kind == "singleton":
        verb = "set"
    elif item.selector:
        inner = " ".join(shown_prop(p.key, p.value or "", redacted) for p in item.selector)
        verb = f"set [ find {inner} ]"
    else:
        verb = f"set {item.ref or item.key.label()}"
    return hide_placeholders(f"{menu.path} {verb} {shown}".rstrip())


def config_items(text: str, ros_version: str | None) -> list[SearchItem]:
    """Every item of a whole configuration, as the index holds them (by section)."""
    return [item for section in sections(text) for item in section_items(section, ros_version)]
