"""Whether the router's configuration lets a management client in.

The same rules hold for SSH and the RouterOS API (``api``, ``api-ssl``), each with its
own ``/ip service`` item. A client reaches SSH only while: the local address is
configured on an enabled interface, ``/ip service ssh`` is enabled on that port with
``address=`` allowing the client, and no enabled input-chain rule in ``/ip firewall
raw`` (prerouting) or ``/ip firewall filter`` (input) drops or rejects a new connection
from it. A service that is off or moved answers with a reset (``refuse``); everything
else just loses the packets (``drop``), like a dropped SYN.
"""

from __future__ import annotations

import ipaddress
from types import MappingProxyType
from typing import Literal

from tikguard.sim.configdb import ConfigDB, Item
from tikguard.sim.engine import INTERFACE_MENUS

Verdict = Literal["accept", "refuse", "drop"]


#: The port of each management service when ``/ip service`` does not say.
SERVICE_PORTS = MappingProxyType({"ssh": 22, "api": 8728, "api-ssl": 8729})


def service_item(db: ConfigDB, name: str) -> Item | None:
    """The ``/ip service`` item called ``name`` (``ssh``, ``api``, ``api-ssl``)."""
    state = db.read("/ip service")
    for item in state.items if state is not None else []:
        if item.get("name") == name:
            return item
    return None


def ssh_service(db: ConfigDB) -> Item | None:
    return service_item(db, "ssh")


def service_port(db: ConfigDB, name: str) -> int:
    """The port ``/ip service`` gives the service ``name``."""
    item = service_item(db, name)
    default = SERVICE_PORTS.get(name, 0)
    try:
        return int(item.get("port") or default) if item is not None else default
    except ValueError:
        return default


def ssh_port(db: ConfigDB) -> int:
    return service_port(db, "ssh")


def _in_networks(ip: str, spec: str) -> bool:
    if not spec:
        return True
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return False
    for part in spec.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            if addr in ipaddress.ip_network(part, strict=False):
                return True
        except ValueError:
            continue
    return False


def _interface(db: ConfigDB, name: str) -> Item | None:
    for path in INTERFACE_MENUS:
        state = db.read(path)
        for item in state.items if state is not None else []:
            if item.get("name") == name:
                return item
    return None


def _local_interface(db: ConfigDB, local_ip: str) -> str | None:
    """The interface carrying ``local_ip`` on an enabled address and interface."""
    state = db.read("/ip address")
    for item in state.items if state is not None else []:
        if item.disabled:
            continue
        address = (item.get("address") or "").split("/")[0]
        if address != local_ip:
            continue
        name = item.get("interface") or ""
        iface = _interface(db, name)
        if iface is not None and iface.disabled:
            continue
        return name
    return None


def _lists_of(db: ConfigDB, interface: str) -> set[str]:
    lists = {"all"}
    state = db.read("/interface list member")
    for item in state.items if state is not None else []:
        if not item.disabled and item.get("interface") == interface:
            lists.add(item.get("list") or "")
    return lists


def _address_lists(db: ConfigDB, ip: str) -> set[str]:
    out: set[str] = set()
    state = db.read("/ip firewall address-list")
    for item in state.items if state is not None else []:
        if not item.disabled and _in_networks(ip, item.get("address") or ""):
            out.add(item.get("list") or "")
    return out


def _neg(spec: str, test: bool) -> bool:
    return not test if spec.startswith("!") else test


def _ports(spec: str, port: int) -> bool:
    for part in spec.split(","):
        lo, _, hi = part.strip().partition("-")
        try:
            if int(lo) <= port <= int(hi or lo):
                return True
        except ValueError:
            continue
    return False


def _matches(
    db: ConfigDB, rule: Item, client_ip: str, local_ip: str, port: int, iface: str, conn: str
) -> bool:
    def cond(key: str, test: object) -> bool:
        spec = rule.get(key)
        if spec is None or spec == "":
            return True
        value = spec[1:] if spec.startswith("!") else spec
        assert callable(test)
        return _neg(spec, bool(test(value)))

    checks = (
        cond("src-address", lambda v: _in_networks(client_ip, v)),
        cond("dst-address", lambda v: _in_networks(local_ip, v)),
        cond("protocol", lambda v: v in ("tcp", "6")),
        cond("dst-port", lambda v: _ports(v, port)),
        cond("in-interface", lambda v: v == iface),
        cond("in-interface-list", lambda v: v in _lists_of(db, iface)),
        cond("src-address-list", lambda v: v in _address_lists(db, client_ip)),
        cond("dst-address-list", lambda v: v in _address_lists(db, local_ip)),
        cond("connection-state", lambda v: conn in v.split(",")),
    )
    return all(checks)


def _chain_verdict(
    db: ConfigDB,
    path: str,
    chain: str,
    client_ip: str,
    local_ip: str,
    port: int,
    iface: str,
    conn: str,
) -> bool:
    state = db.read(path)
    for rule in state.items if state is not None else []:
        if rule.disabled or rule.get("chain") != chain:
            continue
        if not _matches(db, rule, client_ip, local_ip, port, iface, conn):
            continue
        action = rule.get("action") or "accept"
        if action in ("accept", "fasttrack-connection", "notrack"):
            return True
        if action in ("drop", "reject", "tarpit"):
            return False
    return True


def verdict(
    db: ConfigDB,
    *,
    client_ip: str,
    local_ip: str,
    port: int,
    established: bool = False,
    service_name: str = "ssh",
) -> Verdict:
    """What traffic from ``client_ip`` to ``local_ip:port`` meets, for the management
    service ``service_name`` (``ssh``; the RouterOS API: ``api``, ``api-ssl``).

    ``established`` asks about an open session: firewall rules then see
    ``connection-state=established`` instead of ``new``.
    """
    conn = "established" if established else "new"
    service = service_item(db, service_name)
    if service is None or service.disabled or service_port(db, service_name) != port:
        return "refuse"
    iface = _local_interface(db, local_ip)
    if iface is None:
        return "drop"
    if not _in_networks(client_ip, service.get("address") or ""):
        return "drop"
    for path, chain in (("/ip firewall raw", "prerouting"), ("/ip firewall filter", "input")):
        if not _chain_verdict(db, path, chain, client_ip, local_ip, port, iface, conn):
            return "drop"
    return "accept"
