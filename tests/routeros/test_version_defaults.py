"""Defaults that depend on the RouterOS version: 6.x adds DHCP clients and servers, PPP
clients, the PPPoE server and VPLS disabled unless ``disabled=no``.

Item normalisation reads them from ``schema.defaults_for`` with the export's version,
the patch writes what the device's version would otherwise get wrong, and the
simulator adds such items the way the version does.
"""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.routeros.patch_oracle import apply
from tests.routeros.sim_harness import SIM_ERROR, converge, describe

from tikguard.routeros.diff import diff, remaining_differences
from tikguard.routeros.items import collect, version_fill
from tikguard.routeros.model import Config
from tikguard.routeros.parse import parse
from tikguard.routeros.patch import make_patch
from tikguard.routeros.schema import defaults_for, known_paths, lookup

V6 = "# sep/25/2018 10:10:52 by RouterOS 6.49.7\n"
V7 = "# 2024-02-09 08:47:35 by RouterOS 7.16\n"
LEGACY = [p for p in known_paths() if lookup(p).legacy_defaults]


def cfg(header: str, body: str) -> Config:
    return parse(header + body.strip() + "\n")


def props(config: Config, path: str) -> list[dict[str, str]]:
    return [item.props for item in collect(config)[path].items]


def test_the_menus_with_legacy_defaults() -> None:
    assert {
        "/ip dhcp-client",
        "/ip dhcp-server",
        "/interface pppoe-client",
        "/interface l2tp-client",
        "/interface pppoe-server server",
        "/interface vpls",
    } <= set(LEGACY)
    for path in LEGACY:
        assert version_fill(lookup(path), "6.49.7") == {"disabled": "yes"}
        assert version_fill(lookup(path), "7.16") == {}
        assert version_fill(lookup(path), None) == {}
    assert version_fill(lookup("/ip address"), "6.49.7") == {}


def test_normalised_properties_say_what_the_item_is_on_either_version() -> None:
    enabled6 = cfg(V6, "/ip dhcp-client\nadd disabled=no interface=ether1")
    disabled6 = cfg(V6, "/ip dhcp-client\nadd interface=ether1")
    enabled7 = cfg(V7, "/ip dhcp-client\nadd interface=ether1")
    disabled7 = cfg(V7, "/ip dhcp-client\nadd disabled=yes interface=ether1")
    assert props(enabled6, "/ip dhcp-client") == [{"interface": "ether1"}]
    assert props(disabled6, "/ip dhcp-client") == [{"interface": "ether1", "disabled": "yes"}]
    assert diff(enabled6, enabled7).empty
    assert diff(disabled6, disabled7).empty
    changed = diff(enabled6, disabled6)
    assert [c.prop for m in changed.menus for i in m.items for c in i.changes] == ["disabled"]


def test_an_export_without_version_counts_as_7() -> None:
    assert props(parse("/ip dhcp-client\nadd interface=ether1\n"), "/ip dhcp-client") == [
        {"interface": "ether1"}
    ]


def test_a_set_after_the_add_still_counts() -> None:
    config = cfg(
        V6, "/ip dhcp-client\nadd interface=ether1\nset [ find interface=ether1 ] comment=x"
    )
    assert props(config, "/ip dhcp-client") == [
        {"interface": "ether1", "comment": "x", "disabled": "yes"}
    ]


def test_other_menus_keep_the_universal_default_on_6() -> None:
    config = cfg(V6, "/ip address\nadd address=192.0.2.1/24 interface=ether1")
    assert props(config, "/ip address") == [{"address": "192.0.2.1/24", "interface": "ether1"}]


def test_patch_disables_a_6x_client_that_loses_disabled_no() -> None:
    a = cfg(V6, "/ip dhcp-client\nadd disabled=no interface=ether1")
    b = cfg(V6, "/ip dhcp-client\nadd interface=ether1")
    patch = make_patch(a, b)
    assert patch.script == "/ip dhcp-client\nset [ find interface=ether1 ] disabled=yes\n"
    assert not remaining_differences(apply(a, patch.script), b)
    back = make_patch(b, a)
    assert back.script == "/ip dhcp-client\nset [ find interface=ether1 ] disabled=no\n"


def test_patch_spells_out_what_the_device_version_adds_differently() -> None:
    """A 7.x target's enabled client pushed to 6.x; a 6.x target's disabled one to 7.x."""
    empty6 = cfg(V6, "/system identity\nset name=gw")
    empty7 = cfg(V7, "/system identity\nset name=gw")
    target7 = cfg(V7, "/system identity\nset name=gw\n/ip dhcp-client\nadd interface=ether1")
    target6 = cfg(V6, "/system identity\nset name=gw\n/ip dhcp-client\nadd interface=ether1")
    to6 = make_patch(empty6, target7)
    assert to6.script == "/ip dhcp-client\nadd interface=ether1 disabled=no\n"
    assert not remaining_differences(apply(empty6, to6.script), target7)
    to7 = make_patch(empty7, target6)
    assert to7.script == "/ip dhcp-client\nadd interface=ether1 disabled=yes\n"
    assert not remaining_differences(apply(empty7, to7.script), target6)
    same6 = make_patch(empty6, target6)
    assert same6.script == "/ip dhcp-client\nadd interface=ether1\n"


@settings(max_examples=60, deadline=None)
@given(
    path=st.sampled_from(LEGACY),
    versions=st.tuples(st.sampled_from([V6, V7, ""]), st.sampled_from([V6, V7, ""])),
    written=st.tuples(*[st.sampled_from([None, "yes", "no"])] * 2),
)
def test_any_disabled_spelling_converges_on_the_oracle(
    path: str, versions: tuple[str, str], written: tuple[str | None, str | None]
) -> None:
    """Every pair of (version, disabled= as written) patches to the target's meaning."""
    schema = lookup(path)
    key = schema.keys[0] if schema.keys and schema.keys[0] else ("name",)
    ident = " ".join(f"{k}=x{n}" for n, k in enumerate(key))

    def one(header: str, disabled: str | None) -> Config:
        extra = f" disabled={disabled}" if disabled is not None else ""
        return cfg(header, f"{path}\nadd {ident}{extra}")

    a, b = one(versions[0], written[0]), one(versions[1], written[1])
    patch = make_patch(a, b)
    assert patch.ok, patch.unsupported
    result = apply(a, patch.script)
    assert not remaining_differences(result, b), patch.script
    want = defaults_for(schema, b.meta.ros_version).get("disabled", "no")
    assert (written[1] or want) == (collect(b)[path].items[0].props.get("disabled") or "no")


@pytest.mark.skipif(SIM_ERROR is not None, reason=SIM_ERROR or "")
def test_the_simulator_adds_them_the_way_the_version_does() -> None:
    from tikguard.sim.clock import SimClock
    from tikguard.sim.router import SimRouter

    async def on(version: str) -> tuple[str, str, str, str]:
        router = SimRouter(name="gw", version=version, clock=SimClock(time_scale=1000.0))

        async def run(command: str) -> str:
            return (await router.execute(command, user="admin")).strip()

        await run("/ip dhcp-client add interface=ether1")
        await run("/ip address add address=192.0.2.1/24 interface=ether1")
        enabled = await run(":put [ /ip dhcp-client find disabled=no ]")
        addresses = await run(":put [ /ip address find disabled=no ]")
        printed = await run("/ip dhcp-client print")
        return enabled, addresses, printed, await run("/ip dhcp-client export")

    enabled, addresses, printed, export = asyncio.run(on("6.49.7"))
    assert enabled == "" and addresses != ""
    assert " 0 X " in printed
    assert export.endswith("/ip dhcp-client\nadd interface=ether1")  # the default left out
    enabled, addresses, printed, export = asyncio.run(on("7.16"))
    assert enabled != "" and addresses != ""
    assert " 0 X " not in printed
    assert export.endswith("/ip dhcp-client\nadd interface=ether1")


@pytest.mark.skipif(SIM_ERROR is not None, reason=SIM_ERROR or "")
@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("add disabled=no interface=ether2", "add interface=ether2"),
        ("add interface=ether2", "add disabled=no interface=ether2"),
        ("add interface=ether2 comment=x", "add disabled=no interface=ether2 comment=y"),
    ],
)
def test_6x_patches_converge_on_the_simulator(a: str, b: str) -> None:
    outcome = asyncio.run(
        converge(cfg(V6, f"/ip dhcp-client\n{a}"), cfg(V6, f"/ip dhcp-client\n{b}"))
    )
    assert outcome.patch.ok and outcome.converged, describe(outcome)
