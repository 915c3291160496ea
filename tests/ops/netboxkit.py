"""A NetBox-shaped device API on a real local HTTP server, for inventory source tests."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

TOKEN = "nbt-0123456789abcdef-secret"


class NetBox:
    """A NetBox-shaped device API: ``results`` pages of 2, ``next`` links, a token."""

    def __init__(self, devices: list[dict[str, Any]]) -> None:
        self.devices = devices
        self.fail_with: int | None = None
        #: Answer 200 with this body instead (not JSON, say).
        self.raw: bytes | None = None
        #: Answer a 302 to this URL instead.
        self.redirect: str | None = None
        #: The origin the ``next`` links point to (default this server).
        self.next_origin: str | None = None
        self.requests: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                outer.requests.append(self.path)
                if outer.fail_with is not None:
                    return self._send(outer.fail_with, {"detail": "boom"})
                if outer.raw is not None or outer.redirect is not None:
                    self.send_response(302 if outer.redirect else 200)
                    if outer.redirect:
                        self.send_header("Location", outer.redirect)
                    self.send_header("Content-Length", str(len(outer.raw or b"")))
                    self.end_headers()
                    self.wfile.write(outer.raw or b"")
                    return None
                if self.headers.get("Authorization") != f"Token {TOKEN}":
                    return self._send(403, {"detail": "Invalid token"})
                offset = int(parse_qs(urlsplit(self.path).query).get("offset", ["0"])[0])
                page = outer.devices[offset : offset + 2]
                following = None
                if offset + 2 < len(outer.devices):
                    base = outer.url
                    if outer.next_origin:
                        base = outer.next_origin + urlsplit(outer.url).path
                    following = f"{base}?limit=2&offset={offset + 2}"
                self._send(
                    200,
                    {
                        "count": len(outer.devices),
                        "next": following,
                        "previous": None,
                        "results": page,
                    },
                )

            def _send(self, status: int, doc: object) -> None:
                body = json.dumps(doc).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/api/dcim/devices/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def nb_device(name: str, ip: str, platform: str = "routeros", site: str = "ams1") -> dict[str, Any]:
    return {
        "id": abs(hash(name)) % 1000,
        "name": name,
        "platform": {"slug": platform},
        "primary_ip": {"address": f"{ip}/24"},
        "site": {"slug": site},
        "tags": [{"name": "Core", "slug": "core"}],
        "custom_fields": {"ssh_port": 22},
    }


@contextmanager
def netbox_serving(*names: str) -> Iterator[NetBox]:
    """A NetBox listing routers ``names`` (192.0.2.1, .2, ...) and one Cisco switch third."""
    devices = [nb_device(n, f"192.0.2.{i}") for i, n in enumerate(names, start=1)]
    devices.insert(2, nb_device("sw1", "192.0.2.250", platform="ios"))
    server = NetBox(devices)
    try:
        yield server
    finally:
        server.close()
