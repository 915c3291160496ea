"""Real receivers for notification tests: an HTTP server in a thread and aiosmtpd.

The HTTP receiver answers its first ``fail_first`` requests with 503 (a receiver that is
down, then recovers) and records every request's headers and body. The SMTP server
offers STARTTLS with a fresh self-signed certificate for 127.0.0.1, requires it before
AUTH, and accepts one login.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from tikguard.sim.apiserver import self_signed


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class HttpReceiver:
    url: str
    fail_first: int
    requests: list[Received] = field(default_factory=list)
    answered: list[int] = field(default_factory=list)


@contextmanager
def http_receiver(fail_first: int = 0, status: int = 200) -> Iterator[HttpReceiver]:
    """A webhook receiver on 127.0.0.1 that fails (503) ``fail_first`` times, then answers
    ``status``."""
    lock = threading.Lock()
    state = HttpReceiver(url="", fail_first=fail_first)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            with lock:
                state.requests.append(Received(self.path, dict(self.headers.items()), body))
                code = 503 if len(state.requests) <= state.fail_first else status
                state.answered.append(code)
            self.send_response(code)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/T0KEN-in-path"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class SmtpReceiver:
    host: str
    port: int
    ca_pem: str
    user: str
    password: str
    messages: list[Message] = field(default_factory=list)
    raw: list[bytes] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def smtp_receiver(user: str = "alerts", password: str = "smtp-Pa55word") -> Iterator[SmtpReceiver]:
    """aiosmtpd on 127.0.0.1 with STARTTLS required and AUTH only after it."""
    pem, context = self_signed("127.0.0.1", ip="127.0.0.1")
    state = SmtpReceiver("127.0.0.1", _free_port(), pem, user, password)

    class Handler:
        async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
            data = envelope.original_content or b""
            state.raw.append(data)
            state.messages.append(message_from_bytes(data))
            return "250 OK"

    def authenticate(
        server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login.decode() == user
            and auth_data.password.decode() == password
        )
        if ok:
            state.logins.append(user)
        return AuthResult(success=ok)

    controller = Controller(
        Handler(),
        hostname=state.host,
        port=state.port,
        tls_context=context,
        require_starttls=True,
        authenticator=authenticate,
        auth_require_tls=True,
        server_hostname="127.0.0.1",
    )
    controller.start()
    try:
        yield state
    finally:
        controller.stop()
