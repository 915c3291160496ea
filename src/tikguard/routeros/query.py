"""The fleet search language: a menu path with property conditions, or a regex.

``/ip service name=telnet disabled=no`` selects the items of ``/ip service`` whose
properties satisfy every condition; ``/ip dns servers~8.8.8.8`` tests a value against
a regular expression. Anything that does not start with ``/`` (or starts with ``re:``)
is a regular expression over the lines of each configuration. Conditions:

* ``key=value``: the item's value is exactly ``value`` (the factory value counts when
  the export leaves the property out); ``key=""`` matches an empty or absent value;
* ``key!=value``: anything else, absence included;
* ``key~regex`` / ``key!~regex``: the value (absent: empty) matches / does not match.

Menu words may be abbreviated as on the console (``/ip serv``). Values are written as
in an export (quotes and escapes decoded). Secret properties cannot be named: tikguard
never searches or shows a secret. Pure code: parsing and evaluation against a property
map; where the maps come from is :mod:`tikguard.routeros.searchable`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Literal

import regex

from tikguard.routeros import schema
from tikguard.routeros.commands import Ambiguous, Unknown, command_tree
from tikguard.routeros.lexer import decode_value
from tikguard.routeros.patterns import MAX_PATTERN, PatternError, compile_bounded, search_bounded

__all__ = ["Condition", "Query", "QueryError", "parse_query"]

Op = Literal["=", "!=", "~", "!~"]

#: Longest query accepted (a structured query; a regex is bounded by MAX_PATTERN).
MAX_QUERY: Final = 1000
_CONDITION: Final = re.compile(r"([A-Za-z0-9][A-Za-z0-9_.\-/]*)(!=|!~|=|~)(.*)\Z", re.DOTALL)
_WORDS: Final = re.compile(r'(?:[^\s"]+|"(?:[^"\\]|\\.)*")+', re.DOTALL)
REGEX_PREFIX: Final = "re:"


class QueryError(ValueError):
    """A query tikguard cannot run, with what is wrong in words an operator acts on."""


@dataclass(frozen=True)
class Condition:
    """One ``key op value`` test on an item's properties."""

    key: str
    op: Op
    value: str
    pattern: regex.Pattern[str] | None = None

    def holds(self, props: Mapping[str, str]) -> bool:
        """Whether ``props`` (an item's effective, secret-free values) satisfy it."""
        value = props.get(self.key)
        if self.op == "=":
            return (value or "") == self.value if self.value == "" else value == self.value
        if self.op == "!=":
            return not ((value or "") == "" if self.value == "" else value == self.value)
        assert self.pattern is not None
        found = search_bounded(self.pattern, value or "", self.key + self.op, "one value")
        found = found is not None
        return found if self.op == "~" else not found

    def text(self) -> str:
        value = self.value
        if self.op in ("=", "!=") and (value == "" or re.search(r'[\s"\\]', value)):
            value = '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
        return f"{self.key}{self.op}{value}"


@dataclass(frozen=True)
class Query:
    """A parsed query: structured (``menu`` and ``conditions``) or a regex (``pattern``)."""

    source: str
    menu: str | None = None
    conditions: tuple[Condition, ...] = ()
    pattern: regex.Pattern[str] | None = None

    @property
    def structured(self) -> bool:
        return self.menu is not None

    def matches(self, menu: str, props: Mapping[str, str]) -> bool:
        """Whether an item of ``menu`` with ``props`` is selected (structured only)."""
        return menu == self.menu and all(c.holds(props) for c in self.conditions)

    def canonical(self) -> str:
        """The query spelled out (full menu words), as results and reports show it."""
        if self.menu is None:
            assert self.pattern is not None
            return REGEX_PREFIX + str(self.pattern.pattern)
        return " ".join([self.menu, *(c.text() for c in self.conditions)])


def parse_query(text: str) -> Query:
    """Parse ``text``; raises :class:`QueryError` with the reason."""
    source = text.strip()
    if not source:
        raise QueryError("the query is empty")
    if len(source) > MAX_QUERY:
        raise QueryError(f"the query is longer than {MAX_QUERY} characters")
    if source.startswith(REGEX_PREFIX) or not source.startswith("/"):
        body = source[len(REGEX_PREFIX) :] if source.startswith(REGEX_PREFIX) else source
        return Query(source, pattern=_compile(body, "the query"))
    words = _WORDS.findall(source)
    menu_words: list[str] = []
    conditions: list[Condition] = []
    for index, word in enumerate(words):
        match = _CONDITION.match(word)
        if match is None:
            if conditions:
                raise QueryError(
                    f"{word!r} after a condition: write the menu first, then key=value,"
                    " key!=value, key~regex or key!~regex"
                )
            parts = word.split("/") if index == 0 else [word]
            menu_words.extend(p for p in parts if p)
            continue
        conditions.append(_condition(*match.groups()))
    menu = _menu(menu_words)
    redacted = schema.lookup(menu).redacted | schema.SENSITIVE_EVERYWHERE
    for condition in conditions:
        if condition.key in redacted:
            raise QueryError(
                f"{condition.key} is a secret property of {menu}: tikguard never searches"
                " or shows secret values"
            )
    return Query(source, menu=menu, conditions=tuple(conditions))


def _compile(pattern: str, what: str, empty: bool = False) -> regex.Pattern[str]:
    if not pattern and not empty:
        raise QueryError(f"{what} has an empty regular expression")
    try:
        return compile_bounded(pattern, what)
    except PatternError as exc:
        raise QueryError(str(exc)) from None


def _condition(key: str, op: str, raw: str) -> Condition:
    try:
        value = decode_value(raw) if raw.startswith('"') else raw
    except ValueError:
        raise QueryError(f"the value of {key} has an unterminated quote or a bad escape") from None
    if op in ("~", "!~"):
        if len(value) > MAX_PATTERN:
            raise QueryError(f"the pattern of {key} is longer than {MAX_PATTERN} characters")
        return Condition(key, "~" if op == "~" else "!~", value, _compile(value, key + op, True))
    return Condition(key, "=" if op == "=" else "!=", value)


def _menu(words: list[str]) -> str:
    """The full menu path the (possibly abbreviated) words name."""
    if not words:
        raise QueryError("name a menu after the '/': /ip service name=telnet")
    tree = command_tree()
    path = ""
    for word in words:
        node = tree.menu(path)
        if node is None:
            raise QueryError(f"{path} has no sub-menus")
        try:
            kind, name = node.resolve(word)
        except Unknown:
            raise QueryError(f"{path or '/'} has no menu {word!r}") from None
        except Ambiguous as exc:
            names = ", ".join(exc.candidates)
            raise QueryError(f"{word!r} is ambiguous in {path or '/'}: {names}") from None
        if kind != "menu":
            raise QueryError(
                f"{word!r} is a command of {path or '/'}, not a menu: conditions are"
                " key=value, key!=value, key~regex or key!~regex"
            )
        path = f"{path} {name}" if path else f"/{name}"
    return path
