"""The RouterOS API (port 8728, API-SSL 8729) served from the simulated router's model.

Most RouterOS tooling (librouteros, routeros-api, the Ansible and Terraform providers)
talks this binary protocol rather than SSH. The simulator serves it from the same
configuration, console and reachability rules as its SSH side:

* Framing (MikroTik's "API" manual): a sentence is words, each prefixed by its length
  (1 to 4 bytes: ``0x80``, ``0xC0``, ``0xE0`` marker bits), ended by an empty word.
  The first word is the command (``/ip/address/print``), then ``=key=value``
  attributes, ``.tag=x``, ``.proplist=a,b`` (also as ``=.proplist=``) and ``?`` query
  words. Replies: ``!re`` per row, ``!done`` (``=ret=*N`` after ``add``), ``!trap
  =message=...`` on an error, ``!fatal`` before the connection closes; each reply to a
  tagged command carries ``.tag=x``.
* Login, post-6.43 form: ``/login =name= =password=``; the user needs the ``api``
  policy. A wrong password traps with ``invalid user name or password (6)``; any other
  command before login gets ``!fatal not logged in`` and the connection closes.
* ``print``: the menu's items as RouterOS's API lists them (``=.id=*N``, every value,
  ``yes``/``no`` as ``true``/``false``, ``disabled``/``dynamic`` flags), filtered by
  ``?`` queries (``?name=x``, ``?name``, ``?-name``, ``?<k=v``, ``?>k=v``, and the
  stack operations ``?#!``, ``?#&``, ``?#|``, ``?#.``), trimmed to ``.proplist``.
  Status menus (``/system/resource``) answer from the console's ``print``.
* ``add``/``set``/``remove``/``enable``/``disable`` and other commands run on the
  router's console with the user's policies (``=.id=*N`` and ``=numbers=`` address
  items), so errors are the console's (``failure: already have such entry``,
  ``no such item``) and reachability, history and exports follow as over SSH.
* ``/cancel`` answers ``!done``; ``/quit`` answers ``!fatal`` and closes.

A reboot, a power cut or ``drop-connections`` ends every API session at once.

Reachability: a connection is served only while ``/ip service api`` (``api-ssl`` for
TLS) is enabled on the port the endpoint stands for, its ``address=`` allows the
client, and the firewall lets it in (:mod:`tikguard.sim.reachability`); a refused
connection is closed at once, a dropped one is held silent until the client gives up.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import ssl
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from tikguard.routeros.quoting import quote
from tikguard.sim.configdb import Item
from tikguard.sim.context import Session
from tikguard.sim.reachability import service_port
from tikguard.sim.router import SimRouter

#: Replies to the login of an unknown user or a wrong password (RouterOS's text).
BAD_LOGIN = "invalid user name or password (6)"
_VERBS_WITH_ID = frozenset({"set", "remove", "enable", "disable", "unset", "move"})
_BOOL = MappingProxyType({"yes": "true", "no": "false"})


# -- framing -------------------------------------------------------------------------
def encode_length(length: int) -> bytes:
    if length < 0x80:
        return bytes([length])
    if length < 0x4000:
        return (length | 0x8000).to_bytes(2, "big")
    if length < 0x200000:
        return (length | 0xC00000).to_bytes(3, "big")
    if length < 0x10000000:
        return (length | 0xE0000000).to_bytes(4, "big")
    return b"\xf0" + length.to_bytes(4, "big")


def encode_sentence(words: Sequence[str]) -> bytes:
    out = bytearray()
    for word in words:
        data = word.encode("utf-8", "surrogateescape")
        out += encode_length(len(data)) + data
    out += b"\x00"
    return bytes(out)


async def read_word(reader: asyncio.StreamReader) -> str:
    first = (await reader.readexactly(1))[0]
    if first < 0x80:
        length = first
    elif first < 0xC0:
        length = int.from_bytes(bytes([first]) + await reader.readexactly(1), "big") ^ 0x8000
    elif first < 0xE0:
        length = int.from_bytes(bytes([first]) + await reader.readexactly(2), "big") ^ 0xC00000
    elif first < 0xF0:
        rest = await reader.readexactly(3)
        length = int.from_bytes(bytes([first]) + rest, "big") ^ 0xE0000000
    else:
        length = int.from_bytes(await reader.readexactly(4), "big")
    data = await reader.readexactly(length) if length else b""
    return data.decode("utf-8", "surrogateescape")


async def read_sentence(reader: asyncio.StreamReader) -> list[str]:
    words: list[str] = []
    while True:
        word = await read_word(reader)
        if word == "":
            if words:
                return words
            continue  # an empty sentence is ignored
        words.append(word)


# -- one request ------------------------------------------------------------------------
@dataclass
class Request:
    command: str
    attrs: dict[str, str] = field(default_factory=dict)
    queries: list[str] = field(default_factory=list)
    tag: str | None = None
    proplist: list[str] | None = None

    @classmethod
    def parse(cls, words: list[str]) -> Request:
        req = cls(words[0])
        for word in words[1:]:
            if word.startswith("="):
                key, _, value = word[1:].partition("=")
                if key == ".proplist":
                    req.proplist = [k for k in value.split(",") if k]
                else:
                    req.attrs[key] = value
            elif word.startswith(".tag="):
                req.tag = word[5:]
            elif word.startswith(".proplist="):
                req.proplist = [k for k in word[10:].split(",") if k]
            elif word.startswith("?"):
                req.queries.append(word[1:])
        return req

    @property
    def menu(self) -> str:
        """``/ip/address/print`` -> ``/ip address``."""
        parts = [p for p in self.command.split("/") if p]
        return "/" + " ".join(parts[:-1])

    @property
    def verb(self) -> str:
        return self.command.rstrip("/").rsplit("/", 1)[-1]


class Trap(Exception):
    def __init__(self, message: str, category: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.category = category


def api_row(item: Item) -> dict[str, str]:
    """An item as the API prints it: ``.id`` first, every value, booleans as words."""
    row = {".id": item.id_text()}
    for key, value in item.effective().items():
        row[key] = _BOOL.get(value, value)
    row.setdefault("disabled", "false")
    row["dynamic"] = "true" if item.dynamic else "false"
    return row


def matches(row: dict[str, str], queries: Sequence[str]) -> bool:
    """RouterOS API query words (without ``?``) evaluated on one row, as a stack."""
    stack: list[bool] = []
    for query in queries:
        if query.startswith("#"):
            for op in query[1:]:
                if op == "!" and stack:
                    stack.append(not stack.pop())
                elif op in "&|" and len(stack) >= 2:
                    b, a = stack.pop(), stack.pop()
                    stack.append(a and b if op == "&" else a or b)
                elif op == "." and stack:
                    stack.append(stack[-1])
                elif op.isdigit() and int(op) < len(stack):
                    stack.append(stack[-1 - int(op)])
            continue
        if query.startswith("-"):
            stack.append(query[1:] not in row)
        elif query.startswith(("<", ">")):
            key, _, value = query[1:].partition("=")
            stack.append(_compare(row.get(key), value, query[0]))
        elif query.startswith("="):
            key, _, value = query[1:].partition("=")
            stack.append(row.get(key) == value)
        elif "=" in query:
            key, _, value = query.partition("=")
            stack.append(row.get(key) == value)
        else:
            stack.append(query in row)
    return all(stack)


def _compare(have: str | None, value: str, op: str) -> bool:
    if have is None:
        return False
    try:
        a, b = _number(have), _number(value)
    except ValueError:
        return have < value if op == "<" else have > value
    return a < b if op == "<" else a > b


def _number(text: str) -> float:
    if text.startswith("*"):
        return int(text[1:], 16)
    try:
        return float(text)
    except ValueError:
        return int(ipaddress.ip_address(text.split("/")[0]))


# -- the connection ---------------------------------------------------------------------
class ApiConnection:
    """One client: login, then requests answered in order."""

    def __init__(self, router: SimRouter) -> None:
        self.router = router
        self.user: str | None = None

    async def handle(self, req: Request) -> tuple[list[list[str]], bool]:
        """The reply sentences for ``req``, and whether to close the connection."""
        if req.command == "/quit":
            return [["!fatal", "session terminated on request"]], True
        if req.command == "/login":
            return self._login(req), False
        if self.user is None:
            return [["!fatal", "not logged in"]], True
        if req.command == "/cancel":
            return [["!done"]], False
        try:
            rows, ret = await self._run(req, self.user)
        except Trap as trap:
            words = ["!trap"]
            if trap.category is not None:
                words.append(f"=category={trap.category}")
            words.append(f"=message={trap.message}")
            return [words, ["!done"]], False
        replies = [["!re", *(f"={k}={v}" for k, v in row.items())] for row in rows]
        done = ["!done"] if ret is None else ["!done", f"=ret={ret}"]
        return [*replies, done], False

    def _login(self, req: Request) -> list[list[str]]:
        name, password = req.attrs.get("name"), req.attrs.get("password", "")
        router = self.router
        if name and router.authenticate(name, password) and "api" in router.user_policies(name):
            self.user = name
            router.log(f"user {name} logged in via api", topic="system,info,account")
            return [["!done"]]
        return [["!trap", f"=message={BAD_LOGIN}"], ["!done"]]

    async def _run(self, req: Request, user: str) -> tuple[list[dict[str, str]], str | None]:
        session = Session(user, self.router.user_policies(user))
        if req.verb == "print":
            rows = await self._print(req, session)
            rows = [r for r in rows if matches(r, req.queries)]
            if req.proplist is not None:
                rows = [{k: r[k] for k in req.proplist if k in r} for r in rows]
            return rows, None
        state = self.router.db.read(req.menu)
        before = {i.id for i in state.items} if state is not None else set()
        output = await self.router.run_in(self._console_line(req), session)
        if output.strip():
            raise Trap(output.strip().splitlines()[0])
        if req.verb == "add":
            after = self.router.db.read(req.menu)
            new = [i for i in after.items if i.id not in before] if after is not None else []
            return [], new[-1].id_text() if new else None
        return [], None

    async def _print(self, req: Request, session: Session) -> list[dict[str, str]]:
        if "read" not in session.policies:
            raise Trap("not enough permissions (9)")
        state = self.router.db.read(req.menu)
        if state is not None and state.items:
            return [api_row(item) for item in state.items]
        if state is not None and (state.values or state.base):
            return [{k: _BOOL.get(v, v) for k, v in state.singleton_effective().items()}]
        # A status menu (/system/resource): the console's print, ``key: value`` lines.
        output = await self.router.run_in(f"{req.menu} print", session)
        row: dict[str, str] = {}
        for line in output.splitlines():
            key, sep, value = line.strip().partition(": ")
            if sep and key and " " not in key:
                row[key] = value
        if not row and output.strip():
            raise Trap(output.strip().splitlines()[0])
        return [row] if row else []

    @staticmethod
    def _console_line(req: Request) -> str:
        """The console command an API request stands for (every value quoted)."""
        attrs = dict(req.attrs)
        words = [req.menu, req.verb]
        target = attrs.pop(".id", None) or attrs.pop("numbers", None)
        if target is not None and req.verb in _VERBS_WITH_ID:
            words.append(target)
        elif target is not None:
            words.append(f"numbers={quote(target)}")
        for key, value in attrs.items():
            words.append(f"{key}={quote(value)}")
        return " ".join(words)


# -- the listener -------------------------------------------------------------------------
class ApiServer:
    """The API endpoint of one router (plain, or TLS for API-SSL) on a loopback port.

    The port stands for the router's ``/ip service api`` (``api-ssl``) port, as the SSH
    endpoint's does for ``ssh``.
    """

    def __init__(
        self,
        router: SimRouter,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.router = router
        self.host = host
        self.port = port
        self.tls = tls
        self.service = "api-ssl" if tls is not None else "api"
        #: The router-side port this endpoint stands for (``/ip service`` at start); a
        #: service moved to another port is no longer served here.
        self.router_port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self.router_port = service_port(self.router.db, self.service)
        self._server = await asyncio.start_server(
            self._serve, self.host, self.port, ssl=self.tls, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]
        self.router.add_listener(self._on_event)

    def _on_event(self, event: str) -> None:
        """A reboot or power cut ends every API session (the router forgets them)."""
        if event in ("rebooting", "powered-off", "drop-connections"):
            for writer in list(self._writers):
                writer.transport.abort()

    async def close(self) -> None:
        self.router.remove_listener(self._on_event)
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.close()
        if self._server is not None:
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
            self._server = None

    def _verdict(self, writer: asyncio.StreamWriter) -> str:
        peer = writer.get_extra_info("peername") or ("127.0.0.1", 0)
        return self.router.management_verdict(
            client_ip=str(peer[0]),
            local_ip=self.host,
            port=self.router_port,
            service=self.service,
        )

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        conn = ApiConnection(self.router)
        try:
            verdict = self._verdict(writer)
            if verdict == "refuse":
                return
            if verdict == "drop":
                await reader.read()  # silence until the client gives up
                return
            while True:
                words = await read_sentence(reader)
                if self._verdict(writer) != "accept":
                    await reader.read()
                    return
                req = Request.parse(words)
                replies, close = await conn.handle(req)
                for reply in replies:
                    if req.tag is not None:
                        reply = [*reply, f".tag={req.tag}"]
                    writer.write(encode_sentence(reply))
                await writer.drain()
                if close:
                    return
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
            return
        finally:
            self._writers.discard(writer)
            with contextlib.suppress(Exception):
                writer.close()


def self_signed_context(common_name: str = "tikguard-sim") -> ssl.SSLContext:
    """A server TLS context with a fresh self-signed certificate (API-SSL)."""
    return self_signed(common_name)[1]


def self_signed(
    common_name: str = "tikguard-sim", ip: str | None = None
) -> tuple[str, ssl.SSLContext]:
    """(certificate PEM, server TLS context) of a fresh self-signed certificate, valid for
    ``ip`` too when given (a client checking the name of 127.0.0.1 trusts the PEM)."""
    import datetime
    import ipaddress
    import tempfile
    from pathlib import Path

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=3650))
    )
    if ip is not None:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(ip))]),
            critical=False,
        ).add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
    cert = builder.sign(key, hashes.SHA256())
    pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with tempfile.TemporaryDirectory() as tmp:
        cert_path, key_path = Path(tmp) / "cert.pem", Path(tmp) / "key.pem"
        cert_path.write_text(pem)
        key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        ctx.load_cert_chain(cert_path, key_path)
    return pem, ctx
