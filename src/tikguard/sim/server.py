"""One router's SSH endpoint: a listening socket, the gate in front of SSH, live sessions.

Each router owns one TCP listening socket (tikguard connects by host and port) but
no asyncssh listener object: the accept loop is a single reader callback, the SSH
options are built on the first connection and the host key is made lazily, so an
idle router costs a socket and a few hundred bytes here.

Reachability (see :mod:`tikguard.sim.network`):

* While the router is powered off or booting, the socket stops accepting and its
  backlog shrinks to one: the kernel keeps at most one half-open attempt queued and
  drops further SYNs, so clients time out exactly as on a dead router. Once it is
  up, anything still queued is served.
* A ``drop`` verdict for an accepted connection holds it silently (no SSH banner);
  the client times out in the banner exchange. If the path opens again while the
  client still waits, its SSH session starts then, like a retransmitted SYN that
  finally gets through.
* A ``refuse`` verdict closes the connection with a TCP reset at once.

Live sessions are cut on ``rebooting``/``powered-off`` and when a ``config-changed``
event drops management traffic for them (asked as an established session, so a
firewall that accepts established connections first keeps them; disabling or moving
the SSH service leaves open sessions alone): from then on nothing reaches the client and
the client notices by its own timeouts, as with a real router. When the router is
back up, or the path opens again, a cut connection is reset (the router no longer
knows it). ``drop-connections`` resets every session at once.

The endpoint's port stands for the router's SSH port (22 by default). When
``/ip service set ssh port=N`` moves the service, the endpoint moves too, as RouterOS
re-listens: it binds port N on its host if that is free, else any free port, stops
listening on the old one (new connections there are refused; open sessions stay), and
calls ``on_moved`` (the fleet rewrites its inventory).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import socket
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import asyncssh

from tikguard.sim.hostkeys import HostKeyStore
from tikguard.sim.login import parse_login
from tikguard.sim.network import (
    RandomDisconnects,
    Verdict,
    arm_reset,
    management_verdict,
    reset_socket,
)
from tikguard.sim.sftp import RouterSFTPServer, has_policy
from tikguard.sim.shell import serve_session

if TYPE_CHECKING:
    from tikguard.sim.router import SimRouter

#: Accept queue while serving; while down it shrinks to 0 (one queued attempt).
BACKLOG = 128
#: Silent connections kept per router while management is cut (more are reset).
MAX_HELD = 64
#: RouterOS's SSH server identifies itself as ``SSH-2.0-ROSSSH``.
SERVER_VERSION = "ROSSSH"


def base_options(**overrides: Any) -> asyncssh.SSHServerConnectionOptions:
    """The SSH options every router shares; each adds its host key and handlers."""
    kwargs: dict[str, Any] = {
        "password_auth": True,
        "public_key_auth": False,
        "line_editor": False,
        "encoding": "utf-8",
        "errors": "replace",
        "server_version": SERVER_VERSION,
        "allow_scp": True,  # RouterOS accepts scp; it reaches the same file store as SFTP
        "agent_forwarding": False,
        "x11_forwarding": False,
        "keepalive_interval": 0,
    }
    kwargs.update(overrides)
    return asyncssh.SSHServerConnectionOptions(**kwargs)


class _GatedTransport:
    """The transport asyncssh writes to: swallows everything once the session is cut."""

    __slots__ = ("_conn", "_raw")

    def __init__(self, raw: asyncio.Transport, conn: SimConnection) -> None:
        self._raw = raw
        self._conn = conn

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not self._conn.cut:
            self._raw.write(data)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._raw, name)


class SimConnection(asyncssh.SSHServerConnection):
    """An asyncssh server connection that the router's network can cut or reset."""

    def __init__(
        self,
        device: DeviceServer,
        loop: asyncio.AbstractEventLoop,
        options: asyncssh.SSHServerConnectionOptions,
        prefix: bytes = b"",
    ) -> None:
        super().__init__(loop, options)
        self.device = device
        self.cut = False
        self.client_ip = ""
        self.local_ip = ""
        self._raw: asyncio.Transport | None = None
        self._prefix = prefix

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        raw = transport if isinstance(transport, asyncio.Transport) else None
        self._raw = raw
        peer = transport.get_extra_info("peername") or ("", 0)
        local = transport.get_extra_info("sockname") or ("", 0)
        self.client_ip, self.local_ip = str(peer[0]), str(local[0])
        self.device.live.add(self)
        gated: Any = _GatedTransport(raw, self) if raw is not None else transport
        super().connection_made(gated)
        if self._prefix:  # what the client sent while the connection was held
            prefix, self._prefix = self._prefix, b""
            self.data_received(prefix)

    def data_received(self, data: bytes, datatype: Any = None) -> None:
        if not self.cut:
            super().data_received(data, datatype)

    def eof_received(self) -> None:
        if self.cut:
            self.reset()
            return
        super().eof_received()

    def connection_lost(self, exc: Exception | None = None) -> None:
        self.device.live.discard(self)
        super().connection_lost(exc)

    def blackhole(self) -> None:
        """Nothing more reaches the client (the path to the router is gone)."""
        self.cut = True

    def reset(self) -> None:
        """Close with a TCP reset."""
        self.cut = True
        raw = self._raw
        if raw is None or raw.is_closing():
            return
        sock = raw.get_extra_info("socket")
        if sock is not None:
            arm_reset(sock)
        raw.abort()


class _SSHServer(asyncssh.SSHServer):
    """Authentication against the router's users (the login options stripped)."""

    def __init__(self, device: DeviceServer) -> None:
        self._device = device

    def begin_auth(self, username: str) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return True

    def validate_password(self, username: str, password: str) -> bool:
        router = self._device.router
        user = parse_login(username).user
        if not router.is_up or not router.authenticate(user, password):
            return False
        return has_policy(router.user_policies(user), "ssh")


class DeviceServer:
    """The SSH/SFTP endpoint of one simulated router on one host:port."""

    __slots__ = (
        "_base",
        "_held",
        "_loop",
        "_options",
        "_paused",
        "_sock",
        "_tasks",
        "host",
        "hostkeys",
        "live",
        "on_moved",
        "port",
        "random_disconnects",
        "router",
        "router_port",
    )

    def __init__(
        self,
        router: SimRouter,
        *,
        hostkeys: HostKeyStore,
        options: asyncssh.SSHServerConnectionOptions,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.router = router
        self.hostkeys = hostkeys
        self.host = host
        self.port = port
        #: The router-side port this endpoint stands for (what ``/ip service`` says).
        self.router_port = router.ssh_port()
        self.live: set[SimConnection] = set()
        self.random_disconnects: RandomDisconnects | None = None
        #: Called after the listener moved to a new port (``/ip service ssh port=``).
        self.on_moved: Callable[[DeviceServer], None] | None = None
        self._base = options
        self._options: asyncssh.SSHServerConnectionOptions | None = None
        self._sock: socket.socket | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._paused = False
        self._held: dict[socket.socket, bytearray] = {}
        self._tasks: set[asyncio.Task[Any]] = set()

    # -- life cycle ---------------------------------------------------------------
    def start(self) -> None:
        """Bind and listen (synchronous: thousands of routers start in one loop turn)."""
        self._loop = asyncio.get_running_loop()
        sock = self._bind(self.port)
        self._sock = sock
        self.port = sock.getsockname()[1]
        self.router.add_listener(self._on_event)
        if self.router.is_up:
            self._loop.add_reader(sock.fileno(), self._on_acceptable)
        else:
            self._pause()

    def _bind(self, port: int) -> socket.socket:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setblocking(False)
            sock.bind((self.host, port))
            sock.listen(0 if self._paused else BACKLOG)
        except BaseException:
            sock.close()
            raise
        return sock

    def _move(self, router_port: int) -> None:
        """Listen for the router's SSH service on its new port (see the module doc)."""
        old = self._sock
        if old is None or self._loop is None:
            return
        try:
            sock = self._bind(router_port)
        except OSError:  # taken (another router, another program) or privileged
            sock = self._bind(0)
        if not self._paused:
            self._loop.remove_reader(old.fileno())
        old.close()
        self._sock = sock
        self.port = sock.getsockname()[1]
        self.router_port = router_port
        if not self._paused:
            self._loop.add_reader(sock.fileno(), self._on_acceptable)
        if self.on_moved is not None:
            self.on_moved(self)

    async def close(self) -> None:
        """Stop listening and reset every connection."""
        remove = getattr(self.router, "remove_listener", None)
        if remove is not None:
            remove(self._on_event)
        if self._sock is not None and self._loop is not None:
            if not self._paused:
                self._loop.remove_reader(self._sock.fileno())
            self._sock.close()
            self._sock = None
        self.reset_all()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    # -- faults -------------------------------------------------------------------
    def reset_all(self) -> None:
        """Reset every live and held connection now."""
        for conn in list(self.live):
            conn.reset()
        for sock in list(self._held):
            self._drop_held(sock, reset=True)

    def change_host_key(self, key: asyncssh.SSHKey | None = None) -> str:
        """Give the router a new host key, or ``key`` (an earlier one back); existing
        sessions keep the old one."""
        self.hostkeys.rotate(key)
        self._options = None
        return self.hostkeys.fingerprint()

    def check_random_disconnect(self, conn: SimConnection) -> None:
        """Reset ``conn`` if the random-disconnect fault says so now."""
        rd = self.random_disconnects
        if rd is not None and rd.roll():
            conn.reset()
            raise ConnectionResetError("random disconnect (simulated fault)")

    # -- events from the router ---------------------------------------------------
    def _on_event(self, event: str) -> None:
        if event == "config-changed":
            self._reevaluate()  # held connections came in on the old port: refused
            wanted = self.router.ssh_port()
            if wanted != self.router_port:
                self._move(wanted)
        elif event in ("rebooting", "powered-off"):
            for conn in list(self.live):
                conn.blackhole()
            self._pause()
        elif event == "up":
            self.reset_all()
            self._resume()
        elif event == "drop-connections":
            self.reset_all()

    def _verdict(self, client_ip: str, local_ip: str, *, established: bool = False) -> Verdict:
        return management_verdict(
            self.router,
            client_ip=client_ip,
            local_ip=local_ip,
            port=self.router_port,
            established=established,
        )

    def _reevaluate(self) -> None:
        for conn in list(self.live):
            verdict = self._verdict(conn.client_ip, conn.local_ip, established=True)
            if conn.cut and verdict == "accept":
                conn.reset()  # the path is back, but the router's side of it is gone
            elif not conn.cut and verdict == "drop":
                conn.blackhole()
            # "refuse" (service disabled or moved) leaves established sessions alone
        for sock, buf in list(self._held.items()):
            verdict = self._held_verdict(sock)
            if verdict == "accept":
                self._release_held(sock, bytes(buf))
            elif verdict == "refuse":
                self._drop_held(sock, reset=True)

    # -- accepting ----------------------------------------------------------------
    def _pause(self) -> None:
        if self._paused or self._sock is None or self._loop is None:
            self._paused = True
            return
        self._loop.remove_reader(self._sock.fileno())
        self._sock.listen(0)
        self._paused = True

    def _resume(self) -> None:
        if not self._paused or self._sock is None or self._loop is None:
            return
        self._paused = False
        self._sock.listen(BACKLOG)
        self._loop.add_reader(self._sock.fileno(), self._on_acceptable)
        self._loop.call_soon(self._on_acceptable)  # serve what queued while down

    def _on_acceptable(self) -> None:
        sock = self._sock
        if sock is None or self._paused:
            return
        if not self.router.is_up:
            self._pause()
            return
        for _ in range(64):
            try:
                conn, addr = sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            conn.setblocking(False)
            local = conn.getsockname()
            verdict = self._verdict(str(addr[0]), str(local[0]))
            rd = self.random_disconnects
            if verdict == "refuse" or (verdict == "accept" and rd is not None and rd.roll()):
                reset_socket(conn)
            elif verdict == "drop":
                self._hold(conn)
            else:
                self._serve(conn)

    def _serve(self, conn: socket.socket, prefix: bytes = b"") -> None:
        loop = self._loop
        assert loop is not None
        options = self._ssh_options()
        factory = functools.partial(SimConnection, self, loop, options, prefix)
        task = loop.create_task(self._attach(loop, factory, conn))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @staticmethod
    async def _attach(loop: asyncio.AbstractEventLoop, factory: Any, conn: socket.socket) -> None:
        try:
            await loop.connect_accepted_socket(factory, conn)
        except OSError:
            conn.close()

    # -- held (silently dropped) connections --------------------------------------
    def _hold(self, conn: socket.socket) -> None:
        if len(self._held) >= MAX_HELD or self._loop is None:
            reset_socket(conn)
            return
        self._held[conn] = bytearray()
        self._loop.add_reader(conn.fileno(), self._on_held_readable, conn)

    def _held_verdict(self, conn: socket.socket) -> Verdict:
        try:
            peer, local = conn.getpeername(), conn.getsockname()
        except OSError:
            return "refuse"
        return self._verdict(str(peer[0]), str(local[0]))

    def _on_held_readable(self, conn: socket.socket) -> None:
        try:
            data = conn.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self._drop_held(conn, reset=False)
            return
        buf = self._held.get(conn)
        if buf is not None and len(buf) < 65536:
            buf.extend(data)

    def _unhold(self, conn: socket.socket) -> None:
        self._held.pop(conn, None)
        if self._loop is not None:
            with contextlib.suppress(ValueError, OSError):
                self._loop.remove_reader(conn.fileno())

    def _drop_held(self, conn: socket.socket, *, reset: bool) -> None:
        self._unhold(conn)
        if reset:
            reset_socket(conn)
        else:
            conn.close()

    def _release_held(self, conn: socket.socket, prefix: bytes) -> None:
        self._unhold(conn)
        self._serve(conn, prefix)

    # -- SSH ----------------------------------------------------------------------
    def _ssh_options(self) -> asyncssh.SSHServerConnectionOptions:
        if self._options is None:
            self._options = asyncssh.SSHServerConnectionOptions(
                options=self._base,
                server_host_keys=[self.hostkeys.key()],
                server_factory=functools.partial(_SSHServer, self),
                process_factory=self._session,
                sftp_factory=functools.partial(_make_sftp, self.router),
            )
        return self._options

    async def _session(self, process: asyncssh.SSHServerProcess[str]) -> None:
        conn = process.channel.get_connection()
        assert isinstance(conn, SimConnection)
        await serve_session(self.router, process, lambda: self.check_random_disconnect(conn))


def _make_sftp(router: SimRouter, chan: asyncssh.SSHServerChannel[bytes]) -> RouterSFTPServer:
    return RouterSFTPServer(chan, router)
