"""Readable ``find`` selectors for firewall rules without a unique comment.

A rule that leaves a matcher out has no value for it (schema ``unset_when_absent``), so
``find dst-port=22`` cannot match it: the whole-property selector is proven unique and
the patch does not fall back to ``[ :pick [ find dynamic=no ] N ]``.
"""

from __future__ import annotations

import asyncio

import pytest
from tests.routeros.patch_oracle import apply
from tests.routeros.sim_harness import SIM_ERROR, converge, describe

from tikguard.routeros.diff import remaining_differences
from tikguard.routeros.model import Config
from tikguard.routeros.parse import parse
from tikguard.routeros.patch import make_patch
from tikguard.routeros.schema import lookup

RULES = """/ip firewall filter
add action=drop chain=input dst-port=22 protocol=tcp
add action=drop chain=input protocol=tcp
add action=accept chain=input
"""


def cfg(text: str) -> Config:
    return parse("# 2024-02-09 08:47:35 by RouterOS 7.16\n" + text)


def patch_lines(a: str, b: str) -> list[str]:
    old, new = cfg(a), cfg(b)
    patch = make_patch(old, new)
    assert patch.ok, patch.unsupported
    assert not remaining_differences(apply(old, patch.script), new), patch.script
    return patch.lines


def test_firewall_matchers_have_no_value_unless_given() -> None:
    for chain in ("filter", "nat", "mangle", "raw"):
        schema = lookup(f"/ip firewall {chain}")
        assert {
            "dst-port",
            "protocol",
            "in-interface-list",
            "src-address",
        } <= schema.unset_when_absent
        assert not schema.unset_when_absent & set(schema.defaults)
    assert not lookup("/ip route").unset_when_absent


def test_a_rule_with_more_matchers_gets_a_find_selector() -> None:
    """Removing the rule with dst-port: no other rule sets dst-port=22."""
    lines = patch_lines(
        RULES, RULES.replace("add action=drop chain=input dst-port=22 protocol=tcp\n", "")
    )
    assert lines == [
        "/ip firewall filter",
        "remove [ find action=drop chain=input dst-port=22 protocol=tcp ]",
    ]


def test_a_rule_whose_matchers_another_has_too_still_needs_its_position() -> None:
    """``find action=drop chain=input protocol=tcp`` also matches the dst-port rule, and
    RouterOS has no proven way to say "dst-port not set" in a find: position it is."""
    lines = patch_lines(RULES, RULES.replace("add action=drop chain=input protocol=tcp\n", ""))
    assert lines == ["/ip firewall filter", "remove [ :pick [ find dynamic=no ] 1 ]"]


def test_moving_a_rule_to_the_top_addresses_both_by_find() -> None:
    target = (
        "/ip firewall filter\nadd action=accept chain=input\n"
        "add action=drop chain=input dst-port=22 protocol=tcp\n"
        "add action=drop chain=input protocol=tcp\n"
    )
    lines = patch_lines(RULES, target)
    assert not any(":pick" in line for line in lines), lines


@pytest.mark.skipif(SIM_ERROR is not None, reason=SIM_ERROR or "")
def test_find_selectors_converge_on_the_simulator() -> None:
    a = cfg(RULES)
    b = cfg(RULES.replace("add action=drop chain=input dst-port=22 protocol=tcp\n", ""))
    outcome = asyncio.run(converge(a, b))
    assert ":pick" not in outcome.patch.script
    assert outcome.patch.ok and outcome.converged, describe(outcome)
