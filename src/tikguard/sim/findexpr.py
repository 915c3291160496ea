"""``[ find where ... ]`` and ``print where ...`` expressions over a menu's items.

Supports what scripts and exports use: ``key=value``, ``key!=value``, ``key~regex``,
a bare ``key`` (true when ``yes``), ``!key`` / ``!expr``, ``and`` (also implied by
juxtaposition), ``or``, and parentheses written as separate words.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from types import MappingProxyType

from tikguard.routeros.lexer import Word
from tikguard.sim.configdb import Item
from tikguard.sim.errors import syntax_error

Predicate = Callable[[Item], bool]

#: Values an unset property compares as (RouterOS shows these for absent flags).
_IMPLICIT = MappingProxyType({"disabled": "no", "dynamic": "no", "invalid": "no", "comment": ""})


def value_of(item: Item, key: str) -> str:
    value = item.get(key)
    if key == ".id":
        return item.id_text()
    if value is None:
        return _IMPLICIT.get(key, "")
    return value


class _Parser:
    def __init__(self, words: Sequence[Word], column_base: int) -> None:
        self.words = list(words)
        self.pos = 0
        self.base = column_base

    def _peek(self) -> Word | None:
        return self.words[self.pos] if self.pos < len(self.words) else None

    def _is(self, text: str) -> bool:
        w = self._peek()
        return w is not None and w.kind == "word" and w.raw == text

    def parse(self) -> Predicate:
        if self._is("where"):
            self.pos += 1
        if self._peek() is None:
            return lambda item: True
        pred = self._or()
        extra = self._peek()
        if extra is not None:
            raise syntax_error("expected end of command", self.base + extra.offset + 1)
        return pred

    def _or(self) -> Predicate:
        left = self._and()
        while self._is("or"):
            self.pos += 1
            right = self._and()
            left = _either(left, right)
        return left

    def _and(self) -> Predicate:
        left = self._unary()
        while True:
            if self._is("and"):
                self.pos += 1
            elif self._peek() is None or self._is("or") or self._is(")"):
                return left
            right = self._unary()
            left = _both(left, right)

    def _unary(self) -> Predicate:
        word = self._peek()
        if word is None:
            raise syntax_error("syntax error", self.base + 1)
        if word.kind == "word" and word.raw == "!":
            self.pos += 1
            inner = self._unary()
            return lambda item: not inner(item)
        if word.kind == "word" and word.raw == "(":
            self.pos += 1
            inner = self._or()
            if not self._is(")"):
                raise syntax_error("expected closing parenthesis", self.base + word.offset + 1)
            self.pos += 1
            return inner
        self.pos += 1
        return _atom(word, self.base)


def _either(a: Predicate, b: Predicate) -> Predicate:
    return lambda item: a(item) or b(item)


def _both(a: Predicate, b: Predicate) -> Predicate:
    return lambda item: a(item) and b(item)


def _atom(word: Word, base: int) -> Predicate:
    if word.kind == "unset" and word.key:
        key = word.key
        return lambda item: value_of(item, key) != "yes"
    if word.kind == "prop" and word.key is not None:
        key = word.key
        want = word.value or ""
        if key.endswith("!"):
            key = key[:-1]
            return lambda item: value_of(item, key) != want
        return lambda item: value_of(item, key) == want
    if word.kind == "word" and word.value:
        text = word.value
        if "~" in text:
            key, _, pattern = text.partition("~")
            try:
                regex = re.compile(pattern)
            except re.error:
                raise syntax_error("invalid regular expression", base + word.offset + 1) from None
            return lambda item: regex.search(value_of(item, key)) is not None
        if text.startswith("!") and len(text) > 1:
            key = text[1:]
            return lambda item: value_of(item, key) != "yes"
        key = text
        return lambda item: value_of(item, key) == "yes"
    raise syntax_error("syntax error", base + word.offset + 1)


def compile_where(words: Sequence[Word], column_base: int = 0) -> Predicate:
    """A predicate for the words of a find/where expression (``where`` optional)."""
    return _Parser(words, column_base).parse()
