"""Rollout pieces that need no router: rendering and quoting, waves, halt policy,
admission control, the bounded --match."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tikguard.ops.rollout.admission import Admission
from tikguard.ops.rollout.render import (
    RenderError,
    RouterFacts,
    compile_template,
    config_facts,
    is_empty,
    render,
)
from tikguard.ops.rollout.targets import compile_match, matches
from tikguard.ops.rollout.waves import HaltPolicy, parse_duration, parse_waves, wave_sizes
from tikguard.routeros.lexer import decode_value
from tikguard.store.errors import InvalidInput


def _facts(**kw: object) -> RouterFacts:
    base: dict[str, object] = {
        "name": "r1",
        "host": "10.0.0.1",
        "site": None,
        "tags": ("edge",),
        "vars": {},
        "identity": "r1",
        "version": "7.16",
        "interfaces": ("ether1", "bridge"),
    }
    base.update(kw)
    return RouterFacts(**base)  # type: ignore[arg-type]


@given(st.text(max_size=40))
def test_every_value_is_quoted_back_to_itself(value: str) -> None:
    out = render(compile_template("comment={{ vars.v }}"), _facts(vars={"v": value}))
    assert decode_value(out.removeprefix("comment=")) == value


def test_raw_opts_out_and_lists_join() -> None:
    template = compile_template("{{ vars.v | raw }} {{ facts.interfaces }} {{ device.tags }}")
    assert render(template, _facts(vars={"v": "a b"})) == "a b ether1,bridge edge"


@pytest.mark.parametrize(
    ("source", "line", "text"),
    [
        ("ok\n{{ vars.vlan }}", 2, "vars.vlan is not defined"),
        ("{{ device.site }}", 1, "device.site is not defined"),
        ("\n\n{{ facts.nothing }}", 3, "facts.nothing is not defined"),
        ("{{ undefined_name }}", 1, "'undefined_name' is undefined"),
    ],
)
def test_render_errors_name_router_line_and_variable(source: str, line: int, text: str) -> None:
    with pytest.raises(RenderError) as err:
        render(compile_template(source), _facts())
    assert err.value.line == line and text in err.value.message
    assert str(err.value).startswith(f"r1: template line {line}: ")


def test_sandbox_refuses_python_internals() -> None:
    with pytest.raises(RenderError):
        render(compile_template("{{ device.__class__.__mro__ }}"), _facts())


def test_template_syntax_error_names_the_line() -> None:
    with pytest.raises(InvalidInput, match="template line 2"):
        compile_template("a\n{% if %}\n")


def test_facts_from_a_stored_config() -> None:
    config = (
        "/interface bridge\nadd name=bridge1\n"
        "/interface ethernet\nset [ find default-name=ether2 ] name=uplink\n"
        "/interface list\nadd name=LAN\n"
        "/system identity\nset name=core-1\n"
    )
    assert config_facts(config) == ("core-1", ("bridge1", "uplink"))
    assert config_facts(None) == (None, ())


def test_empty_change() -> None:
    assert is_empty("\n  \n# only a comment\n")
    assert not is_empty("/ip dns set servers=1.1.1.1\n")


def test_waves() -> None:
    assert parse_waves("5, 25%,100%") == ["5", "25%", "100%"]
    assert wave_sizes(300, 1, ["5", "25%", "100%"]) == [1, 4, 70, 225]
    assert wave_sizes(3, 1, ["10%", "100%"]) == [1, 2]
    assert wave_sizes(10, 0, ["100%"]) == [10]
    assert wave_sizes(0, 1, ["100%"]) == []
    for bad in ("0", "x", "150%", "2.5"):
        with pytest.raises(InvalidInput):
            parse_waves(bad)


@given(st.integers(0, 5000), st.integers(0, 10), st.lists(st.integers(1, 100), max_size=5))
def test_waves_cover_every_router_once(total: int, canary: int, percents: list[int]) -> None:
    sizes = wave_sizes(total, canary, [f"{p}%" for p in percents])
    assert sum(sizes) == total and all(s > 0 for s in sizes)


def test_halt_policy() -> None:
    assert HaltPolicy().halts(1, 100)
    assert not HaltPolicy(max_failures=2).halts(2, 100)
    assert HaltPolicy(max_failures=2).halts(3, 100)
    assert not HaltPolicy(max_failure_percent=5).halts(5, 100)
    assert parse_duration("10m") == 600 and parse_duration("90s") == 90


def test_admission_grows_while_pushes_finish_early_and_halves_when_late() -> None:
    adm = Admission(budget=20.0, cap=100)
    adm.observe(1, 1.0)
    assert adm.limit == 2
    for _ in range(5):
        adm.observe(adm.limit, 0.5 * adm.limit)
    assert 2 < adm.limit <= 20
    adm.observe(adm.limit, 15.0)  # past half the budget: back off at once
    assert adm.limit <= 10


def test_match_is_bounded() -> None:
    with pytest.raises(InvalidInput, match="longer than"):
        compile_match("a" * 201)
    with pytest.raises(InvalidInput, match="not a regular expression"):
        compile_match("(")
    with pytest.raises(InvalidInput, match="took longer"):
        matches(compile_match("(x+x+)+y"), "x" * 5000, "r1")
    assert matches(compile_match(r"^/ip dns$"), "/system\n/ip dns\nset x=1\n", "r1")


def test_admission_says_when_a_push_alone_is_too_slow() -> None:
    adm = Admission(budget=10.0, cap=10)
    adm.observe(3, 8.0)  # late with others in flight: back off, not a verdict
    assert adm.slow_reason() is None and adm.limit == 1
    adm.observe(1, 6.0)  # past half: back off
    assert adm.slow_reason() is None
    adm.observe(1, 8.0)  # past three quarters alone: the window cannot be kept
    reason = adm.slow_reason()
    assert reason is not None and "longer --window" in reason


def test_admission_counts_the_whole_load_but_always_lets_one_start() -> None:
    adm = Admission(budget=20.0, cap=100, limit=4)
    assert adm.room(own=1) == 3
    assert adm.room(own=1, load=3) == 1  # two pushes of others share the controller
    assert adm.room(own=2, load=9) == 0
    assert adm.room(own=0, load=9) == 1  # nothing of its own in flight: one may start
