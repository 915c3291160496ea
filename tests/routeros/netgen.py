"""Hypothesis strategies for small, consistent RouterOS configurations and edits of them.

A configuration is generated as an abstract network (interfaces by id, bridges, lists,
addresses, firewall rules that refer to lists and interfaces by id) and rendered to a
:class:`Config` with the names current at render time, so a rename keeps every
reference consistent the way RouterOS shows it after ``set name=``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

from hypothesis import strategies as st

from tikguard.routeros.model import Command, Config, Menu, Prop, Selector

#: Text that exercises quoting: quotes, backslash, $, [, ;, newline, tab, non-ASCII.
ODD = st.text(alphabet=st.sampled_from(list('ab Z9-_."\\$[];{}?\n\tüЖ')), min_size=1, max_size=8)
NAME = st.one_of(st.sampled_from(["wan", "lan", "mgmt", "uplink", "trunk"]), ODD)
COMMENT = st.one_of(st.sampled_from(["ssh", "web", "drop all", "defconf"]), ODD)
ETHERS = ("ether1", "ether2", "ether3", "ether4")


@dataclass
class Rule:
    chain: str
    action: str
    protocol: str | None = None
    port: str | None = None
    comment: str | None = None
    src_list: str | None = None  # address-list name
    in_list: int | None = None  # interface list id
    disabled: bool = False


@dataclass
class Net:
    eth_name: dict[str, str | None] = field(default_factory=dict)
    eth_comment: dict[str, str | None] = field(default_factory=dict)
    bridges: dict[int, str] = field(default_factory=dict)  # id -> name
    ports: dict[str, int] = field(default_factory=dict)  # ether -> bridge id
    lists: dict[int, str] = field(default_factory=dict)  # id -> name
    members: set[tuple[int, str]] = field(default_factory=set)  # (list id, ether)
    addresses: dict[str, str] = field(default_factory=dict)  # address -> ether
    address_list: set[tuple[str, str]] = field(default_factory=set)  # (list, address)
    rules: list[Rule] = field(default_factory=list)
    dns: dict[str, str] = field(default_factory=dict)
    identity: str | None = None

    def ifname(self, ether: str) -> str:
        return self.eth_name.get(ether) or ether

    def render(self) -> Config:
        menus: list[Menu] = []

        def menu(path: str, commands: list[Command]) -> None:
            if commands:
                menus.append(Menu(path, commands))

        menu(
            "/interface bridge",
            [Command("add", (Prop("name", n),)) for _, n in sorted(self.bridges.items())],
        )
        eth = []
        for ether in ETHERS:
            props = []
            if self.eth_comment.get(ether) is not None:
                props.append(Prop("comment", self.eth_comment[ether] or ""))
            if self.eth_name.get(ether):
                props.append(Prop("name", self.eth_name[ether] or ""))
            if props:
                sel = Selector(find=(Prop("default-name", ether),))
                eth.append(Command("set", tuple(props), sel))
        menu("/interface ethernet", eth)
        menu(
            "/interface list",
            [Command("add", (Prop("name", n),)) for _, n in sorted(self.lists.items())],
        )
        menu(
            "/interface bridge port",
            [
                Command("add", (Prop("bridge", self.bridges[b]), Prop("interface", self.ifname(e))))
                for e, b in sorted(self.ports.items())
            ],
        )
        menu(
            "/interface list member",
            [
                Command("add", (Prop("interface", self.ifname(e)), Prop("list", self.lists[lid])))
                for lid, e in sorted(self.members)
            ],
        )
        menu(
            "/ip address",
            [
                Command("add", (Prop("address", a), Prop("interface", self.ifname(e))))
                for a, e in sorted(self.addresses.items())
            ],
        )
        menu(
            "/ip firewall address-list",
            [
                Command("add", (Prop("address", a), Prop("list", n)))
                for n, a in sorted(self.address_list)
            ],
        )
        menu("/ip firewall filter", [self._rule(r) for r in self.rules])
        if self.dns:
            menu(
                "/ip dns", [Command("set", tuple(Prop(k, v) for k, v in sorted(self.dns.items())))]
            )
        if self.identity is not None:
            menu("/system identity", [Command("set", (Prop("name", self.identity),))])
        return Config(menus)

    def _rule(self, rule: Rule) -> Command:
        props = [Prop("action", rule.action), Prop("chain", rule.chain)]
        if rule.comment is not None:
            props.append(Prop("comment", rule.comment))
        if rule.disabled:
            props.append(Prop("disabled", "yes"))
        if rule.port is not None:
            props.append(Prop("dst-port", rule.port))
        if rule.in_list is not None and rule.in_list in self.lists:
            props.append(Prop("in-interface-list", self.lists[rule.in_list]))
        if rule.protocol is not None:
            props.append(Prop("protocol", rule.protocol))
        if rule.src_list is not None:
            props.append(Prop("src-address-list", rule.src_list))
        return Command("add", tuple(props))


ADDRESSES = [f"10.0.{n}.1/24" for n in range(6)]
LIST_NAMES = ["admins", "blocked", "monitoring"]


@st.composite
def rules(draw: st.DrawFn) -> Rule:
    return Rule(
        chain=draw(st.sampled_from(["input", "forward"])),
        action=draw(st.sampled_from(["accept", "drop", "reject"])),
        protocol=draw(st.sampled_from([None, "tcp", "udp"])),
        port=draw(st.sampled_from([None, "22", "80", "443,8443"])),
        comment=draw(st.one_of(st.none(), COMMENT)),
        src_list=draw(st.sampled_from([None, *LIST_NAMES])),
        in_list=draw(st.sampled_from([None, 0, 1])),
        disabled=draw(st.booleans()),
    )


def _unique_names(draw: st.DrawFn, count: int, taken: set[str]) -> list[str]:
    names = draw(
        st.lists(
            NAME.filter(lambda n: n not in taken and n not in ETHERS),
            min_size=count,
            max_size=count,
            unique=True,
        )
    )
    taken.update(names)
    return names


@st.composite
def nets(draw: st.DrawFn) -> Net:
    net = Net()
    taken: set[str] = set()
    for ether in ETHERS:
        if draw(st.booleans()):
            net.eth_comment[ether] = draw(COMMENT)
    renamed = draw(st.lists(st.sampled_from(ETHERS), unique=True, max_size=2))
    for ether, name in zip(renamed, _unique_names(draw, len(renamed), taken), strict=True):
        net.eth_name[ether] = name
    for n, name in enumerate(_unique_names(draw, draw(st.integers(0, 2)), taken)):
        net.bridges[n] = name
    for n, name in enumerate(_unique_names(draw, draw(st.integers(0, 2)), taken)):
        net.lists[n] = name
    if net.bridges:
        for ether in draw(st.lists(st.sampled_from(ETHERS[1:]), unique=True)):
            net.ports[ether] = draw(st.sampled_from(sorted(net.bridges)))
    if net.lists:
        for ether in draw(st.lists(st.sampled_from(ETHERS), unique=True, max_size=3)):
            net.members.add((draw(st.sampled_from(sorted(net.lists))), ether))
    for address in draw(st.lists(st.sampled_from(ADDRESSES), unique=True, max_size=3)):
        net.addresses[address] = draw(st.sampled_from(ETHERS))
    for address in draw(st.lists(st.sampled_from(ADDRESSES), unique=True, max_size=3)):
        net.address_list.add((draw(st.sampled_from(LIST_NAMES)), address))
    net.rules = draw(st.lists(rules(), max_size=10))
    if draw(st.booleans()):
        net.dns["servers"] = draw(st.sampled_from(["1.1.1.1", "9.9.9.9,1.1.1.1"]))
    if draw(st.booleans()):
        net.dns["allow-remote-requests"] = "yes"
    if draw(st.booleans()):
        net.identity = draw(NAME)
    return net


@st.composite
def edits(draw: st.DrawFn, net: Net) -> Net:
    """``net`` after a handful of random edits an engineer might make."""
    new = copy.deepcopy(net)
    taken = (
        {n for n in new.eth_name.values() if n}
        | set(new.bridges.values())
        | set(new.lists.values())
    )
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(
            st.sampled_from(
                [
                    "add-rule",
                    "remove-rule",
                    "change-rule",
                    "move-rule",
                    "rename-ether",
                    "unname-ether",
                    "comment-ether",
                    "rename-bridge",
                    "rename-list",
                    "port",
                    "address",
                    "address-list",
                    "dns",
                    "identity",
                ]
            )
        )
        if kind == "add-rule":
            new.rules.insert(draw(st.integers(0, len(new.rules))), draw(rules()))
        elif kind == "remove-rule" and new.rules:
            new.rules.pop(draw(st.integers(0, len(new.rules) - 1)))
        elif kind == "change-rule" and new.rules:
            at = draw(st.integers(0, len(new.rules) - 1))
            field_name = draw(
                st.sampled_from(["action", "port", "comment", "disabled", "src_list"])
            )
            replacement = draw(rules())
            setattr(new.rules[at], field_name, getattr(replacement, field_name))
        elif kind == "move-rule" and len(new.rules) > 1:
            rule = new.rules.pop(draw(st.integers(0, len(new.rules) - 1)))
            new.rules.insert(draw(st.integers(0, len(new.rules))), rule)
        elif kind == "rename-ether":
            ether = draw(st.sampled_from(ETHERS))
            new.eth_name[ether] = _unique_names(draw, 1, taken)[0]
        elif kind == "unname-ether":
            named = [e for e, n in new.eth_name.items() if n]
            if named:
                new.eth_name[draw(st.sampled_from(named))] = None
        elif kind == "comment-ether":
            new.eth_comment[draw(st.sampled_from(ETHERS))] = draw(st.one_of(st.none(), COMMENT))
        elif kind == "rename-bridge" and new.bridges:
            new.bridges[draw(st.sampled_from(sorted(new.bridges)))] = _unique_names(draw, 1, taken)[
                0
            ]
        elif kind == "rename-list" and new.lists:
            new.lists[draw(st.sampled_from(sorted(new.lists)))] = _unique_names(draw, 1, taken)[0]
        elif kind == "port" and new.bridges:
            ether = draw(st.sampled_from(ETHERS[1:]))
            if ether in new.ports and draw(st.booleans()):
                del new.ports[ether]
            else:
                new.ports[ether] = draw(st.sampled_from(sorted(new.bridges)))
        elif kind == "address":
            address = draw(st.sampled_from(ADDRESSES))
            if address in new.addresses and draw(st.booleans()):
                del new.addresses[address]
            else:
                new.addresses[address] = draw(st.sampled_from(ETHERS))
        elif kind == "address-list":
            entry = (draw(st.sampled_from(LIST_NAMES)), draw(st.sampled_from(ADDRESSES)))
            new.address_list ^= {entry}
        elif kind == "dns":
            new.dns = {} if new.dns else {"servers": "8.8.8.8"}
        elif kind == "identity":
            new.identity = draw(st.one_of(st.none(), NAME))
    return new
