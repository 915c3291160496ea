"""Risk tags: does a change touch how the controller reaches the router?

A change that removes the management address, disables the uplink, closes the SSH
service or adds a drop rule to the input chain is the change that locks an engineer
out of a router two hours' drive away. The push preview shows these tags, each with
the items that raised it, so the operator looks twice (and the dead-man switch is
armed regardless).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final, TypedDict

from tikguard.routeros.diff import Diff, ItemDiff, diff
from tikguard.routeros.items import collect, prop_text
from tikguard.routeros.model import Command, Config, ExportMeta, Menu
from tikguard.routeros.secrets import redact_text
from tikguard.routeros.serialise import serialise


class RiskJson(TypedDict):
    """A :class:`RiskTag` as JSON (a plan's recorded ``risk``, the API's)."""

    tag: str
    title: str
    items: list[str]


@dataclass(frozen=True, slots=True)
class RiskTag:
    """One kind of management-access risk and the changed items that raised it."""

    tag: str
    title: str
    items: tuple[str, ...]

    def as_json(self) -> RiskJson:
        return RiskJson(tag=self.tag, title=self.title, items=list(self.items))


TITLES: Final = MappingProxyType(
    {
        "runs-commands": (
            "UNANALYSED, MAY LOCK OUT: runs commands the preview cannot see into "
            "(:execute, :parse, script run, import, reset, reboot)"
        ),
        "unanalysed": "UNANALYSED, MAY LOCK OUT: lines the preview cannot analyse",
        "address": "IP addresses (the management address may move or vanish)",
        "interface": "interfaces disabled, renamed or removed",
        "bridge-vlan": "bridge ports, bridge VLANs and VLAN interfaces",
        "interface-list": "interface list membership used by firewall rules",
        "firewall-input": "firewall rules that filter traffic to the router",
        "service": "IP services (ssh, api, winbox ports and allowed addresses)",
        "ssh": "SSH server settings",
        "users": "users, user groups and how logins are checked (RADIUS)",
        "routes": "routes, routing tables, VRFs and routing protocols",
    }
)

_ADDRESS_MENUS: Final = ("/ip address", "/ipv6 address", "/ip dhcp-client", "/ipv6 dhcp-client")
_BRIDGE_MENUS: Final = (
    "/interface bridge port",
    "/interface bridge vlan",
    "/interface vlan",
    "/interface bridge",
)
_ROUTE_MENUS: Final = ("/ip route", "/ipv6 route", "/ip vrf")
_USER_MENUS: Final = (
    "/user",
    "/user group",
    "/user ssh-keys",
    "/user settings",
    "/user aaa",
    "/radius",
)
#: Menus whose interface-list references decide who may manage the router.
_MGMT_LIST_MENUS: Final = (
    "/tool mac-server",
    "/tool mac-server mac-winbox",
    "/ip neighbor discovery-settings",
)
_FILTER_MENUS: Final = ("/ip firewall filter", "/ipv6 firewall filter")
_RAW_MENUS: Final = ("/ip firewall raw", "/ipv6 firewall raw")
_NOT_INPUT: Final = frozenset({"forward", "output"})
_LIST_REFS: Final = ("in-interface-list", "out-interface-list")
_ADDRESS_LIST_REFS: Final = ("src-address-list", "dst-address-list")


def assess(old: Config, new: Config, change: Diff | None = None) -> list[RiskTag]:
    """The risk tags of changing ``old`` into ``new`` (``change``: their diff, if known)."""
    change = change if change is not None else diff(old, new)
    firewall_lists, address_lists = _referenced_lists(old, new)
    found: dict[str, list[str]] = {}
    for menu in change.menus:
        for item in menu.items:
            for tag in _tags(menu.path, item, firewall_lists, address_lists):
                found.setdefault(tag, []).append(f"{menu.path} {_label(item)}")
    return [RiskTag(tag, TITLES[tag], tuple(found[tag])) for tag in TITLES if tag in found]


#: Script text that runs other commands (or restarts the router): the preview cannot
#: know what they do.
_RUNS: Final = re.compile(
    r"(?i)(?::execute|:parse|/import\b|^\s*import\s|\bscript[\s/]+run\b|^\s*run\s"
    r"|reset-configuration|backup[\s/]+load|\b(?:reboot|shutdown)\b|\[\s*/)"
)


def assess_script(snippet: Config, skipped: Iterable[str], text: str) -> list[RiskTag]:
    """Risk tags a merge script (``text``, parsed as ``snippet`` with ``skipped`` lines
    left out) raises by itself, whatever the diff shows.

    The diff of a merge only sees what the planner can apply to its copy of the config;
    ``/user remove admin`` (users are never exported) or ``:execute "..."`` change
    nothing there. So every command but ``add`` (which the diff shows in full) on a
    management menu is tagged by its menu, every line that runs other commands is
    ``runs-commands``, and every other line the parser left out is ``unanalysed``.
    Items are shown redacted.
    """
    found: dict[str, list[str]] = {}
    for line in text.splitlines():
        if _RUNS.search(line):
            found.setdefault("runs-commands", []).append(redact_text(line.strip()))
    for menu in snippet.menus:
        for command in menu.commands:
            if command.verb == "add" or command.verb.startswith(":"):
                continue
            for tag in _path_tags(menu.path, command.verb):
                found.setdefault(tag, []).append(_command_text(menu.path, command))
    for line in skipped:
        if not _RUNS.search(line):
            found.setdefault("unanalysed", []).append(redact_text(line.strip()))
    return [RiskTag(tag, TITLES[tag], tuple(found[tag])) for tag in TITLES if tag in found]


def merge_tags(*groups: Iterable[RiskTag]) -> list[RiskTag]:
    """Risk tags of several assessments, one per tag (items in order, no repeats)."""
    found: dict[str, list[str]] = {}
    for group in groups:
        for tag in group:
            items = found.setdefault(tag.tag, [])
            items += [i for i in tag.items if i not in items]
    return [RiskTag(tag, TITLES[tag], tuple(found[tag])) for tag in TITLES if tag in found]


def _command_text(path: str, command: Command) -> str:
    config = Config(menus=[Menu(path, [command])], meta=ExportMeta())
    lines = serialise(config, include_header=False, width=None).splitlines()
    return redact_text(f"{path} {lines[-1].strip()}" if lines else path)


def _path_tags(path: str, verb: str) -> Iterable[str]:
    """Tags a command raises by its menu alone (the conservative reading of a script)."""
    yield from _menu_tags(path)
    if path.startswith("/interface") and verb in ("remove", "disable", "set"):
        yield "interface"
    if path in (*_FILTER_MENUS, *_RAW_MENUS) or path.endswith("firewall address-list"):
        yield "firewall-input"
    if path in _MGMT_LIST_MENUS or path.startswith("/interface list"):
        yield "interface-list"


def _menu_tags(path: str) -> Iterable[str]:
    """Tags every change in the menu raises, whatever it changes."""
    if path in _ADDRESS_MENUS:
        yield "address"
    if path in ("/ip service", "/ip service webserver"):
        yield "service"
    if path == "/ip ssh":
        yield "ssh"
    if path in _USER_MENUS:
        yield "users"
    if path in _ROUTE_MENUS or path.startswith("/routing "):
        yield "routes"
    if path in _BRIDGE_MENUS or path.startswith("/interface ethernet switch"):
        yield "bridge-vlan"


def _tags(
    path: str, item: ItemDiff, firewall_lists: set[str], address_lists: set[str]
) -> Iterable[str]:
    yield from _menu_tags(path)
    if path.startswith("/interface") and _touches_interface(path, item):
        yield "interface"
    if path == "/interface list member" and _values(item, "list") & firewall_lists:
        yield "interface-list"
    if path == "/interface list" and _values(item, "name") & firewall_lists:
        yield "interface-list"
    if path in _FILTER_MENUS and _values(item, "chain") - _NOT_INPUT:
        yield "firewall-input"
    if path in _RAW_MENUS and "prerouting" in _values(item, "chain"):
        yield "firewall-input"
    if path.endswith("firewall address-list") and _values(item, "list") & address_lists:
        yield "firewall-input"


def _touches_interface(path: str, item: ItemDiff) -> bool:
    """An interface removed, disabled or renamed (not a list, port or member menu)."""
    if path in ("/interface list", "/interface list member", "/interface bridge port"):
        return False
    if item.op == "removed":
        return True
    for change in item.changes:
        if change.prop == "name":
            return True
        if change.prop == "disabled" and change.new == "yes":
            return True
    return False


def _values(item: ItemDiff, prop: str) -> set[str]:
    """Every value ``prop`` has on either side of the change."""
    values = {v for k, v in item.props if k == prop}
    for change in item.changes:
        if change.prop == prop:
            values |= {v for v in (change.old, change.new) if v is not None}
    return values


def _referenced_lists(*configs: Config) -> tuple[set[str], set[str]]:
    """Interface lists and address lists that decide who reaches the router: those input
    and prerouting rules refer to, and those MAC-Winbox / MAC-telnet access allows."""
    interface_lists: set[str] = set()
    address_lists: set[str] = set()
    for config in configs:
        menus = collect(config)
        for path in _MGMT_LIST_MENUS:
            for item in menus[path].items if path in menus else []:
                allowed = item.props.get("allowed-interface-list")
                if allowed:
                    interface_lists.add(allowed.lstrip("!"))
        for path in (*_FILTER_MENUS, *_RAW_MENUS):
            menu = menus.get(path)
            if menu is None:
                continue
            for rule in menu.items:
                chain = rule.props.get("chain", "")
                if path in _RAW_MENUS and chain != "prerouting":
                    continue
                if chain in _NOT_INPUT:
                    continue
                for key in _LIST_REFS:
                    if key in rule.props:
                        interface_lists.add(rule.props[key].lstrip("!"))
                for key in _ADDRESS_LIST_REFS:
                    if key in rule.props:
                        address_lists.add(rule.props[key].lstrip("!"))
    return interface_lists, address_lists


def _label(item: ItemDiff) -> str:
    where = f"[#{item.new_position if item.new_position is not None else item.old_position}] "
    if item.new_position is None and item.old_position is None:
        where = ""
    text = " ".join(prop_text(k, v) for k, v in item.props) if item.keyless else item.item
    return f"{item.op} {where}{text}"
