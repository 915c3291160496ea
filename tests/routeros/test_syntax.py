"""The local syntax check a push runs before anything reaches a router: it refuses
what RouterOS would refuse as a whole (with line and column), and never a script
RouterOS accepts (every corpus export, any quoted value, scripts with blocks)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.conftest import corpus_exports

from tikguard.routeros.errors import ParseError
from tikguard.routeros.quoting import quote
from tikguard.routeros.syntax import check_script

ACCEPTED = [
    "/ip dns\nset servers=1.1.1.1\n",
    "/ip/dns/set servers=1.1.1.1\n",
    "/ip dns set servers=1.1.1.1; /system identit set name=x\n",  # a unique prefix
    ":foreach i in=[/ip address find] do={ /ip address remove $i }\n",
    ":if ([:len [/ip dns get servers]] = 0) do={\n  /ip dns set servers=9.9.9.9\n} else={\n"
    "  :put done\n}\n",
    "# a comment\n/ip firewall filter\nadd chain=input action=accept\nremove [ find comment=x ]\n",
    '/system script add name=x source=":put \\"hi\\"; /ip foo"\n',  # text inside quotes
    "/ip dns \\\n    set servers=1.1.1.1\n",
    "{\n  :local a 1\n  /ip dns set servers=9.9.9.9\n}\n",
]

REFUSED = [
    ('/ip dns set servers="9.9.9.9\n', 1, 21, "unterminated quoted string"),
    ("/ip adress add address=10.0.0.1/24 interface=ether1\n", 1, 5, "bad command name adress"),
    ("/ip dns\nsett servers=1.1.1.1\n", 2, 1, "bad command name sett"),
    ("/ip a add\n", 1, 5, "ambiguous command name a"),
    (":iff (1) do={ :put x }\n", 1, 2, "bad command name iff"),
    (":if (1) do={\n  /ip foo bar\n}\n", 2, 7, "bad command name foo"),
    ("{\n/ip dns set servers=1.1.1.1\n", 1, 1, "{ is never closed"),
    ("/ip dns set servers=1.1.1.1 }\n", 1, 29, "} closes nothing"),
    ("/ip dns set servers=[ /ip dns get servers\n", 1, 21, "[ is never closed"),
    ('/ip dns \\\n  set servers=\\\n  "x\n', 3, 3, "unterminated quoted string"),
    ("/ip dns set servers=1.1.1.1 \\", 1, 29, "input ends inside"),
]


@pytest.mark.parametrize("script", ACCEPTED)
def test_scripts_routeros_accepts_pass(script: str) -> None:
    check_script(script)


@pytest.mark.parametrize(("script", "line", "column", "words"), REFUSED)
def test_errors_say_where(script: str, line: int, column: int, words: str) -> None:
    with pytest.raises(ParseError) as exc:
        check_script(script, "change.rsc")
    assert (exc.value.line, exc.value.column) == (line, column), exc.value.describe()
    assert words in exc.value.message
    assert exc.value.describe().startswith(f"change.rsc:{line}:{column}: ")


@pytest.mark.parametrize("path", corpus_exports(), ids=lambda p: p.name)
def test_every_corpus_export_passes(path: Path) -> None:
    check_script(path.read_text(encoding="utf-8", errors="surrogateescape"), path.name)


@given(value=st.text(max_size=60), name=st.text(min_size=1, max_size=20))
def test_any_quoted_value_passes(value: str, name: str) -> None:
    check_script(
        f"/ip address add address=10.0.0.1/24 interface=ether1 comment={quote(value)}\n"
        f"/system identity set name={quote(name)}\n"
    )
