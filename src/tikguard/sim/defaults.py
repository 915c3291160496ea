"""Factory configurations: what a router has before anyone configures it.

Built once per (version, model, interface set) and shared, never mutated, by every
router of that kind (see :mod:`tikguard.sim.configdb`). Built-in items carry the
reference RouterOS exports use for them (``set [ find default-name=ether1 ]``,
``set telnet``, ``set *FFFFFFFE``, ``set read``).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache

from tikguard.routeros import defaults as routeros_defaults
from tikguard.routeros import schema as schema_mod
from tikguard.routeros.model import Config, Selector
from tikguard.routeros.quoting import quote
from tikguard.sim.configdb import Item, MenuState
from tikguard.sim.profiles import ModelProfile, Profile

#: Every user policy a group can hold, in RouterOS's order.
POLICIES_V6 = (
    "local",
    "telnet",
    "ssh",
    "ftp",
    "reboot",
    "read",
    "write",
    "policy",
    "test",
    "winbox",
    "password",
    "web",
    "sniff",
    "sensitive",
    "api",
    "romon",
    "dude",
)
POLICIES_V7 = (*POLICIES_V6[:-1], "rest-api")


def services(profile: Profile) -> list[tuple[str, str, str]]:
    """/ip service: ``(name, port, disabled)`` of each factory service, as RouterOS's
    factory table (:mod:`tikguard.routeros.defaults`) has them on this version."""
    factory = routeros_defaults.menu_factory("/ip service", profile.version)
    schema = schema_mod.lookup("/ip service")
    out = []
    for parts, values in factory.items.items():
        disabled = values.get("disabled", schema.defaults.get("disabled", "no"))
        out.append((factory.refs[parts], values["port"], disabled))
    return out


def policies(profile: Profile) -> tuple[str, ...]:
    return POLICIES_V7 if profile.is_v7 else POLICIES_V6


def group_policy(profile: Profile, group: str) -> str:
    """A factory group's policy string (``read``, ``write``, ``full``): RouterOS's
    factory table where it knows the group on this version, else built from
    :func:`policies`."""
    known = routeros_defaults.item_defaults("/user group", (("name", group),), profile.version)
    if "policy" in known:
        return known["policy"]
    every = policies(profile)
    if group == "full":
        return ",".join(every)
    denied = {"ftp", "write", "policy", "sensitive"}
    if group == "write":
        denied = {"ftp", "policy", "sensitive"}
    allowed = [p for p in every if p not in denied and p != "dude"]
    return ",".join(allowed + [f"!{p}" for p in every if p in denied])


def parse_policy(text: str) -> frozenset[str]:
    """The rights a policy string grants (``!x`` entries deny and are dropped)."""
    return frozenset(p for p in (s.strip() for s in text.split(",")) if p and p[0] != "!")


def _frozen(values: dict[str, str]) -> Mapping[str, str]:
    return dict(values)


def _items(rows: list[tuple[str | None, dict[str, str]]]) -> MenuState:
    state = MenuState()
    for ref, base in rows:
        state.items.append(Item(id=state.new_id(), base=_frozen(base), ref=ref))
    return state


@lru_cache(maxsize=32)
def factory_config(
    profile: Profile,
    model: ModelProfile,
    interfaces: tuple[str, ...] | None = None,
    *,
    no_defaults: bool = True,
) -> Mapping[str, MenuState]:
    """The shared base config for a router of this kind.

    ``interfaces`` overrides the model's ethernet ports (a router built to match an
    export). ``no_defaults`` is RouterOS's blank config (no ``defconf`` bridge,
    addresses or firewall); the factory items (interfaces, services, users) exist in
    both. The simulator starts routers blank, as CHR does.
    """
    base: dict[str, MenuState] = {}
    ethers = interfaces if interfaces is not None else model.ethernet
    rows: list[tuple[str | None, dict[str, str]]] = []
    for name in ethers:
        rows.append((f"[ find default-name={name} ]", {"name": name, "default-name": name}))
    base["/interface ethernet"] = _items(rows)
    if model.wireless and interfaces is None:
        base["/interface wireless"] = _items(
            [
                (f"[ find default-name={n} ]", {"name": n, "default-name": n, "disabled": "yes"})
                for n in model.wireless
            ]
        )
    base["/ip service"] = _items(
        [
            (name, {"name": name, "port": port, "address": "", "disabled": disabled})
            for name, port, disabled in services(profile)
        ]
    )
    base["/user group"] = _items(
        [
            (g, {"name": g, "policy": group_policy(profile, g), "skin": "default"})
            for g in ("read", "write", "full")
        ]
    )
    users = _items([(None, {"name": "admin", "group": "full", "address": ""})])
    base["/user"] = users
    base["/system identity"] = MenuState(base=_frozen({"name": "MikroTik"}))
    base["/system clock"] = MenuState(base=_frozen({"time-zone-name": "manual"}))
    base["/system scheduler"] = MenuState()
    base["/system script"] = MenuState()
    if profile.has_system_note:
        base["/system note"] = MenuState(base=_frozen({"note": "", "show-at-login": "yes"}))
    return base


#: Extra built-in items per menu: ``(export reference, factory values)``.
Builtins = dict[str, list[tuple[str, dict[str, str]]]]


def with_builtins(base: Mapping[str, MenuState], extra: Builtins) -> Mapping[str, MenuState]:
    """``base`` plus more built-in items (a board with other ports, default profiles)."""
    out = dict(base)
    for path, rows in extra.items():
        state = out[path].copy() if path in out else MenuState()
        known = {i.ref for i in state.items}
        for ref, values in rows:
            if ref in known:
                continue
            known.add(ref)
            ident = int(ref[1:], 16) if _is_internal_id(ref) else state.new_id()
            state.items.append(Item(id=ident, base=dict(values), ref=ref))
        out[path] = state
    return out


def _is_internal_id(ref: str) -> bool:
    return (
        ref.startswith("*") and all(c in "0123456789abcdefABCDEF" for c in ref[1:]) and len(ref) > 1
    )


def builtins_for_export(config: Config) -> Builtins:
    """The built-in items an export addresses with ``set``, so a router can match it.

    A router that imports an export must have the items the export configures but never
    adds: ports (``[ find default-name=ether1 ]``), default profiles (``*FFFFFFFE``,
    ``[ find default=yes ]``), print-number items (``/port set 0``), named defaults.
    """
    out: Builtins = {}
    for menu in config.menus:
        added: set[str] = set()
        for command in menu.commands:
            name = command.get("name")
            if command.verb == "add" and name:
                added.add(name)
            if command.verb not in ("set", "enable", "disable"):
                continue
            sel = command.selector
            if sel is None and command.args:
                sel = Selector(ref=command.args[0])
            if sel is None:
                continue
            if sel.find is not None:
                values = {p.key: p.value or "" for p in sel.find if p.value is not None}
                if "default-name" in values:
                    values.setdefault("name", values["default-name"])
                inner = " ".join(f"{p.key}={quote(p.value or '')}" for p in sel.find)
                ref = f"[ find {inner} ]"
            else:
                ref = sel.ref or ""
                if ref in added:
                    continue
                values = {} if _is_internal_id(ref) or ref.isdigit() else {"name": ref}
            out.setdefault(menu.path, []).append((ref, values))
    return out


def defconf_script(model: ModelProfile) -> str | None:
    """The default configuration a RouterBOARD applies after a reset (None on CHR).

    RouterOS runs it as a script at the first boot after ``reset-configuration``
    without ``no-defaults=yes``: a LAN bridge over every port but ether1 (the WAN),
    192.168.88.1/24 with DHCP, a DHCP client on ether1, and the defconf firewall that
    drops input not coming from the LAN.
    """
    if not model.routerboard:
        return None
    lan = [p for p in (*model.ethernet, *model.wireless) if p != "ether1"]
    ports = "".join(
        f"/interface bridge port add bridge=bridge comment=defconf interface={p}\n" for p in lan
    )
    return (
        "/interface bridge add auto-mac=yes comment=defconf name=bridge\n"
        "/interface list add comment=defconf name=WAN\n"
        "/interface list add comment=defconf name=LAN\n"
        "/ip pool add name=default-dhcp ranges=192.168.88.10-192.168.88.254\n"
        "/ip dhcp-server add address-pool=default-dhcp interface=bridge name=defconf\n"
        + ports
        + "/interface list member add comment=defconf interface=bridge list=LAN\n"
        "/interface list member add comment=defconf interface=ether1 list=WAN\n"
        "/ip address add address=192.168.88.1/24 comment=defconf interface=bridge"
        " network=192.168.88.0\n"
        "/ip dhcp-client add comment=defconf interface=ether1\n"
        "/ip dhcp-server network add address=192.168.88.0/24 comment=defconf"
        " dns-server=192.168.88.1 gateway=192.168.88.1\n"
        "/ip dns set allow-remote-requests=yes\n"
        "/ip dns static add address=192.168.88.1 comment=defconf name=router.lan\n"
        '/ip firewall filter add action=accept chain=input comment="defconf: accept'
        ' established,related,untracked" connection-state=established,related,untracked\n'
        '/ip firewall filter add action=drop chain=input comment="defconf: drop invalid"'
        " connection-state=invalid\n"
        '/ip firewall filter add action=accept chain=input comment="defconf: accept ICMP"'
        " protocol=icmp\n"
        '/ip firewall filter add action=accept chain=input comment="defconf: accept to local'
        ' loopback (for CAPsMAN)" dst-address=127.0.0.1\n'
        '/ip firewall filter add action=drop chain=input comment="defconf: drop all not'
        ' coming from LAN" in-interface-list=!LAN\n'
        '/ip firewall nat add action=masquerade chain=srcnat comment="defconf: masquerade"'
        " ipsec-policy=out,none out-interface-list=WAN\n"
    )
