"""RouterOS script expressions: ``($a + 1)``, ``("x" . $b)``, ``($n > 2 && !$done)``.

Parsed once into a small tree, then evaluated against the session's variables with
``[ command ]`` substitutions run through the console. Values are strings, as the
simulator keeps them: numbers compute as integers (RouterOS's ``num`` is 64-bit),
durations (``1m30s``, ``00:01:30``) as times, ``true``/``false`` as booleans.

Precedence, loosest first: ``||``/``or``, ``&&``/``and``, comparisons (``=``, ``!=``,
``<``, ``>``, ``<=``, ``>=``), ``.`` (concatenation), ``+``/``-``, ``*``/``/``/``%``,
unary ``!``/``-``.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from types import MappingProxyType

from tikguard.routeros.lexer import decode_value
from tikguard.routeros.values import parse_duration
from tikguard.sim.control import closing
from tikguard.sim.errors import ConsoleError, syntax_error

__all__ = ["Expression", "evaluate", "is_true", "parse_expression"]

#: One token: a quoted string, a ``[ ... ]`` substitution (balanced by the parser),
#: a variable, an operator, a parenthesis, or a bare word (number, address, time).
_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>"(?:[^"\\]|\\.)*")
      | (?P<var>\$(?:"[^"]*"|[A-Za-z_][A-Za-z0-9_\-]*))
      | (?P<op>\|\||&&|!=|<=|>=|[=<>+*/%!.()\[\]-])
      | (?P<word>[^\s()\[\]"$=<>!+*/%]+)
    )""",
    re.VERBOSE | re.DOTALL,
)
_WORD_OPS = MappingProxyType({"and": "&&", "or": "||", "not": "!"})
_BINARY = MappingProxyType(
    {
        "||": 1,
        "&&": 2,
        "=": 3,
        "!=": 3,
        "<": 3,
        ">": 3,
        "<=": 3,
        ">=": 3,
        ".": 4,
        "+": 5,
        "-": 5,
        "*": 6,
        "/": 6,
        "%": 6,
    }
)
_NUMBER = re.compile(r"-?[0-9]+")
_CLOCK = re.compile(r"([0-9]+):([0-9]{2}):([0-9]{2})")


@dataclass(frozen=True, slots=True)
class Expression:
    """A node: ``kind`` is ``lit``, ``var``, ``cmd``, ``unary`` or ``binary``."""

    kind: str
    value: str = ""
    left: Expression | None = None
    right: Expression | None = None


class _Parser:
    def __init__(self, text: str, column: int) -> None:
        self.text = text
        self.column = column  # 1-based column of text[0] in the statement
        self.tokens = self._tokens()
        self.at = 0

    def _tokens(self) -> list[tuple[str, str, int]]:
        out: list[tuple[str, str, int]] = []
        pos = 0
        text = self.text
        while pos < len(text):
            if text[pos:].strip() == "":
                break
            m = _TOKEN.match(text, pos)
            if m is None or m.end() == pos:
                raise syntax_error("syntax error", self.column + pos)
            kind = m.lastgroup or "word"
            value = m.group(kind)
            start = m.start(kind)
            if kind == "op" and value == "[":
                end = closing(text, start, "[", "]")
                out.append(("cmd", text[start + 1 : end], start))
                pos = end + 1
                continue
            if kind == "word" and value in _WORD_OPS:
                kind, value = "op", _WORD_OPS[value]
            out.append((kind, value, start))
            pos = m.end()
        return out

    def _peek(self) -> tuple[str, str, int] | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def parse(self) -> Expression:
        node = self._binary(1)
        extra = self._peek()
        if extra is not None:
            raise syntax_error("syntax error", self.column + extra[2])
        return node

    def _binary(self, level: int) -> Expression:
        left = self._unary()
        while True:
            token = self._peek()
            if token is None or token[0] != "op" or _BINARY.get(token[1], 0) < level:
                return left
            op = token[1]
            self.at += 1
            right = self._binary(_BINARY[op] + 1)
            left = Expression("binary", op, left, right)

    def _unary(self) -> Expression:
        token = self._peek()
        if token is None:
            raise syntax_error("syntax error", self.column + len(self.text))
        kind, value, start = token
        self.at += 1
        if kind == "op" and value in ("!", "-"):
            return Expression("unary", value, self._unary())
        if kind == "op" and value == "(":
            node = self._binary(1)
            close = self._peek()
            if close is None or close[1] != ")":
                raise syntax_error("syntax error", self.column + len(self.text))
            self.at += 1
            return node
        if kind == "string":
            return Expression("lit", decode_value(value))
        if kind == "var":
            return Expression("var", value[1:].strip('"'))
        if kind == "cmd":
            return Expression("cmd", value)
        if kind == "word":
            return Expression("lit", value)
        raise syntax_error("syntax error", self.column + start)


def parse_expression(text: str, column: int = 1) -> Expression:
    """The expression ``text`` (raises a syntax :class:`ConsoleError` at its column)."""
    return _Parser(text, column).parse()


Lookup = Callable[[str], str]
Substitute = Callable[[str], Awaitable[str]]


async def evaluate(node: Expression, lookup: Lookup, command: Substitute) -> str:
    """The expression's value; ``lookup`` reads a variable, ``command`` runs ``[ ... ]``."""
    if node.kind == "lit":
        return node.value
    if node.kind == "var":
        return lookup(node.value)
    if node.kind == "cmd":
        return await command(node.value)
    assert node.left is not None
    left = await evaluate(node.left, lookup, command)
    if node.kind == "unary":
        if node.value == "!":
            return _bool(not is_true(left))
        return _arith("-", "0", left)
    op = node.value
    if op in ("&&", "||"):  # short-circuit, as scripts rely on it
        if (op == "&&") != is_true(left):
            return _bool(op == "||")
        assert node.right is not None
        return _bool(is_true(await evaluate(node.right, lookup, command)))
    assert node.right is not None
    right = await evaluate(node.right, lookup, command)
    if op == ".":
        return left + right
    if op in ("=", "!=", "<", ">", "<=", ">="):
        return _bool(_compare(op, left, right))
    return _arith(op, left, right)


def is_true(value: str) -> bool:
    return value in ("true", "yes")


def _bool(value: bool) -> str:
    return "true" if value else "false"


def _seconds(value: str) -> int | None:
    m = _CLOCK.fullmatch(value)
    if m is not None:
        return int(m.group(1)) * 3600 + int(m.group(2)) * 60 + int(m.group(3))
    try:
        return int(parse_duration(value))
    except ValueError:
        return None


def _clock(seconds: int) -> str:
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    days, rest = divmod(seconds, 86400)
    h, rest = divmod(rest, 3600)
    m, s = divmod(rest, 60)
    text = f"{h:02d}:{m:02d}:{s:02d}"
    return f"{sign}{days}d{text}" if days else sign + text


def _arith(op: str, left: str, right: str) -> str:
    if _NUMBER.fullmatch(left) and _NUMBER.fullmatch(right):
        a, b = int(left), int(right)
        if op in ("/", "%") and b == 0:
            raise ConsoleError("division by zero")
        if op == "/":
            return str(_div(a, b))  # integers, rounded toward zero
        if op == "%":
            return str(a - b * _div(a, b))
        return str({"+": a + b, "-": a - b, "*": a * b}[op])
    x, y = _seconds(left), _seconds(right)
    if x is not None and y is not None and op in ("+", "-"):
        return _clock(x + y if op == "+" else x - y)
    if x is not None and _NUMBER.fullmatch(right) and op in ("*", "/"):
        b = int(right)
        if op == "/" and b == 0:
            raise ConsoleError("division by zero")
        return _clock(x * b if op == "*" else _div(x, b))
    raise ConsoleError(f"failure: cannot compute {left!r} {op} {right!r}")


def _div(a: int, b: int) -> int:
    return abs(a) // abs(b) * (1 if (a < 0) == (b < 0) else -1)


def _compare(op: str, left: str, right: str) -> bool:
    if op == "=":
        return left == right
    if op == "!=":
        return left != right
    a: int | str = left
    b: int | str = right
    if _NUMBER.fullmatch(left) and _NUMBER.fullmatch(right):
        a, b = int(left), int(right)
    else:
        x, y = _seconds(left), _seconds(right)
        if x is not None and y is not None:
            a, b = x, y
    return {
        "<": a < b,  # type: ignore[operator]
        ">": a > b,  # type: ignore[operator]
        "<=": a <= b,  # type: ignore[operator]
        ">=": a >= b,  # type: ignore[operator]
    }[op]
