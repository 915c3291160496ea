"""Semantic diff on hand-written edge cases and on the corpus."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.conftest import corpus_exports

from tikguard.routeros.diff import Diff, diff, remaining_differences
from tikguard.routeros.model import Command, Config, Menu, Prop, Selector
from tikguard.routeros.parse import parse
from tikguard.routeros.risk import assess


def cfg(text: str) -> Config:
    return parse(text.strip() + "\n")


def ops(d: Diff, path: str) -> list[tuple[str, str]]:
    menu = next(m for m in d.menus if m.path == path)
    return [(item.op, item.item) for item in menu.items]


def test_identical_configs_have_no_differences() -> None:
    text = "/ip address\nadd address=10.0.0.1/24 interface=ether1\n"
    assert diff(cfg(text), cfg(text)).empty
    assert diff(cfg(text), cfg(text)).to_text() == "no differences\n"


@pytest.mark.parametrize("path", corpus_exports(), ids=lambda p: p.name)
def test_every_corpus_export_diffs_empty_against_itself(path: Path) -> None:
    config = parse(path.read_bytes().decode("utf-8", "surrogateescape"), path.name)
    assert diff(config, config).empty


def test_changed_property_shows_old_and_new() -> None:
    a = cfg("/ip dns\nset servers=1.1.1.1\n")
    b = cfg("/ip dns\nset allow-remote-requests=yes servers=9.9.9.9\n")
    d = diff(a, b)
    [item] = d.menus[0].items
    assert item.op == "changed"
    assert {(c.prop, c.old, c.new) for c in item.changes} == {
        ("servers", "1.1.1.1", "9.9.9.9"),
        ("allow-remote-requests", None, "yes"),
    }
    assert "servers: 1.1.1.1 -> 9.9.9.9" in d.to_text()


def test_property_removed_is_a_change_to_unset() -> None:
    a = cfg('/ip address\nadd address=10.0.0.1/24 comment="uplink" interface=ether1\n')
    b = cfg("/ip address\nadd address=10.0.0.1/24 interface=ether1\n")
    [item] = diff(a, b).menus[0].items
    [change] = item.changes
    assert (change.prop, change.old, change.new) == ("comment", "uplink", None)


def test_explicit_default_equals_absent() -> None:
    a = cfg("/ip firewall filter\nadd action=accept chain=input disabled=no\n")
    b = cfg("/ip firewall filter\nadd action=accept chain=input\n")
    assert diff(a, b).empty


def test_verbose_unset_marker_equals_absent() -> None:
    a = Config(
        [
            Menu(
                "/ip address",
                [
                    Command(
                        "add",
                        (
                            Prop("address", "1.1.1.1/24"),
                            Prop("interface", "e1"),
                            Prop("comment", None),
                        ),
                    )
                ],
            )
        ]
    )
    b = cfg("/ip address\nadd address=1.1.1.1/24 interface=e1\n")
    assert diff(a, b).empty


def test_default_item_addressed_by_default_name() -> None:
    a = cfg("/interface ethernet\nset [ find default-name=ether1 ] comment=wan\n")
    b = cfg("/interface ethernet\nset [ find default-name=ether1 ] comment=uplink\n")
    d = diff(a, b)
    assert ops(d, "/interface ethernet") == [("changed", "default-name=ether1")]
    assert d.menus[0].items[0].builtin


def test_default_item_missing_on_one_side_is_reset_not_removed() -> None:
    a = cfg("/interface ethernet\nset [ find default-name=ether2 ] comment=x\n")
    b = Config()
    [item] = diff(a, b).menus[0].items
    assert item.op == "changed"
    assert item.changes[0].new is None


def test_rename_of_default_interface_rewrites_references() -> None:
    a = cfg(
        """
/interface ethernet
set [ find default-name=ether1 ] name=ether1
/ip address
add address=192.0.2.1/24 interface=ether1
"""
    )
    b = cfg(
        """
/interface ethernet
set [ find default-name=ether1 ] name=wan
/ip address
add address=192.0.2.1/24 interface=wan
"""
    )
    d = diff(a, b)
    assert [m.path for m in d.menus] == ["/interface ethernet"]
    [change] = d.menus[0].items[0].changes
    assert (change.old, change.new) == ("ether1", "wan")


def test_rename_of_added_item_is_one_change() -> None:
    a = cfg("/interface list\nadd comment=mgmt name=MGMT\n")
    b = cfg("/interface list\nadd comment=mgmt name=management\n")
    [item] = diff(a, b).menus[0].items
    assert item.op == "changed"
    assert item.renamed_from == "name=MGMT"


def test_reordered_firewall_rules_are_minimal_moves() -> None:
    rules = [
        f"add action=accept chain=input comment=r{n} dst-port={n} protocol=tcp" for n in range(6)
    ]
    a = cfg("/ip firewall filter\n" + "\n".join(rules))
    moved = [rules[5], *rules[:5]]
    d = diff(a, cfg("/ip firewall filter\n" + "\n".join(moved)))
    items = d.menus[0].items
    assert [(i.op, i.old_position, i.new_position) for i in items] == [("moved", 5, 0)]
    assert d.summary()["moved"] == 1


def test_changed_firewall_rule_is_paired_not_removed_and_added() -> None:
    a = cfg(
        """
/ip firewall filter
add action=accept chain=input comment=ssh dst-port=22 protocol=tcp
add action=drop chain=input
"""
    )
    b = cfg(
        """
/ip firewall filter
add action=accept chain=input comment=ssh dst-port=2222 protocol=tcp
add action=drop chain=input
"""
    )
    [item] = diff(a, b).menus[0].items
    assert item.op == "changed" and item.keyless
    assert [(c.prop, c.old, c.new) for c in item.changes] == [("dst-port", "22", "2222")]


def test_duplicate_rules_are_told_apart() -> None:
    a = cfg("/ip firewall filter\nadd action=drop chain=input\nadd action=drop chain=input\n")
    b = cfg("/ip firewall filter\nadd action=drop chain=input\n")
    [item] = diff(a, b).menus[0].items
    assert item.op == "removed"


def test_bridge_and_ports() -> None:
    a = cfg(
        "/interface bridge\nadd name=br1\n/interface bridge port\nadd bridge=br1 interface=ether2\n"
    )
    b = cfg("/interface bridge\nadd name=br1\n")
    [(op, item)] = ops(diff(a, b), "/interface bridge port")
    assert op == "removed" and "interface=ether2" in item


def test_odd_characters_in_names_and_comments_are_quoted_in_text() -> None:
    name = 'we"ird $x [y]; z\nnext ü'
    a = Config([Menu("/interface list", [Command("add", (Prop("name", "a"),))])])
    b = Config([Menu("/interface list", [Command("add", (Prop("name", name),))])])
    text = diff(a, b).to_text()
    assert '"we\\"ird \\$x [y]; z\\nnext \\C3\\BC"' in text
    assert "\nnext" not in text


def test_json_is_stable_and_documented_shape() -> None:
    a = cfg("/ip firewall filter\nadd action=drop chain=input comment=a protocol=tcp\n")
    b = cfg("/ip firewall filter\nadd action=drop chain=input comment=a protocol=udp\n")
    doc = diff(a, b).to_json()
    assert doc["schema"] == "tikguard.diff/1"
    assert doc["summary"] == {"added": 0, "removed": 0, "changed": 1, "moved": 0}
    [menu] = doc["menus"]  # type: ignore[misc]
    [item] = menu["items"]
    assert item["changes"] == [{"prop": "protocol", "old": "tcp", "new": "udp", "default": None}]
    assert item["props"] == {"action": "drop", "chain": "input", "comment": "a", "protocol": "udp"}
    assert json.loads(json.dumps(doc)) == doc


def test_unmodelled_commands_are_listed() -> None:
    a = Config([Menu("/system script", [Command("run", selector=Selector(ref="x"))])])
    d = diff(a, Config())
    assert d.menus[0].commands_removed == ["run x"]


def test_rules_show_the_properties_as_written() -> None:
    a = cfg("/ip firewall filter\nadd action=accept chain=input\n")
    text = diff(Config(), a).to_text()
    assert "+ [#0] action=accept chain=input" in text


def test_flag_words_compare_and_render() -> None:
    a = cfg("/routing ospf interface-template\nadd area=a interfaces=lo\n")
    b = cfg("/routing ospf interface-template\nadd area=a interfaces=lo passive\n")
    d = diff(a, b)
    assert "passive" in d.to_text()
    assert not d.empty


# -- risk tags ---------------------------------------------------------------------


def tags(a: str, b: str) -> dict[str, tuple[str, ...]]:
    return {r.tag: r.items for r in assess(cfg(a), cfg(b))}


def test_risk_address_and_interface_disable() -> None:
    found = tags(
        "/ip address\nadd address=10.0.0.1/24 interface=ether1\n",
        "/interface ethernet\nset [ find default-name=ether1 ] disabled=yes\n",
    )
    assert set(found) == {"address", "interface"}
    assert found["address"] == ("/ip address removed address=10.0.0.1/24 interface=ether1",)


def test_risk_firewall_input_but_not_forward() -> None:
    base = "/ip firewall filter\nadd action=accept chain=forward\n"
    assert tags(base, base + "add action=drop chain=forward\n") == {}
    found = tags(base, base + "add action=drop chain=input\n")
    assert list(found) == ["firewall-input"]


def test_risk_interface_list_used_by_input_rule() -> None:
    a = """
/interface list
add name=LAN
/interface list member
add interface=ether2 list=LAN
/ip firewall filter
add action=drop chain=input in-interface-list=!LAN
"""
    b = a.replace("add interface=ether2 list=LAN", "add interface=ether3 list=LAN")
    assert "interface-list" in tags(a, b)


def test_risk_address_list_used_by_input_rule() -> None:
    a = """
/ip firewall address-list
add address=192.0.2.0/24 list=admins
/ip firewall filter
add action=accept chain=input src-address-list=admins
"""
    b = a.replace("192.0.2.0/24", "198.51.100.0/24")
    assert list(tags(a, b)) == ["firewall-input"]


def test_risk_services_users_ssh_routes() -> None:
    found = tags(
        "",
        """
/ip service
set ssh port=2222
/ip ssh
set strong-crypto=yes
/user
add group=full name=bob
/ip route
add gateway=192.0.2.254
""",
    )
    assert set(found) == {"service", "ssh", "users", "routes"}


def test_removing_one_of_equal_rules_is_not_a_move() -> None:
    x = "add action=drop chain=forward protocol=tcp"
    y = "add action=accept chain=forward comment=y"
    a = cfg("/ip firewall filter\n" + "\n".join([x, y, x, y, x]))
    b = cfg("/ip firewall filter\n" + "\n".join([y, x, y, x]))
    d = diff(a, b)
    assert [item.op for item in d.menus[0].items] == ["removed"]
    assert d.summary()["moved"] == 0


def test_secret_values_are_hidden_even_in_unredacted_input() -> None:
    a = cfg(
        "/ppp secret\nadd name=alice password=hunter2\n/ip ipsec identity\nadd peer=p secret=s3"
    )
    b = cfg(
        "/ppp secret\nadd name=alice password=correct\n/ip ipsec identity\nadd peer=p secret=s4"
    )
    d = diff(a, b)
    text = d.to_text() + json.dumps(d.to_json())
    for secret in ("hunter2", "correct", "s3", "s4"):
        assert secret not in text
    assert "password: (hidden) -> (hidden)" in text


def test_redacted_placeholders_are_shown() -> None:
    a = cfg("/ppp secret\nadd name=alice password=tikguard-secret:abc\n")
    b = cfg("/ppp secret\nadd name=alice password=tikguard-secret:def\n")
    assert "password: tikguard-secret:abc -> tikguard-secret:def" in diff(a, b).to_text()


def test_risk_mac_winbox_list_and_routing_protocols() -> None:
    a = """
/interface list
add name=MGMT
/interface list member
add interface=ether5 list=MGMT
/tool mac-server mac-winbox
set allowed-interface-list=MGMT
"""
    b = a.replace("ether5", "ether6") + "/routing ospf instance\nadd name=v2\n"
    assert {"interface-list", "routes"} <= set(tags(a, b))


def test_remaining_differences_ignores_console_commands() -> None:
    target = Config(
        [
            Menu("", [Command(":delay", args=("5",))]),
            Menu("/ip dns", [Command("set", (Prop("servers", "1.1.1.1"),))]),
        ]
    )
    running = cfg("/ip dns\nset servers=1.1.1.1\n")
    assert remaining_differences(running, target) == []
    assert remaining_differences(Config(), target) == ["/ip dns changed (settings) (servers)"]


def test_rule_edited_while_others_moved_is_one_change() -> None:
    a = cfg(
        """
/ip firewall filter
add action=accept chain=input connection-state=established,related
add action=accept chain=input comment=ssh dst-port=22 protocol=tcp
add action=accept chain=input protocol=icmp
add action=drop chain=input
"""
    )
    b = cfg(
        """
/ip firewall filter
add action=accept chain=input protocol=icmp
add action=accept chain=input connection-state=established,related
add action=accept chain=input comment=ssh dst-port=2222 protocol=tcp
add action=drop chain=input
"""
    )
    d = diff(a, b)
    assert [(i.op, i.old_position, i.new_position) for i in d.menus[0].items] == [
        ("moved", 2, 0),
        ("changed", 1, 2),
    ]
    assert d.summary() == {"added": 0, "removed": 0, "changed": 1, "moved": 1}


def test_rules_far_apart_without_a_shared_comment_are_not_paired() -> None:
    x, d = "add action=accept chain=input protocol=tcp", "add action=drop chain=forward"
    x2 = x.replace("tcp", "udp")
    diff_ = diff(cfg(f"/ip firewall filter\n{x}\n{d}\n"), cfg(f"/ip firewall filter\n{d}\n{x2}\n"))
    assert sorted(i.op for i in diff_.menus[0].items) == ["added", "removed"]
