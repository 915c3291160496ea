"""The controller is no scanner: outbound connections on a tenant's word (webhooks, SMTP,
HTTP inventory sources) reach public addresses only, unless the operator allows a
network (``TIKGUARD_OUTBOUND_ALLOW``). Real sockets on 127.0.0.1, no mocks."""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.ops.receivers import http_receiver, smtp_receiver

from tikguard.ops import outbound
from tikguard.ops.notify.send import post_webhook, send_mail
from tikguard.settings import Settings

CLOSED = Settings(data_dir=Path("/nonexistent"))
LAB = CLOSED.with_(outbound_allow="127.0.0.1/32")

#: IANA's special-purpose blocks, written out here (not read from ``ipaddress``'s flags,
#: which the guard uses): every address in them must be refused.
SPECIAL_V4 = [
    "0.0.0.0/8",
    "10.0.0.0/8",
    "100.64.0.0/10",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "172.16.0.0/12",
    "192.0.0.0/24",
    "192.0.2.0/24",
    "192.168.0.0/16",
    "198.18.0.0/15",
    "198.51.100.0/24",
    "203.0.113.0/24",
    "224.0.0.0/4",
    "240.0.0.0/4",
]
SPECIAL_V6 = ["::/128", "::1/128", "fc00::/7", "fe80::/10", "ff00::/8", "2001:db8::/32"]


def _in(networks: list[str]) -> st.SearchStrategy[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    def pick(net: str) -> st.SearchStrategy[Any]:
        n = ipaddress.ip_network(net)
        ints = st.integers(int(n.network_address), int(n.broadcast_address))
        return ints.map(ipaddress.ip_address)

    return st.one_of([pick(n) for n in networks])


def _public_v4(ip: ipaddress.IPv4Address) -> bool:
    return not any(ip in ipaddress.ip_network(n) for n in SPECIAL_V4)


@given(_in(SPECIAL_V4))
def test_special_ipv4_is_refused_also_as_mapped_6to4_and_nat64(ip: ipaddress.IPv4Address) -> None:
    assert outbound.refusal(ip, []) is not None
    for carrier in (
        ipaddress.IPv6Address(f"::ffff:{ip}"),
        ipaddress.IPv6Address((0x2002 << 112) | (int(ip) << 80)),
        ipaddress.IPv6Address(f"64:ff9b::{ip}"),
    ):
        assert outbound.refusal(carrier, []) is not None, carrier
    with pytest.raises(outbound.Refused, match="tikguard does not connect there"):
        outbound.check_host(str(ip), CLOSED, "the webhook's host")


@given(_in(SPECIAL_V6))
def test_special_ipv6_is_refused(ip: ipaddress.IPv6Address) -> None:
    assert outbound.refusal(ip, []) is not None
    with pytest.raises(outbound.Refused):
        outbound.check_host(f"[{ip}]", CLOSED, "the host")


@given(st.integers(0x01000000, 0xDFFFFFFF).map(ipaddress.IPv4Address))
def test_public_ipv4_passes_and_an_allowed_network_opens_a_special_one(
    ip: ipaddress.IPv4Address,
) -> None:
    if _public_v4(ip):
        assert outbound.refusal(ip, []) is None
        assert outbound.refusal(ipaddress.IPv6Address(f"::ffff:{ip}"), []) is None
    else:
        net = ipaddress.ip_network(f"{ip}/32")
        assert outbound.refusal(ip, [net]) is None
        assert outbound.refusal(ipaddress.IPv6Address(f"::ffff:{ip}"), [net]) is None


@pytest.mark.parametrize(
    ("host", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("[::1]", "loopback"),
        ("169.254.169.254", "link-local"),
        ("::ffff:127.0.0.1", r"loopback address \(it carries 127\.0\.0\.1\)"),
        ("10.1.2.3", "private"),
        ("0.0.0.0", "unspecified"),
        ("127.1", "loopback"),  # inet_aton's short forms, as getaddrinfo reads them
        ("2130706433", "loopback"),
        ("localhost", "loopback"),
        ("db.localhost.", "loopback"),
        ("fe80::1%eth0", "link-local"),
    ],
)
def test_forbidden_literals_are_refused_when_configured(host: str, kind: str) -> None:
    with pytest.raises(outbound.Refused, match=kind) as refused:
        outbound.check_host(host, CLOSED, "the webhook's host")
    assert refused.value.hint is not None and outbound.ALLOW_SETTING in refused.value.hint
    outbound.check_host(host, CLOSED.with_(outbound_allow="0.0.0.0/0, ::/0"), "the host")


def test_names_are_judged_when_connecting() -> None:
    outbound.check_host("hooks.example.net", CLOSED, "the host")  # no lookup at configuration
    with pytest.raises(outbound.Refused, match=r"localhost \(127\.0\.0\.1\) is a loopback"):
        outbound.resolve("localhost", 80, CLOSED)
    assert outbound.resolve("localhost", 80, LAB.with_(outbound_allow="127.0.0.0/8, ::1/128"))
    with pytest.raises(ValueError, match="TIKGUARD_OUTBOUND_ALLOW"):
        outbound.resolve("localhost", 80, CLOSED.with_(outbound_allow="10.0.0.0/33"))


def test_a_webhook_to_loopback_never_leaves_and_the_lab_setting_lets_it() -> None:
    with http_receiver() as hook:
        sent = post_webhook(hook.url, b"{}", settings=CLOSED, secret="s", headers={}, timeout=5)
        assert not sent.ok and not sent.retry
        assert "127.0.0.1 is a loopback address" in sent.status
        assert "T0KEN" not in sent.status  # the URL's path is the channel's secret
        assert hook.requests == []
        sent = post_webhook(hook.url, b"{}", settings=LAB, secret="s", headers={}, timeout=5)
        assert sent.ok and len(hook.requests) == 1


def test_mail_to_loopback_never_leaves() -> None:
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = "t@example.net", "n@example.net", "x"
    with smtp_receiver() as smtp:
        sent = send_mail(
            mail,
            settings=CLOSED,
            host=smtp.host,
            port=smtp.port,
            security="none",
            username="",
            password="",
            timeout=5,
        )
        assert not sent.ok and "loopback" in sent.status and smtp.messages == []


@contextmanager
def _server(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class _Tricky(BaseHTTPRequestHandler):
    """/redirect points at the cloud metadata service; /big answers 1 MiB; /drip sends
    one byte every 50 ms for ever (a peer that never times a socket read out)."""

    def do_GET(self) -> None:
        if self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif self.path == "/big":
            self.send_response(200)
            self.send_header("Content-Length", str(1 << 20))
            self.end_headers()
            self.wfile.write(b"x" * (1 << 20))
        else:
            self.send_response(200)
            self.send_header("Content-Length", "100000")
            self.end_headers()
            try:
                for _ in range(400):
                    self.wfile.write(b"x")
                    self.wfile.flush()
                    time.sleep(0.05)
            except OSError:
                pass

    do_POST = do_GET

    def log_message(self, *args: object) -> None:
        pass


def test_no_redirect_is_followed_answers_are_bounded_and_one_lookup_is_used(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    lookups: list[object] = []
    real = socket.getaddrinfo

    def counting(*args: Any, **kwargs: Any) -> Any:
        lookups.append(args[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", counting)
    with _server(_Tricky) as base:
        answer = outbound.http_request(f"{base}/redirect", settings=LAB, timeout=5)
        assert answer.status == 302 and answer.location is not None
        assert lookups == ["127.0.0.1"]  # resolved once, connected to what was checked
        big = outbound.http_request(f"{base}/big", settings=LAB, timeout=5, max_bytes=1000)
        assert big.truncated and len(big.body) == 1000  # the rest is never read
        hook: dict[str, Any] = {"settings": LAB, "secret": "", "headers": {}, "timeout": 5}
        sent = post_webhook(f"{base}/big", b"{}", **hook)
        assert sent.ok  # a receiver's long answer does not undo the delivery
        sent = post_webhook(f"{base}/redirect", b"{}", **hook)
        assert (sent.ok, sent.status, sent.retry) == (False, "HTTP 302 Found", False)
        started = time.monotonic()
        with pytest.raises(TimeoutError, match=r"within 0\.5 s"):
            outbound.http_request(f"{base}/drip", settings=LAB, timeout=0.5)
        assert time.monotonic() - started < 3  # 400 bytes at 50 ms would be 20 s
