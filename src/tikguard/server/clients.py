"""Where a request comes from, for throttling and the audit log (API and UI alike)."""

from __future__ import annotations

import ipaddress

from fastapi import Request

from tikguard.settings import Settings

__all__ = ["client_address", "trusted_networks"]


def trusted_networks(spec: str) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """The networks of ``trusted_proxies`` (ValueError naming the setting)."""
    try:
        return [ipaddress.ip_network(p.strip(), strict=False) for p in spec.split(",") if p.strip()]
    except ValueError as exc:
        raise ValueError(f"TIKGUARD_TRUSTED_PROXIES: {exc}") from None


def _in(address: str, networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in networks)


def client_address(request: Request, settings: Settings) -> str:
    """The address a request comes from: the peer's, unless the peer is a trusted proxy
    (``trusted_proxies``); then the nearest ``X-Forwarded-For`` entry that is not one.
    A client cannot choose its own address by sending the header."""
    peer = request.client.host if request.client else "?"
    proxies = trusted_networks(settings.trusted_proxies)
    if not proxies or not _in(peer, proxies):
        return peer
    hops = [h.strip() for h in ",".join(request.headers.getlist("x-forwarded-for")).split(",")]
    for hop in reversed([h for h in hops if h]):
        if not _in(hop, proxies):
            return hop
    return peer
