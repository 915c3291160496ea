"""Generated export fragments: normalise, parse and serialise agree with each other.

For any text: normalising is idempotent; parse fails on the text exactly when it fails
on the normalised text, and both give the same menus; what parses serialises (compact
at several widths, and terse) back to the same menus.
"""

from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st

from tikguard.routeros.errors import ParseError
from tikguard.routeros.model import Command, Config
from tikguard.routeros.normalise import normalise
from tikguard.routeros.parse import VERBS, parse
from tikguard.routeros.serialise import serialise

PIECES = st.sampled_from(
    [
        "/ip address",
        "/ip dns set",
        "/interface ethernet",
        "\n",
        "\r\n",
        " ",
        "add",
        "set",
        "[ find ]",
        "[ find default-name=ether1 ]",
        "*0",
        "x=1",
        'comment="a b"',
        'comment="\\D2\\D2"',
        'source=":put 1;\\r\\n:put 2"',
        "!z",
        "a.b=1 .c=2",
        "passive",
        "\\\n    ",
        '"',
        "\\",
        "#note",
        "# inactive time: 1s",
        "# 2024-02-09 08:47:35 by RouterOS 7.13.4",
        ":delay 5",
    ]
)


def _commands(config: Config) -> list[tuple[str, Command]]:
    """Each command with the menu it runs in, in order: two blocks of one menu in a row
    (``/`` between root-level lines, say) mean what one block with both commands does."""
    return [(menu.path, command) for menu in config.menus for command in menu.commands]


def _check(text: str) -> None:
    once = normalise(text)
    assert normalise(once) == once
    try:
        config = parse(text)
    except ParseError:
        try:
            parse(once)
        except ParseError:
            return
        raise AssertionError("the normalised text parses but the original does not") from None
    assert parse(once).menus == config.menus
    if any(c.verb not in VERBS and c.verb[:1] != ":" for m in config.menus for c in m.commands):
        return  # an unknown verb is ambiguous in terse layout (it reads as a menu name)
    for style, width in (("compact", None), ("compact", 24), ("compact", 80), ("terse", None)):
        again = parse(serialise(config, include_date=False, style=style, width=width))
        assert _commands(again) == _commands(config), (style, width)


@settings(max_examples=400, deadline=None)
@given(st.lists(PIECES, max_size=24).map("".join))
def test_fragments_of_exports(text: str) -> None:
    _check(text)


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet='ab =!"\\\n\r\t/[]*0.:$?_', max_size=60))
@example(":\r/\r:")  # two root blocks in a row serialise as one
def test_arbitrary_text(text: str) -> None:
    if text.lstrip(" \t\r\n").startswith("#"):
        return  # a leading comment block is the header, not notes of a command
    _check(text)
