"""Console syntax an export never contains is refused with its position, not misread.

A merge snippet or a hand-edited export with ``;``, ``{ }`` or a trailing ``#`` would
otherwise parse into odd words and change meaning silently.
"""

from __future__ import annotations

import pytest

from tikguard.routeros.errors import ParseError
from tikguard.routeros.parse import parse


@pytest.mark.parametrize(
    ("text", "line", "column", "message"),
    [
        ("/ip dns\nset servers=1.1.1.1; /ip dns set cache-size=1\n", 2, 20, "';' joins"),
        ("/system script\nadd name=a source={ :put 1 }\n", 2, 19, "script block"),
        ("/ip address\nadd address=192.0.2.1/24 interface=ether1 # wan\n", 2, 43, "'#' comment"),
        ("/ip address\nadd = x\n", 2, 5, "unexpected word '='"),
        ("//ip\n", 1, 1, "not a menu path"),
    ],
)
def test_script_syntax_is_refused_with_its_position(
    text: str, line: int, column: int, message: str
) -> None:
    with pytest.raises(ParseError) as caught:
        parse(text, source="snippet.rsc")
    error = caught.value
    assert (error.source, error.line, error.column) == ("snippet.rsc", line, column)
    assert message in error.message


def test_separators_inside_quotes_are_values() -> None:
    config = parse('/system script\nadd name=a source=":put 1; { :put 2 } # x"\n')
    assert config.menus[0].commands[0].get("source") == ":put 1; { :put 2 } # x"


def test_slash_separated_menu_paths_read_like_spaced_ones() -> None:
    spaced = parse("/ip firewall filter\nadd chain=input\n")
    assert parse("/ip/firewall/filter\nadd chain=input\n").menus == spaced.menus
    assert parse("/ip/firewall/filter add chain=input\n").menus == spaced.menus


def test_positional_word_after_set_properties_is_refused() -> None:
    with pytest.raises(ParseError) as caught:
        parse('/ip dns\nset servers=1.1.1.1 "two words"\n')
    assert "unexpected word '\"two words\"' after set" in caught.value.message


def test_only_global_commands_follow_a_bare_slash() -> None:
    config = parse("/\n:delay 5\n/ :delay 1\n")
    assert [(m.path, [c.args for c in m.commands]) for m in config.menus] == [
        ("", [("5",), ("1",)])
    ]
    with pytest.raises(ParseError, match="expected a menu path after '/'"):
        parse("/ = x\n")


def test_final_newline_after_a_continuation_is_still_truncated() -> None:
    for text in ("/ip address\nadd address=192.0.2.1/24 \\", "/ip address\nadd \\\n"):
        with pytest.raises(ParseError, match="ends inside a backslash-continued line"):
            parse(text)


def test_an_indented_comment_is_a_note() -> None:
    config = parse("/interface bridge port-controller\n  # disabled\nset switch=none\n")
    assert config.menus[0].commands[0].notes == (" disabled",)
