"""The parser's shortcut for plain lines reads exactly what the general tokeniser reads.

Most export lines are ``add``/``set`` with plain ``key=value`` words; the parser takes
them without the general tokeniser. These tests parse the same text with the shortcut
switched off (the general path is the reference) and compare the results.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.conftest import corpus_exports

from tikguard.routeros import parse as parse_module
from tikguard.routeros.errors import ParseError
from tikguard.routeros.model import Config

WORDS = st.sampled_from(
    [
        "/ip address",
        "/ip/dns set",
        "/ip firewall filter add",
        "/ add",
        "add",
        "set",
        "set ether1",
        'set "ether2 "',
        "set 0",
        "a=b",
        "a=b=c",
        "=x",
        "a.b=1",
        ".c=2",
        'c="x y"',
        'c="x"y',
        'c=x"y"',
        '"k"=v',
        'a=""',
        '"',
        "passive",
        "[ find ]",
        "!z",
        "\\",
        "#",
        " ",
        "\t",
        "\x0c",
        "\n",
    ]
)


def _outcome(text: str) -> Config | tuple[int | None, int | None, str]:
    try:
        return parse_module.parse(text)
    except ParseError as error:
        return (error.line, error.column, error.message)


@settings(max_examples=300, deadline=None)
@given(st.lists(WORDS, max_size=20).map(" ".join))
def test_generated_lines_read_the_same(text: str) -> None:
    fast = _outcome(text)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(parse_module._Parser, "_plain", lambda self, text: False)
        general = _outcome(text)
    assert fast == general


@pytest.mark.parametrize("path", corpus_exports(), ids=lambda p: p.name)
def test_corpus_reads_the_same(path: Path) -> None:
    text = path.read_bytes().decode("utf-8", "surrogateescape")
    fast = parse_module.parse(text)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(parse_module._Parser, "_plain", lambda self, text: False)
        assert parse_module.parse(text) == fast
