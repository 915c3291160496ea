"""The scripting language beyond ``:if``/``:foreach``: expressions, ``:for``, ``:while``,
``:do ... while=`` / ``on-error=``, ``:error``; and ``/import`` checking the commands
inside blocks before anything applies."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tikguard.sim.clock import SimClock
from tikguard.sim.router import SimRouter


def make(version: str = "7.16") -> SimRouter:
    return SimRouter(name="gw1", version=version, clock=SimClock(manual=True), loop_limit=500)


async def run(r: SimRouter, text: str) -> str:
    return await r.execute(text, user="admin")


@pytest.mark.parametrize(
    ("expression", "value"),
    [
        ("(1 + 2)", "3"),
        ("(2 + 3 * 4)", "14"),
        ("((2 + 3) * 4)", "20"),
        ("(7 / 2)", "3"),
        ("(7 % 3)", "1"),
        ("(-5 + 2)", "-3"),
        ('("a" . "b" . 1)', "ab1"),
        ("(3 > 2)", "true"),
        ("(3 > 2 && 1 > 2)", "false"),
        ("(1 > 2 || !(1 > 2))", "true"),
        ("(1m + 30s)", "00:01:30"),
        ("(00:01:00 > 30s)", "true"),
        ("[:len [/ip address find]]", "0"),
    ],
)
async def test_expressions(expression: str, value: str) -> None:
    r = make()
    assert await run(r, f":put {expression}") == value + "\n"


@settings(max_examples=60, deadline=None)
@given(a=st.integers(-10_000, 10_000), b=st.integers(-10_000, 10_000))
async def test_integer_arithmetic_matches_python(a: int, b: int) -> None:
    r = make()
    await run(r, f":global a {a}; :global b {b}")
    assert await run(r, ":put ($a + $b)") == f"{a + b}\n"
    assert await run(r, ":put ($a * $b - $a)") == f"{a * b - a}\n"
    assert await run(r, ":put ($a < $b)") == ("true\n" if a < b else "false\n")


async def test_set_with_an_expression_counts() -> None:
    r = make()
    script = ":local c 0\n:for i from=1 to=5 do={ :set c ($c + $i) }\n:put $c"
    assert await run(r, script) == "15\n"


async def test_for_counts_both_ways_and_by_step() -> None:
    r = make()
    assert await run(r, ":for i from=1 to=3 do={ :put $i }") == "1\n2\n3\n"
    assert await run(r, ":for i from=3 to=1 do={ :put $i }") == "3\n2\n1\n"
    assert await run(r, ":for i from=0 to=10 step=5 do={ :put $i }") == "0\n5\n10\n"


async def test_while_and_do_while() -> None:
    r = make()
    assert await run(r, ":local i 0; :while ($i < 3) do={ :put $i; :set i ($i + 1) }") == (
        "0\n1\n2\n"
    )
    # ``:do`` runs its block before testing the condition.
    assert await run(r, ":local i 5; :do { :put $i; :set i ($i + 1) } while=($i < 3)") == "5\n"


async def test_do_on_error_handles_the_error_and_goes_on() -> None:
    r = make()
    await run(r, "/ip address add address=10.0.0.1/24 interface=ether1")
    script = (
        ":do { /ip address add address=10.0.0.1/24 interface=ether1 }"
        ' on-error={ :put "exists" }\n:put after'
    )
    assert await run(r, script) == "exists\nafter\n"
    # Without on-error the same failure ends the run with RouterOS's text.
    out = await run(r, ":do { /ip address add address=10.0.0.1/24 interface=ether1 }\n:put after")
    assert out == "failure: already have such entry\n"


async def test_error_ends_the_run_with_its_message_unless_handled() -> None:
    r = make()
    assert await run(r, ':error "stop here"\n:put after') == "stop here\n"
    assert await run(r, ':do { :error "x" } on-error={ :put handled }') == "handled\n"


async def test_multi_line_blocks() -> None:
    r = make()
    script = """:local n 0
:for i from=1 to=4 do={
  :if (($i % 2) = 0) do={
    :set n ($n + $i)
  } else={
    :put "odd $i"
  }
}
:put $n
"""
    assert await run(r, script) == "odd 1\nodd 3\n6\n"


async def test_a_runaway_loop_is_stopped() -> None:
    r = make()
    assert await run(r, ":while (true) do={ :local x 1 }") == (
        "failure: loop ran 500 times (the simulator's limit)\n"
    )
    assert (await run(r, ":for i from=1 to=1000000000 do={ }")).startswith("failure: loop ran")


async def test_prefixes_of_script_commands_resolve() -> None:
    r = make()
    assert await run(r, ':pu "hi"') == "hi\n"
    assert await run(r, ":xyzzy 1") == "bad command name xyzzy (line 1 column 2)\n"


# -- /import checks inside blocks before running ---------------------------------------------
@pytest.mark.parametrize(
    ("body", "error"),
    [
        # one-line block: the column counts from the statement's line
        (
            ":if (true) do={ /ip address foo }\n",
            "bad command name foo (line 2 column 29)",
        ),
        # multi-line block: the command's own line
        (
            ":if (true) do={\n  /ip address add colour=red\n}\n",
            "expected end of command (line 3 column 19)",
        ),
        (":for i from=1 to=2 do={ :xyzzy }\n", "bad command name xyzzy (line 2 column 26)"),
        (":if (true) do={ :put 1 } frob={ }\n", "expected end of command (line 2 column 26)"),
    ],
)
async def test_import_checks_block_contents_before_running(body: str, error: str) -> None:
    r = make()
    text = "/ip address add address=10.0.0.1/24 interface=ether1\n" + body
    r.files.write("x.rsc", text.encode())
    out = await run(r, "/import x.rsc")
    assert out == error + "\n"
    assert "10.0.0.1/24" not in r.config_text()  # nothing applied


async def test_import_runs_blocks_and_stops_at_their_runtime_error() -> None:
    r = make()
    r.files.write(
        "y.rsc",
        b":for i from=1 to=3 do={\n"
        b"  /ip address add address=10.0.$i.1/24 interface=ether1\n"
        b"}\n"
        b"/ip address add address=10.0.1.1/24 interface=ether1\n"
        b"/ip address add address=10.0.9.1/24 interface=ether1\n",
    )
    out = await run(r, "/import y.rsc")
    assert out.splitlines() == [
        "failure: already have such entry",
        "Script Error: import of y.rsc stopped at line 4",
    ]
    text = r.config_text()
    assert "10.0.3.1/24" in text and "10.0.9.1" not in text
