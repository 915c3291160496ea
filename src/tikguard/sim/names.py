"""Name resolution for the simulated console: RouterOS's tree plus the simulator's commands.

Menus, commands and argument names resolve by unambiguous prefix
(:mod:`tikguard.routeros.commands`); what cannot be resolved becomes the error
RouterOS prints, located at the word: ``bad command name X`` for a menu or command,
``expected end of command`` for an argument. Ambiguous names get ``ambiguous command
name X`` / ``ambiguous argument name X``: the corpus shows no RouterOS transcript of
either, so that wording is assumed (docs/simulator.md says so); tikguard's output
reader counts both as errors.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from tikguard.routeros.commands import Ambiguous, CommandTree, Unknown, command_tree
from tikguard.sim.errors import syntax_error

#: Words ``print`` takes on 6.x that 7.x's tree no longer lists.
LEGACY_PRINT_WORDS = frozenset({"all", "stats", "status", "oid", "value-list", "detail"})


#: Read-only properties queries use (``find default=yes``): never a prefix of an argument
#: (``default`` is not ``default-route-distance``). The tree lists arguments only.
READ_ONLY = frozenset(
    {"default", "dynamic", "invalid", "running", "active", "inactive", "builtin", "static"}
)


@lru_cache(maxsize=8)
def tree_with(handlers: frozenset[tuple[str, str]]) -> CommandTree:
    """RouterOS's tree, knowing the simulator's special commands too (by menu, verb)."""
    extra: dict[str, set[str]] = {}
    for path, verb in handlers:
        extra.setdefault(path, set()).add(verb)
    return command_tree().with_commands(extra)


def resolve_name(
    tree: CommandTree, path: str, word: str, column: int
) -> tuple[Literal["menu", "command"], str]:
    """The sub-menu or command ``word`` names in menu ``path``."""
    node = tree.menu(path)
    if node is None:
        raise syntax_error(f"bad command name {word}", column)
    try:
        return node.resolve(word)
    except Unknown:
        raise syntax_error(f"bad command name {word}", column) from None
    except Ambiguous:
        raise syntax_error(f"ambiguous command name {word}", column) from None


def resolve_argument(tree: CommandTree, path: str, verb: str, key: str, column: int) -> str:
    """The full name of argument ``key`` of ``verb`` in ``path`` (as written where unknown)."""
    node = tree.menu(path)
    if node is None:
        return key
    try:
        return node.resolve_argument(verb, key) or key
    except Unknown:
        raise syntax_error("expected end of command", column) from None
    except Ambiguous:
        raise syntax_error(f"ambiguous argument name {key}", column) from None


def resolve_property(tree: CommandTree, path: str, key: str) -> str:
    """A property name in a query (``find comment=a``): spelled out where one
    ``add``/``set`` argument begins with it, else as written (read-only properties such
    as ``dynamic`` or ``default-name`` are not arguments)."""
    node = tree.menu(path)
    if node is None or key in READ_ONLY:
        return key
    found = set()
    for verb in ("add", "set"):
        try:
            name = node.resolve_argument(verb, key)
        except (Unknown, Ambiguous):
            continue
        if name is not None:
            found.add(name)
    return found.pop() if len(found) == 1 else key


def resolve_flag(tree: CommandTree, path: str, verb: str, word: str) -> str | None:
    """The argument a bare word names (``print det`` -> ``detail``), None if it names none."""
    node = tree.menu(path)
    if node is None:
        return None
    try:
        return node.resolve_argument(verb, word)
    except (Unknown, Ambiguous):
        return None
