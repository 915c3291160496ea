"""RouterOS login options appended to the SSH user name (``admin+ct511w4098h``).

RouterOS reads console options from a ``+`` suffix of the login name: ``c`` turns
colours off, ``t`` turns terminal capability detection off, ``e`` enables dumb
terminal mode, ``NNNw``/``NNNh`` set the terminal width and height. Automation tools
(netmiko, Oxidized, tikguard itself) log in this way so the console prints plain,
unwrapped text. A suffix that is not made of these options is part of the name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_SUFFIX = re.compile(r"^(?P<user>.+)\+(?P<opts>(?:[cetb]|\d+[wh])+)$")
_OPTION = re.compile(r"[cetb]|\d+[wh]")

#: The console width RouterOS assumes when neither a PTY nor ``NNNw`` says otherwise.
DEFAULT_WIDTH = 80
#: Widths RouterOS accepts (it clamps silly values; so do we).
MIN_WIDTH, MAX_WIDTH = 20, 4096


@dataclass(frozen=True, slots=True)
class LoginOptions:
    """The user name proper and the console options that came with it."""

    user: str
    colours: bool = True
    detect_terminal: bool = True
    dumb: bool = False
    width: int | None = None
    height: int | None = None


def parse_login(username: str) -> LoginOptions:
    """Split ``admin+ct511w4098h`` into the user ``admin`` and its options."""
    m = _SUFFIX.match(username)
    if m is None:
        return LoginOptions(user=username)
    colours, detect, dumb = True, True, False
    width: int | None = None
    height: int | None = None
    for token in _OPTION.findall(m.group("opts")):
        if token == "c":
            colours = False
        elif token == "t":
            detect = False
        elif token == "e":
            dumb = True
        elif token.endswith("w"):
            width = min(MAX_WIDTH, max(MIN_WIDTH, int(token[:-1])))
        elif token.endswith("h"):
            height = max(1, int(token[:-1]))
    return LoginOptions(
        user=m.group("user"),
        colours=colours,
        detect_terminal=detect,
        dumb=dumb,
        width=width,
        height=height,
    )
