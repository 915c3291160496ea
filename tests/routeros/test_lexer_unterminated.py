"""An unterminated quote fails at once, whatever follows it (no regex backtracking blow-up).

Before the lexer's repetitions were made possessive, ``add address="192.0.2.1/24
interface=ether1`` kept ``tikguard config normalise`` busy for minutes.
"""

from __future__ import annotations

import pytest

from tikguard.routeros.errors import ParseError
from tikguard.routeros.lexer import split_words
from tikguard.routeros.parse import parse

TAILS = [
    "192.0.2.1/24 interface=ether1 network=192.0.2.0 comment=uplink-to-the-provider",
    "a b " * 2000,
    'ab\\"' * 2000,
]


@pytest.mark.timeout(30)
@pytest.mark.parametrize("tail", TAILS, ids=["short", "spaces", "escaped-quotes"])
def test_unterminated_quote_is_reported_not_backtracked(tail: str) -> None:
    with pytest.raises(ParseError) as caught:
        parse(f'/ip address\nadd address="{tail}\n', source="bad.rsc")
    assert (caught.value.line, caught.value.column) == (2, 13)
    with pytest.raises(ParseError):
        split_words(f'set comment="{tail}')
