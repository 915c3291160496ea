"""Where a tenant may point the controller: its routers' management networks.

tikguard connects out to whatever host:port a device names, from the controller's
network position. A tenant admin who could name any address would use the controller
as a port scanner and password guesser against the controller's own networks and
other tenants' routers. So, for devices added or moved through the API and UI:

* the host must be in the tenant's management networks (set by the controller's
  operator, ``tikguard tenant set NAME --networks``); a tenant without any may use the
  whole world only while it is the only tenant (a single-tenant install); a host name
  counts by every address it resolves to;
* a host:port another tenant already manages is refused unless the operator let this
  tenant share hosts (``--share-hosts``).

The CLI, run by the controller's operator, is not bound by them.
"""

from __future__ import annotations

import ipaddress
import socket

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tikguard.store import scope
from tikguard.store.errors import InvalidInput, StateError
from tikguard.store.models import Device, Tenant
from tikguard.store.tenants import get_tenant

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(spec: str) -> list[Network]:
    """``10.0.0.0/8, 2001:db8::/32`` as networks; ``any`` is the whole world."""
    out: list[Network] = []
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            continue
        if part == "any":
            out += [ipaddress.ip_network("0.0.0.0/0"), ipaddress.ip_network("::/0")]
            continue
        try:
            out.append(ipaddress.ip_network(part, strict=False))
        except ValueError as exc:
            raise InvalidInput(f"management network {part!r}: {exc}") from None
    return out


def _resolve(host: str) -> list[str]:
    try:
        return [ipaddress.ip_address(host).compressed]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):  # unknown, or not a name at all (a 64+ char label)
        return []
    return sorted({str(info[4][0]) for info in infos})


def check_reach(
    session: Session,
    tenant_id: int,
    host: str,
    port: int,
    *,
    device_id: int | None = None,
) -> None:
    """Refuse (:class:`InvalidInput` / :class:`StateError`) a host:port the tenant may
    not point the controller at; ``device_id``: the device being moved (not a clash)."""
    with scope.scoped(None):  # counts other tenants' rows: unscoped, nothing returned
        tenant = get_tenant(session, tenant_id)
        networks = parse_networks(tenant.management_networks)
        tenants = session.scalar(select(func.count(Tenant.id))) or 0
        clash = session.scalar(
            select(Device.id).where(
                Device.host == host,
                Device.port == port,
                Device.tenant_id != tenant_id,
            )
        )
    hint = f"ask the controller's operator: `tikguard tenant set {tenant.name} --networks CIDR`"
    if not networks and tenants > 1:
        raise InvalidInput(f"tenant {tenant.name} has no management networks yet ({hint})")
    if networks:
        addresses = _resolve(host)
        if not addresses:
            raise InvalidInput(f"host {host!r} does not resolve to an address")
        outside = [a for a in addresses if not any(ipaddress.ip_address(a) in n for n in networks)]
        if outside:
            raise InvalidInput(
                f"{host} ({', '.join(outside)}) is outside tenant {tenant.name}'s "
                f"management networks ({hint})"
            )
    if clash is not None and clash != device_id and not tenant.share_hosts:
        raise StateError(
            f"{host}:{port} is managed by another tenant of this controller; the operator "
            f"can allow it (`tikguard tenant set {tenant.name} --share-hosts`)"
        )


def set_reach(
    session: Session, tenant_id: int, *, networks: str | None, share_hosts: bool | None
) -> Tenant:
    """The operator's settings for a tenant (None: unchanged)."""
    tenant = get_tenant(session, tenant_id)
    if networks is not None:
        parsed = parse_networks(networks)
        tenant.management_networks = ", ".join(n.compressed for n in parsed)
    if share_hosts is not None:
        tenant.share_hosts = share_hosts
    session.flush()
    return tenant
