"""Lexer and quoting: continuations, words, escapes, and quote -> lex round trips."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tikguard.routeros.errors import ParseError
from tikguard.routeros.lexer import (
    LogicalLine,
    clean_lines,
    decode_value,
    logical_lines,
    split_words,
)
from tikguard.routeros.model import Command, Config, Menu, Prop
from tikguard.routeros.parse import parse
from tikguard.routeros.quoting import is_bare, quote
from tikguard.routeros.serialise import serialise


def words(text: str) -> list[tuple[str, str | None, str | None]]:
    return [(w.kind, w.key, w.value) for w in split_words(text)]


def test_clean_lines_handles_crlf_ansi_and_trailing_space() -> None:
    text = "/ip dns  \r\nset servers=1.1.1.1\x1b[m\r\n\x1b[1;32mset x=y\x1b[0m\n"
    assert clean_lines(text) == ["/ip dns", "set servers=1.1.1.1", "set x=y", ""]


def test_continuation_may_split_a_word_and_a_quoted_string() -> None:
    lines = ['add comment="two wo\\', '    rds" mac-address=\\', "    B8:69:F4:B6:30:F0"]
    (line,) = logical_lines(lines)
    assert line.text == 'add comment="two words" mac-address=B8:69:F4:B6:30:F0'
    assert words(line.text)[1] == ("prop", "comment", "two words")


def test_escaped_space_starts_a_continuation() -> None:
    (line,) = logical_lines(['add source="a\\', "    \\_b\\r\\", '    \\nc"'])
    assert split_words(line)[1].value == "a b\r\nc"


def test_even_backslashes_do_not_continue() -> None:
    assert [line.text for line in logical_lines(['set a="x\\\\"', "set b=1"])] == [
        'set a="x\\\\"',
        "set b=1",
    ]


def test_truncated_continuation_is_an_error_with_position() -> None:
    with pytest.raises(ParseError) as info:
        logical_lines(["/ip dns", "set servers=\\"])
    assert info.value.line == 2


def test_word_kinds() -> None:
    assert words('set [ find default-name=ether1 ] !keepalive name="a b" passive') == [
        ("word", None, "set"),
        ("open", None, None),
        ("word", None, "find"),
        ("prop", "default-name", "ether1"),
        ("close", None, None),
        ("unset", "keepalive", None),
        ("prop", "name", "a b"),
        ("word", None, "passive"),
    ]


def test_bang_values_and_internal_ids_stay_bare() -> None:
    assert words("add discover-interface-list=!dynamic bridge=*E") == [
        ("word", None, "add"),
        ("prop", "discover-interface-list", "!dynamic"),
        ("prop", "bridge", "*E"),
    ]


def test_escapes_decode() -> None:
    assert decode_value(r'"\"\\\$\?\_\n\r\t\a\b\f\v"') == '"\\$? \n\r\t\a\b\f\v'


def test_cp1251_bytes_survive_as_surrogates_and_quote_back() -> None:
    value = decode_value(r'"\D2\D2\CA 75"')
    assert value.encode("utf-8", "surrogateescape") == b"\xd2\xd2\xca 75"
    assert quote(value) == r'"\D2\D2\CA 75"'


def test_utf8_bytes_decode_to_characters() -> None:
    assert decode_value(r'"\D0\9E\D0\B1"') == "Об"
    assert quote("Об") == r'"\D0\9E\D0\B1"'


def test_unterminated_quote_reports_column() -> None:
    line = LogicalLine('add comment="oops', 7, ((0, 7, 0),))
    with pytest.raises(ParseError) as info:
        split_words(line)
    assert (info.value.line, info.value.column) == (7, 13)  # the opening quote


def test_unknown_escape_is_an_error() -> None:
    with pytest.raises(ParseError, match="unknown escape"):
        split_words(r'add comment="a\qb"')


@pytest.mark.parametrize(
    ("value", "literal"),
    [
        ("ether1", "ether1"),
        ("", '""'),
        ("a b", '"a b"'),
        ("10M-half,10M-full", "10M-half,10M-full"),
        ("!dynamic", "!dynamic"),
        ("<AUTO:DHCP:x>", "<AUTO:DHCP:x>"),
        ("##DHCP##", "##DHCP##"),
        ("HTTP(S)", '"HTTP(S)"'),
        ("dstnat'd", '"dstnat\'d"'),
        ("$x", '"\\$x"'),
        ("a?", '"a\\?"'),
        ('say "hi"', '"say \\"hi\\""'),
        ("c:\\x", '"c:\\\\x"'),
        ("[find]", '"[find]"'),
        ("a;b", '"a;b"'),
        ("{x}", '"{x}"'),
        ("k=v", '"k=v"'),
        ("line\r\nnext\ttab", '"line\\r\\nnext\\ttab"'),
        (" lead", '" lead"'),
        ("\x01", '"\\01"'),
    ],
)
def test_quote_matches_routeros_exports(value: str, literal: str) -> None:
    assert quote(value) == literal
    assert decode_value(literal) == value


def test_always_quotes_bare_values_on_request() -> None:
    assert quote("ether1", always=True) == '"ether1"'
    assert is_bare("ether1") and not is_bare("a b")


@given(st.text())
def test_quote_then_lex_round_trips_any_text(value: str) -> None:
    (word,) = split_words("x=" + quote(value))
    assert word.kind == "prop" and word.value == value


@given(st.binary())
def test_quote_round_trips_any_bytes(raw: bytes) -> None:
    value = raw.decode("utf-8", "surrogateescape")
    (word,) = split_words("set comment=" + quote(value))[1:]
    assert word.value is not None
    assert word.value.encode("utf-8", "surrogateescape") == raw


@given(st.text(), st.integers(min_value=30, max_value=120))
def test_serialised_values_survive_wrapping_at_any_width(value: str, width: int) -> None:
    config = Config(menus=[Menu("/system note", [Command("set", (Prop("note", value),))])])
    text = serialise(config, width=width)
    assert parse(text).menus == config.menus
