"""Generated configurations: the patch, run on the old config, gives the new one."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.routeros.netgen import Net, edits, nets
from tests.routeros.patch_oracle import apply

from tikguard.routeros.diff import diff
from tikguard.routeros.model import Config
from tikguard.routeros.parse import parse
from tikguard.routeros.patch import make_patch
from tikguard.routeros.serialise import serialise

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def check(a: Config, b: Config) -> None:
    patch = make_patch(a, b)
    assert patch.ok, [str(u) for u in patch.unsupported]
    result = apply(a, patch.script)
    remaining = diff(result, b)
    assert remaining.empty, f"script:\n{patch.script}\nstill differs:\n{remaining.to_text()}"
    assert make_patch(result, b).empty, "a second patch must have nothing left to do"


@st.composite
def edited(draw: st.DrawFn) -> tuple[Net, Net]:
    net = draw(nets())
    return net, draw(edits(net))


@SETTINGS
@given(edited())
def test_patch_of_an_edit_converges(pair: tuple[Net, Net]) -> None:
    a, b = pair
    check(a.render(), b.render())


@SETTINGS
@given(nets(), nets())
def test_patch_between_unrelated_configs_converges_or_says_why(a: Net, b: Net) -> None:
    old, new = a.render(), b.render()
    patch = make_patch(old, new)
    if not patch.ok:
        for gap in patch.unsupported:
            assert gap.menu and gap.item and gap.what and gap.why
        return
    remaining = diff(apply(old, patch.script), new)
    assert remaining.empty, f"script:\n{patch.script}\nstill differs:\n{remaining.to_text()}"


@SETTINGS
@given(edited())
def test_diff_is_empty_exactly_when_patch_is_empty(pair: tuple[Net, Net]) -> None:
    a, b = (n.render() for n in pair)
    assert diff(a, b).empty == make_patch(a, b).empty


@settings(max_examples=50, deadline=None)
@given(edited())
def test_patch_survives_a_trip_through_export_text(pair: tuple[Net, Net]) -> None:
    """Configs read back from serialised exports patch the same way."""
    a, b = (parse(serialise(n.render())) for n in pair)
    check(a, b)
