"""RouterOS's console command tree, and name resolution the way the console does it.

RouterOS accepts any unambiguous prefix of a menu, command or argument name
(``/ip addr pr``, ``add addr=10.0.0.1/24 int=ether1``, ``/import file=x.rsc``); a
name that is exact wins over longer names it begins (``/ip route`` vs. nothing;
``for`` vs. ``foreach``). This module knows the names: RouterOS 7.19.4's own
``/console/inspect`` tree with every extra package, plus every menu, command and
argument name the corpus exports of RouterOS 5.7 to 7.21 use (``data/commands.json.gz``,
built by ``scripts/command_tree.py``).

Knowledge is *closed* where the inspect tree describes a menu: a command or argument it
does not list (nor any export) is unknown. A menu only the exports show (6.x-only
menus, hardware menus a CHR lacks) knows its menus and commands but not its full list
of arguments, so any argument name is taken there as written.
"""

from __future__ import annotations

import bisect
import gzip
import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any, Final, Literal

from tikguard.routeros import schema

__all__ = [
    "GENERIC_COMMANDS",
    "Ambiguous",
    "CommandTree",
    "MenuNode",
    "Unknown",
    "command_tree",
]

#: Commands every menu with items has (what a menu only the exports show gets).
GENERIC_COMMANDS: Final = frozenset(
    {
        "add",
        "set",
        "remove",
        "move",
        "unset",
        "enable",
        "disable",
        "print",
        "find",
        "export",
        "get",
        "comment",
        "edit",
    }
)


class Unknown(LookupError):
    """No name of the level begins with the word."""


class Ambiguous(LookupError):
    """Several names begin with the word and none is exactly it."""

    def __init__(self, word: str, candidates: tuple[str, ...]) -> None:
        super().__init__(word)
        self.word = word
        self.candidates = candidates


def _resolve(word: str, names: tuple[str, ...]) -> str:
    """``word`` itself, or the one name it begins (``names`` sorted)."""
    at = bisect.bisect_left(names, word)
    if at < len(names) and names[at] == word:
        return word
    end = at
    while end < len(names) and names[end].startswith(word):
        end += 1
    if end == at:
        raise Unknown(word)
    if end - at > 1:
        raise Ambiguous(word, names[at:end])
    return names[at]


@dataclass(frozen=True, slots=True)
class MenuNode:
    """One menu level: its sub-menus, its commands and their arguments."""

    path: str
    menus: tuple[str, ...]
    commands: dict[str, tuple[str, ...] | None]  # None: arguments not known
    #: Sub-menus and commands in one sorted namespace (a prefix must be unique in it).
    names: tuple[str, ...]

    def resolve(self, word: str) -> tuple[Literal["menu", "command"], str]:
        """The menu or command ``word`` names here (raises Unknown, Ambiguous)."""
        name = _resolve(word, self.names)
        return ("command" if name in self.commands else "menu"), name

    def arguments(self, command: str) -> tuple[str, ...] | None:
        return self.commands.get(command)

    def resolve_argument(self, command: str, word: str) -> str | None:
        """The argument ``word`` names, or None where the arguments are not known."""
        args = self.commands.get(command)
        if args is None:
            return None
        return _resolve(word, args)


class CommandTree:
    """Every menu RouterOS has, by path (``""`` is the root, ``/ip address``)."""

    def __init__(self, menus: dict[str, MenuNode]) -> None:
        self._menus = menus

    def menu(self, path: str) -> MenuNode | None:
        return self._menus.get(path)

    def paths(self) -> list[str]:
        return sorted(self._menus)

    def resolve_line(self, line: str, start: str = "") -> tuple[str, str | None, tuple[str, ...]]:
        """``(menu path, command, argument names)`` a simple command line names.

        For lines of plain words (``/ip addr pr det``, ``add addr=1.2.3.4/24``): menus
        and the command resolve in turn, then each ``name=value`` or bare word after the
        command resolves as an argument, where it names one (bare words that name none
        are values: ``set ether1``). Raises :class:`Unknown` / :class:`Ambiguous`.
        """
        segments = [] if line.startswith("/") or not start else start[1:].split(" ")
        words = line.lstrip("/").split()
        command: str | None = None
        args: list[str] = []
        for word in words:
            path = "/" + " ".join(segments) if segments else ""
            node = self._menus.get(path)
            if node is None:
                raise Unknown(word)
            if command is None:
                kind, name = node.resolve(word)
                if kind == "command":
                    command = name
                else:
                    segments.append(name)
                continue
            key = word.split("=", 1)[0]
            try:
                argument = node.resolve_argument(command, key)
            except Unknown:
                if "=" in word:
                    raise
                continue  # a value (an item's name or number)
            args.append(argument or key)
        return ("/" + " ".join(segments) if segments else ""), command, tuple(args)

    def with_commands(self, extra: dict[str, set[str]]) -> CommandTree:
        """A tree that also knows ``extra`` commands by menu path (arguments open)."""
        menus = dict(self._menus)
        for path, commands in extra.items():
            _ensure_menu(menus, path)
            node = menus[path]
            merged = dict(node.commands)
            for command in commands:
                merged.setdefault(command, None)
            menus[path] = _node(path, node.menus, merged)
        return CommandTree(menus)


def _node(
    path: str, menus: tuple[str, ...], commands: dict[str, tuple[str, ...] | None]
) -> MenuNode:
    names = tuple(sorted(set(menus) | set(commands)))
    return MenuNode(path, tuple(sorted(menus)), commands, names)


def _ensure_menu(menus: dict[str, MenuNode], path: str) -> None:
    """Add ``path`` (and the menus above it) where missing, linked to its parent."""
    if path in menus:
        return
    segments = path[1:].split(" ")
    parent = "/" + " ".join(segments[:-1]) if len(segments) > 1 else ""
    _ensure_menu(menus, parent)
    up = menus[parent]
    if segments[-1] not in up.menus:
        menus[parent] = _node(parent, (*up.menus, segments[-1]), up.commands)
    menus[path] = _node(path, (), dict.fromkeys(GENERIC_COMMANDS))


def _load() -> dict[str, Any]:
    raw = resources.files("tikguard.routeros").joinpath("data/commands.json.gz").read_bytes()
    data: dict[str, Any] = json.loads(gzip.decompress(raw))
    return data


@lru_cache(maxsize=1)
def command_tree() -> CommandTree:
    """The tree (loaded once per process)."""
    data = _load()
    menus: dict[str, MenuNode] = {}
    for path, entry in data["menus"].items():
        commands: dict[str, tuple[str, ...] | None] = {
            name: tuple(args) for name, args in entry["commands"].items()
        }
        menus[path] = _node(path, tuple(entry["menus"]), commands)
    for path, used in data["seen"].items():
        _ensure_menu(menus, path)
        node = menus[path]
        merged = dict(node.commands)
        for command, args in used.items():
            current = merged.get(command)
            if current is not None:  # a known argument list: the exports' names join it
                merged[command] = tuple(sorted({*current, *args}))
            else:  # a command the inspect tree lacks here: arguments not known
                merged[command] = None
        menus[path] = _node(path, node.menus, merged)
    for path in schema.known_paths():  # menus tikguard models that neither source shows
        _ensure_menu(menus, path)
    return CommandTree(menus)
