"""Connections the controller opens on a tenant's word: webhooks, SMTP, HTTP inventory.

A tenant admin names these targets. Without a wall they would make the controller a
scanner of its own surroundings: services on its loopback, the cloud metadata service
at 169.254.169.254, the private networks beside it. So every such connection is opened
here, and only here:

* the host is resolved once and every address it resolves to must be a public one
  (not loopback, link-local, multicast, unspecified, private, shared or reserved; an
  IPv6 address carrying an IPv4 one, ``::ffff:127.0.0.1``, 6to4 or NAT64, is judged by
  the IPv4 address it carries), unless the controller's operator allows its network
  with ``TIKGUARD_OUTBOUND_ALLOW`` (comma-separated CIDRs; a lab's receivers on
  ``127.0.0.1/32``);
* the socket connects to an address that was checked, never to a second lookup of the
  name (no DNS rebinding between check and connect); TLS still verifies the name;
* redirects are never followed (an answer is returned as it came), an answer is read
  up to a byte limit, and the whole exchange is cut at its deadline however slowly the
  peer drips bytes.

Configuration refuses a literal forbidden address at once (:func:`check_host`); names
are judged at each connection, where a refusal is a :class:`Refused` naming the host
and the address, never a URL's path or query (a webhook's path is its credential).
Routers are not reached through here: device sessions keep to the tenant's management
networks (``store/reach.py``).
"""

from __future__ import annotations

import http.client
import ipaddress
import smtplib
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from tikguard.settings import Settings
from tikguard.store.errors import InvalidInput

__all__ = [
    "ALLOW_SETTING",
    "Answer",
    "Refused",
    "check_host",
    "http_request",
    "refusal",
    "resolve",
    "smtp_client",
]

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

ALLOW_SETTING = "TIKGUARD_OUTBOUND_ALLOW"
_HINT = (
    f"the controller's operator can allow that network: {ALLOW_SETTING}=CIDR[,CIDR...] "
    "(docs/security.md)"
)
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


class Refused(InvalidInput):
    """The target is an address tikguard does not connect to on a tenant's word."""

    def __init__(self, message: str) -> None:
        super().__init__(message, hint=_HINT)


def _carried(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one stands for (mapped, 6to4, NAT64); Teredo's block is
    refused as a whole."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


#: IANA's special-purpose address registries (IPv4 and IPv6), the blocks that are not
#: globally reachable, with the word an error uses. Written out rather than read from
#: ``ipaddress``'s flags alone, whose lists change between Python releases; the flags
#: are checked too.
_SPECIAL: tuple[tuple[Network, str], ...] = tuple(
    (ipaddress.ip_network(net), kind)
    for net, kind in (
        ("0.0.0.0/32", "unspecified"),
        ("0.0.0.0/8", "this-network"),
        ("10.0.0.0/8", "private"),
        ("100.64.0.0/10", "shared (carrier-grade NAT)"),
        ("127.0.0.0/8", "loopback"),
        ("169.254.0.0/16", "link-local"),
        ("172.16.0.0/12", "private"),
        ("192.0.0.0/24", "IETF protocol"),
        ("192.0.2.0/24", "documentation"),
        ("192.88.99.0/24", "6to4 relay"),
        ("192.168.0.0/16", "private"),
        ("198.18.0.0/15", "benchmarking"),
        ("198.51.100.0/24", "documentation"),
        ("203.0.113.0/24", "documentation"),
        ("224.0.0.0/4", "multicast"),
        ("255.255.255.255/32", "broadcast"),
        ("240.0.0.0/4", "reserved"),
        ("::/128", "unspecified"),
        ("::1/128", "loopback"),
        ("::/8", "reserved"),
        ("64:ff9b:1::/48", "local NAT64"),
        ("100::/64", "discard-only"),
        ("2001::/23", "IETF protocol"),
        ("2001:db8::/32", "documentation"),
        ("3fff::/20", "documentation"),
        ("5f00::/16", "segment-routing"),
        ("fc00::/7", "unique-local (private)"),
        ("fe80::/10", "link-local"),
        ("fec0::/10", "site-local"),
        ("ff00::/8", "multicast"),
    )
)


def _kind(ip: Address) -> str | None:
    """Why ``ip`` is not a public address, or None when it is."""
    for net, kind in _SPECIAL:
        if ip in net:
            return kind
    for name, flag in (
        ("loopback", ip.is_loopback),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("private", ip.is_private),
        ("reserved", ip.is_reserved),
    ):
        if flag:
            return name
    return None if ip.is_global else "non-public"


def refusal(ip: Address, allow: list[Network]) -> str | None:
    """What is wrong with connecting to ``ip`` (``"a loopback address"``), or None."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.scope_id:
        ip = ipaddress.IPv6Address(str(ip).split("%", 1)[0])
    inner = _carried(ip) if isinstance(ip, ipaddress.IPv6Address) else None
    why = _kind(inner) if inner is not None else _kind(ip)
    if why is None:
        return None
    if any(candidate in net for candidate in (ip, inner) if candidate for net in allow):
        return None
    carried = f" (it carries {inner})" if inner is not None else ""
    article = "an" if why[0] in "aeiouIU" else "a"
    return f"{article} {why} address{carried}"


def _literal(host: str) -> list[Address]:
    """The addresses a host names without asking DNS (``127.1``, ``0x7f000001`` and
    ``localhost`` included); empty for a name DNS must answer."""
    bare = host.strip("[]").rstrip(".").lower()
    if bare == "localhost" or bare.endswith(".localhost"):  # RFC 6761: always loopback
        return [ipaddress.IPv4Address("127.0.0.1"), ipaddress.IPv6Address("::1")]
    try:
        return [ipaddress.ip_address(bare)]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(bare, None, flags=socket.AI_NUMERICHOST)
    except (OSError, UnicodeError):
        return []
    return [ipaddress.ip_address(str(info[4][0])) for info in infos]


def check_host(host: str, settings: Settings, what: str) -> None:
    """Refuse, when a target is configured, a host that is a forbidden address as
    written (a name is judged again at every connection: its addresses may change)."""
    allow = settings.outbound_networks()
    for ip in _literal(host):
        why = refusal(ip, allow)
        if why is not None:
            raise Refused(f"{what} {host} is {why}: tikguard does not connect there")


def resolve(host: str, port: int, settings: Settings) -> list[tuple[int, Any]]:
    """``(family, sockaddr)`` of every address of ``host``, each one checked.

    Refused when any of them is forbidden (a name that also points inward is not
    trusted for its other addresses); OSError when the name does not resolve.
    """
    allow = settings.outbound_networks()
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except UnicodeError:
        raise OSError(f"{host!r} is not a host name") from None
    except socket.gaierror as exc:
        raise OSError(f"{host} does not resolve ({exc.strerror})") from None
    found: list[tuple[int, Any]] = []
    for family, _type, _proto, _name, sockaddr in infos:
        ip = ipaddress.ip_address(str(sockaddr[0]))
        why = refusal(ip, allow)
        if why is not None:
            shown = host if str(ip) == host.strip("[]") else f"{host} ({ip})"
            raise Refused(f"refused: {shown} is {why}; tikguard does not connect there")
        if (family, sockaddr) not in found:
            found.append((family, sockaddr))
    return found


def _open(host: str, port: int, settings: Settings, timeout: float | None) -> socket.socket:
    """A TCP connection to a checked address of ``host`` (tried in resolver order)."""
    failure: OSError | None = None
    for family, sockaddr in resolve(host, port, settings):
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            sock.connect(sockaddr)
        except OSError as exc:
            sock.close()
            failure = exc
            continue
        return sock
    raise failure or OSError(f"{host} has no address")


@dataclass
class _Cutoff:
    """Shuts the connection's socket down at the deadline, whatever it is doing then."""

    current: Callable[[], socket.socket | None]
    fired: bool = False

    def cut(self) -> None:
        self.fired = True
        sock = self.current()
        if sock is not None:
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


@contextmanager
def _deadline(current: Callable[[], socket.socket | None], seconds: float) -> Iterator[_Cutoff]:
    cutoff = _Cutoff(current)
    timer = threading.Timer(seconds, cutoff.cut)
    timer.daemon = True
    timer.start()
    try:
        yield cutoff
    finally:
        timer.cancel()


class _HTTP(http.client.HTTPConnection):
    outbound: Settings
    #: The socket as connected (``sock`` is dropped when a response will close it, while
    #: the response still reads from it).
    live: socket.socket | None = None

    def connect(self) -> None:
        self.sock = self.live = _open(self.host, self.port, self.outbound, self.timeout)


class _HTTPS(http.client.HTTPSConnection, _HTTP):
    """HTTPSConnection.connect opens the socket through ``_HTTP`` and wraps it for
    ``self.host``: the certificate is checked against the name, not the address."""

    def connect(self) -> None:
        super().connect()
        self.live = self.sock


@dataclass(frozen=True)
class Answer:
    status: int
    reason: str
    #: The ``Location`` of a redirect (not followed), else None.
    location: str | None
    #: At most ``max_bytes`` of the body; the rest is never read.
    body: bytes
    #: Whether the body went on past ``max_bytes``.
    truncated: bool


def http_request(
    url: str,
    *,
    settings: Settings,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
    timeout: float,
    context: ssl.SSLContext | None = None,
    max_bytes: int = 64 * 1024,
) -> Answer:
    """One request to a checked address of ``url``'s host, done within ``timeout``
    seconds; at most ``max_bytes`` of the answer's body are read. Raises
    :class:`Refused`, TimeoutError, OSError or ``http.client.HTTPException``."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput(f"{parts.scheme}://{parts.hostname or ''}: not an http(s) URL")
    connection: _HTTP
    if parts.scheme == "https":
        tls = context or ssl.create_default_context()
        connection = _HTTPS(parts.hostname, parts.port, timeout=timeout, context=tls)
    else:
        connection = _HTTP(parts.hostname, parts.port, timeout=timeout)
    connection.outbound = settings
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    with _deadline(lambda: connection.live, timeout) as cutoff:
        try:
            connection.request(method, target, body=body, headers=headers or {})
            response = connection.getresponse()
            data = response.read(max_bytes + 1)
        except (OSError, http.client.HTTPException):
            if cutoff.fired:
                raise TimeoutError(f"no complete answer within {timeout:g} s") from None
            raise
        finally:
            connection.close()
    if cutoff.fired:  # a body cut short reads as a short body: it is no answer
        raise TimeoutError(f"no complete answer within {timeout:g} s")
    location, cut = response.getheader("Location"), len(data) > max_bytes
    return Answer(response.status, response.reason, location, data[:max_bytes], cut)


class _SMTP(smtplib.SMTP):
    outbound: Settings
    _host: str  # set by SMTP(host) only; smtp_client connects later

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        return _open(host, port, self.outbound, timeout)


class _SMTPS(smtplib.SMTP_SSL, _SMTP):
    """SMTP_SSL._get_socket opens the socket through ``_SMTP`` and wraps it for the name."""


@contextmanager
def smtp_client(
    host: str,
    port: int,
    *,
    settings: Settings,
    implicit_tls: bool,
    context: ssl.SSLContext,
    timeout: float,
) -> Iterator[smtplib.SMTP]:
    """An SMTP conversation with a checked address of ``host``, cut after ``timeout``
    seconds (the conversation as a whole); STARTTLS verifies the name as usual."""
    smtp = _SMTPS(timeout=timeout, context=context) if implicit_tls else _SMTP(timeout=timeout)
    smtp.outbound = settings
    smtp._host = host  # what SMTP(host) would keep: STARTTLS checks the certificate for it
    with _deadline(lambda: getattr(smtp, "sock", None), timeout) as cutoff:
        try:
            smtp.connect(host, port)
            with smtp:
                yield smtp
        except (OSError, smtplib.SMTPServerDisconnected):
            if cutoff.fired:
                raise TimeoutError(f"the SMTP conversation took over {timeout:g} s") from None
            raise
        finally:
            smtp.close()
