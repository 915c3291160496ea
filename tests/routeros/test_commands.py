"""RouterOS's command tree: every command line the corpus transcripts show users typing
resolves to the menu, command and arguments RouterOS ran, and the packaged tree is what
``scripts/command_tree.py`` builds from the corpus."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from tests.conftest import CORPUS

from tikguard.routeros.commands import Ambiguous, Unknown, command_tree

ROOT = Path(__file__).resolve().parents[2]

T = "transcripts/"
OX = T + "oxidized/routeros__CHR_7.16__simulation.yaml"
NTC = T + "ntc-templates/"
ANS = T + "ansible-community-routeros/facts__"

#: (transcript, the line as typed, (menu, command, argument names it resolves to)).
TYPED: list[tuple[str, str, tuple[str, str | None, tuple[str, ...]]]] = [
    (OX, "/system resource print", ("/system resource", "print", ())),
    (OX, "/system package update print", ("/system package update", "print", ())),
    (
        OX,
        "/system history print without-paging",
        ("/system history", "print", ("without-paging",)),
    ),
    (OX, "/export show-sensitive", ("", "export", ("show-sensitive",))),
    (OX, "quit", ("", "quit", ())),
    (
        T + "cli-captures/ros6.46.6_rb2011_R1_prompt-export-compact.txt",
        "export compact",
        ("", "export", ("compact",)),
    ),
    (
        T + "ansible-community-routeros/system_package_print.txt",
        "/system identity print",
        ("/system identity", "print", ()),
    ),
    (
        T + "ansible-community-routeros/system_package_print.txt",
        "/system routerboard print",
        ("/system routerboard", "print", ()),
    ),
    (
        ANS + "interface_print_detail_without-paging.txt",
        "/interface print detail without-paging",
        ("/interface", "print", ("detail", "without-paging")),
    ),
    (
        ANS + "ip_route_print_detail_without-paging.txt",
        "/ip route print detail without-paging",
        ("/ip route", "print", ("detail", "without-paging")),
    ),
    (
        ANS + "routing_ospf_instance_print_detail_without-paging.txt",
        "/routing ospf instance print detail without-paging",
        ("/routing ospf instance", "print", ("detail", "without-paging")),
    ),
    (
        ANS + "routing_bgp_peer_print_detail_without-paging.txt",
        "/routing bgp peer print detail without-paging",
        ("/routing bgp peer", "print", ("detail", "without-paging")),
    ),
    (
        ANS + "routing_bgp_vpnv4-route_print_detail_without-paging.txt",
        "/routing bgp vpnv4-route print detail without-paging",
        ("/routing bgp vpnv4-route", "print", ("detail", "without-paging")),
    ),
    (
        NTC + "interface_bridge_host_print_terse_without-paging",
        "/interface bridge host print terse without-paging",
        ("/interface bridge host", "print", ("terse", "without-paging")),
    ),
    (
        NTC + "interface_ethernet_monitor_name_once",
        "/interface ethernet monitor ether1 once",
        ("/interface ethernet", "monitor", ("once",)),
    ),
    (
        NTC + "interface_wireguard_peers_print_terse_without-paging",
        "/interface wireguard peers print terse without-paging",
        ("/interface wireguard peers", "print", ("terse", "without-paging")),
    ),
    (
        NTC + "ip_address_export_verbose",
        "/ip address export verbose",
        ("/ip address", "export", ("verbose",)),
    ),
    (
        NTC + "ip_dhcp-server_lease_print_terse_without-paging",
        "/ip dhcp-server lease print terse without-paging",
        ("/ip dhcp-server lease", "print", ("terse", "without-paging")),
    ),
    (
        NTC + "ip_firewall_address-list_print_terse",
        "/ip firewall address-list print terse",
        ("/ip firewall address-list", "print", ("terse",)),
    ),
    (
        NTC + "ip_hotspot_ip-binding_print_terse_without-paging",
        "/ip hotspot ip-binding print terse without-paging",
        ("/ip hotspot ip-binding", "print", ("terse", "without-paging")),
    ),
    (
        NTC + "ipv6_neighbor_print_without-paging",
        "/ipv6 neighbor print",
        ("/ipv6 neighbor", "print", ()),
    ),
    (NTC + "log_print_detail_without-paging", "/log print detail", ("/log", "print", ("detail",))),
    (NTC + "ping", "/ping 8.8.8.8", ("", "ping", ())),
    (
        NTC + "routing_ospf_neighbor_print",
        "/routing ospf neighbor print",
        ("/routing ospf neighbor", "print", ()),
    ),
    (
        NTC + "snmp_community_print_without-paging",
        "/snmp community print",
        ("/snmp community", "print", ()),
    ),
    (NTC + "tool_profile", "/tool profile", ("/tool", "profile", ())),
    (
        NTC + "tool_speed-test_address",
        "/tool speed-test address=192.168.88.1",
        ("/tool", "speed-test", ("address",)),
    ),
    (NTC + "user_active_print", "/user active print", ("/user active", "print", ())),
    # ``bad command name po (line 1 column 7)``: RouterOS read ``po`` as a name of the
    # ``/interface ethernet`` level (that board has no PoE); where PoE exists it is ``poe``.
    (
        NTC + "interface_ethernet_poe_print_without-paging",
        "/interface ethernet po print",
        ("/interface ethernet poe", "print", ()),
    ),
]


@pytest.mark.parametrize(("source", "line", "expected"), TYPED, ids=[t[1] for t in TYPED])
def test_every_command_line_in_the_transcripts_resolves(
    source: str, line: str, expected: tuple[str, str | None, tuple[str, ...]]
) -> None:
    if not (CORPUS / source.rstrip("/")).exists():
        pytest.skip(f"corpus file {source} not found")
    assert command_tree().resolve_line(line) == expected


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("/ip addr pr", ("/ip address", "print", ())),
        ("/int pr", ("/interface", "print", ())),
        (
            "/ip address add addr=10.0.0.1/24 int=ether1",
            ("/ip address", "add", ("address", "interface")),
        ),
        ("/import file=x.rsc", ("", "import", ("file-name",))),
        (
            "/sys sch add name=a start-t=startup on-e=x",
            ("/system scheduler", "add", ("name", "start-time", "on-event")),
        ),
    ],
)
def test_abbreviations_resolve(line: str, expected: tuple[str, str, tuple[str, ...]]) -> None:
    assert command_tree().resolve_line(line) == expected


def test_unknown_and_ambiguous_names() -> None:
    tree = command_tree()
    with pytest.raises(Unknown):
        tree.resolve_line("/ip xyzzy print")
    with pytest.raises(Ambiguous) as caught:
        tree.resolve_line("/ip d print")
    assert caught.value.candidates == ("dhcp-client", "dhcp-relay", "dhcp-server", "dns")
    with pytest.raises(Unknown):
        tree.resolve_line("/ip address add colour=red")


def test_the_packaged_tree_is_what_the_script_builds_from_the_corpus() -> None:
    if not (CORPUS / "grammar").is_dir():
        pytest.skip("corpus grammar not found")
    spec = importlib.util.spec_from_file_location("command_tree", ROOT / "scripts/command_tree.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    packaged = (ROOT / "src/tikguard/routeros/data/commands.json.gz").read_bytes()
    assert module.build(CORPUS) == packaged
