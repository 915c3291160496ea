"""Item identity: the one definition diff, patch and convergence checks share."""

from __future__ import annotations

from tikguard.routeros.items import FLAG, Key, collect, depends, rewrite_refs
from tikguard.routeros.parse import parse


def items(text: str, path: str) -> list[tuple[Key, dict[str, str]]]:
    menu = collect(parse(text.strip() + "\n"))[path]
    return [(item.key, item.props) for item in menu.items]


def test_natural_key_default_item_singleton_and_content() -> None:
    text = """
/interface ethernet
set [ find default-name=ether1 ] name=wan
/ip address
add address=192.0.2.1/24 interface=wan
/ip dns
set servers=1.1.1.1
/ip firewall filter
add action=drop chain=input
add action=drop chain=input
"""
    assert items(text, "/interface ethernet")[0][0] == Key("default", (("default-name", "ether1"),))
    assert items(text, "/ip address")[0][0] == Key(
        "natural", (("address", "192.0.2.1/24"), ("interface", "wan"))
    )
    assert items(text, "/ip dns")[0][0] == Key("singleton")
    rules = items(text, "/ip firewall filter")
    assert [k.occurrence for k, _ in rules] == [0, 1]
    assert rules[0][0].kind == "content" and rules[0][0].parts == rules[1][0].parts


def test_set_after_add_merges_into_the_added_item() -> None:
    text = """
/interface bridge
add name=br1
/interface bridge
set [ find name=br1 ] comment=lan
"""
    [(key, props)] = items(text, "/interface bridge")
    assert key == Key("natural", (("name", "br1"),))
    assert props["comment"] == "lan"


def test_disable_verb_and_bare_reference() -> None:
    text = "/ip service\nset telnet disabled=yes\nset ssh port=2222\n"
    keys = [k for k, _ in items(text, "/ip service")]
    assert keys == [Key("default", (("name", "telnet"),)), Key("default", (("name", "ssh"),))]


def test_flags_defaults_and_unset_markers() -> None:
    text = "/routing ospf interface-template\nadd area=a disabled=no interfaces=lo passive\n"
    [(_, props)] = items(text, "/routing ospf interface-template")
    assert props == {"area": "a", "interfaces": "lo", "passive": FLAG}


def test_rewrite_refs_follows_renames_in_lists_and_negations() -> None:
    props = {
        "name": "LAN",
        "in-interface-list": "!LAN",
        "interfaces": "ether1,LAN",
        "comment": "LAN",
    }
    assert rewrite_refs(props, {"LAN": "lan"}) == {
        "name": "LAN",
        "in-interface-list": "!lan",
        "interfaces": "ether1,lan",
        "comment": "LAN",
    }


def test_depends_covers_sub_menus_and_not_itself() -> None:
    assert depends("/ip address", "/interface bridge")
    assert not depends("/interface bridge", "/interface bridge")
    assert not depends("/ip dns", "/interface bridge")
