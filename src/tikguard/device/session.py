"""An SSH session to one RouterOS device: pinned host key, commands, SFTP.

Why this module exists: RouterOS is not a Unix host. Its exec exit status is 0 even
when a command fails, it prints CRLF and sometimes ANSI codes, and an impostor that
answers on the management address must never see the password. So:

* the host key is checked *before* authentication against the pinned key (trust on
  first use: with no pin, the presented key is returned for the caller to store);
* every command's text is cleaned and searched for RouterOS error lines, raising
  :class:`RouterOSCommandError` with the command (secrets redacted);
* every failure is a typed :mod:`tikguard.device.errors` error naming the device.

Timeouts come from :class:`tikguard.settings.Settings` in device seconds.

Usage::

    async with await connect(target, settings) as session:
        text = await session.run("/system resource print")
        if session.first_use:
            store(session.host_key)       # pin it
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Final

import asyncssh

from tikguard.device.errors import (
    AuthFailed,
    ConnectionLost,
    DeviceError,
    DeviceTimeout,
    HostKeyChanged,
    RouterOSCommandError,
    TransferFailed,
    Unreachable,
)
from tikguard.device.hostkey import fingerprint
from tikguard.routeros.output import clean_output, find_error
from tikguard.routeros.quoting import quote
from tikguard.routeros.schema import SENSITIVE_EVERYWHERE
from tikguard.settings import Settings

#: RouterOS login options appended to the user name: no colours, no terminal
#: detection, a wide and tall virtual terminal so ``print`` output is not wrapped.
DEFAULT_LOGIN_OPTIONS: Final = "ct511w4098h"

__all__ = [
    "DEFAULT_LOGIN_OPTIONS",
    "DeviceSession",
    "Target",
    "connect",
    "fetch_host_key",
    "fingerprint",
    "quote",
    "redact",
]


@dataclass(frozen=True)
class Target:
    """How to reach one router. ``host_key`` is the pinned key (OpenSSH format) or None."""

    name: str
    host: str
    port: int
    username: str
    password: str = field(repr=False)
    host_key: str | None = None


_SENSITIVE_ARG: Final = re.compile(
    r"(?<![\w-])((?:"
    + "|".join(re.escape(k) for k in sorted(SENSITIVE_EVERYWHERE, key=len, reverse=True))
    + r')=)("(?:[^"\\]|\\.)*"|[^\s\]]*)'
)


def redact(command: str, secrets: Iterable[str] = ()) -> str:
    """``command`` with sensitive ``key=value`` arguments and the given secrets masked."""
    text = _SENSITIVE_ARG.sub(r"\1***", command)
    for secret in secrets:
        if secret:
            text = text.replace(quote(secret), "***").replace(secret, "***")
    return text


class _PinningClient(asyncssh.SSHClient):
    """Remembers the key a server presented when it was not the pinned one."""

    def __init__(self, trust_on_first_use: bool) -> None:
        self.presented: Any = None
        self._tofu = trust_on_first_use

    def validate_host_public_key(self, host: str, addr: str, port: int, key: Any) -> bool:
        # Called only for keys not in the trusted set: unpinned (first use) or changed.
        self.presented = key
        return self._tofu


class DeviceSession:
    """One authenticated SSH connection to a router. Use as an async context manager."""

    def __init__(
        self,
        target: Target,
        settings: Settings,
        conn: asyncssh.SSHClientConnection,
        host_key: str,
        first_use: bool,
    ) -> None:
        self.target = target
        self.settings = settings
        self._conn = conn
        #: The key the router presented (OpenSSH format): equal to the pin unless first use.
        self.host_key = host_key
        #: True when no key was pinned: the caller should pin :attr:`host_key`.
        self.first_use = first_use
        self._sftp: asyncssh.SFTPClient | None = None

    @property
    def name(self) -> str:
        return self.target.name

    @property
    def host_key_fingerprint(self) -> str:
        return fingerprint(self.host_key)

    async def run(
        self,
        command: str,
        *,
        device_timeout: float | None = None,
        check: bool = True,
        secrets: Iterable[str] = (),
    ) -> str:
        """Run one console command; return its cleaned output (``\\n`` line endings).

        ``device_timeout`` is in device seconds (default: ``settings.command_timeout``).
        With ``check`` (the default), a RouterOS error line in the output raises
        :class:`RouterOSCommandError`. ``secrets`` are masked in any error text.
        """
        limit = self.settings.seconds(
            self.settings.command_timeout if device_timeout is None else device_timeout
        )
        secrets = tuple(secrets)
        shown = redact(command, secrets)
        try:
            async with asyncio.timeout(limit):
                result = await self._conn.run(command, check=False, encoding=None)
        except TimeoutError:
            raise DeviceTimeout(
                self.name,
                f"{self.name}: `{shown}` did not finish within {self._device_seconds(limit):g} s",
                hint="the router is slow or overloaded; retry, or raise TIKGUARD_COMMAND_TIMEOUT",
            ) from None
        except (asyncssh.Error, OSError) as exc:
            raise self._lost(exc, f"while running `{shown}`") from None
        if result.exit_status is None and result.exit_signal is None and self._conn.is_closed():
            # The channel ended without an exit status because the connection died:
            # whatever output arrived is partial and must not be taken as the answer.
            raise self._lost(ConnectionError("closed by the router"), f"while running `{shown}`")
        raw = _as_bytes(result.stdout) + _as_bytes(result.stderr)
        text = clean_output(raw)
        if check:
            error = find_error(text)
            if error is not None:
                masked = redact(text, secrets)
                raise RouterOSCommandError(self.name, shown, redact(error, secrets), masked)
        return text

    async def _sftp_client(self) -> asyncssh.SFTPClient:
        if self._sftp is None:
            self._sftp = await self._conn.start_sftp_client()
        return self._sftp

    async def upload(
        self, remote_path: str, data: bytes, *, device_timeout: float | None = None
    ) -> None:
        """Write ``data`` to ``remote_path`` on the router over SFTP."""
        limit = self.settings.seconds(
            self.settings.command_timeout if device_timeout is None else device_timeout
        )
        try:
            async with asyncio.timeout(limit):
                sftp = await self._sftp_client()
                async with sftp.open(remote_path, "wb") as handle:
                    await handle.write(data)
        except TimeoutError:
            raise DeviceTimeout(
                self.name, f"{self.name}: upload of {remote_path} did not finish in time"
            ) from None
        except asyncssh.SFTPError as exc:
            raise TransferFailed(
                self.name, f"{self.name}: upload of {remote_path} failed: {exc.reason}"
            ) from None
        except (asyncssh.Error, OSError) as exc:
            raise self._lost(exc, f"during upload of {remote_path}") from None

    async def download(self, remote_path: str, *, device_timeout: float | None = None) -> bytes:
        """Read ``remote_path`` from the router over SFTP."""
        limit = self.settings.seconds(
            self.settings.command_timeout if device_timeout is None else device_timeout
        )
        try:
            async with asyncio.timeout(limit):
                sftp = await self._sftp_client()
                async with sftp.open(remote_path, "rb") as handle:
                    data = await handle.read()
        except TimeoutError:
            raise DeviceTimeout(
                self.name, f"{self.name}: download of {remote_path} did not finish in time"
            ) from None
        except asyncssh.SFTPError as exc:
            raise TransferFailed(
                self.name, f"{self.name}: download of {remote_path} failed: {exc.reason}"
            ) from None
        except (asyncssh.Error, OSError) as exc:
            raise self._lost(exc, f"during download of {remote_path}") from None
        return _as_bytes(data)

    async def close(self) -> None:
        """Close the SFTP channel and the connection; never raises."""
        try:
            if self._sftp is not None:
                self._sftp.exit()
            self._conn.close()
            await asyncio.wait_for(self._conn.wait_closed(), self.settings.seconds(5))
        except (asyncssh.Error, OSError, TimeoutError):
            pass

    async def __aenter__(self) -> DeviceSession:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def _limit(self, device_timeout: float | None) -> float:
        """Wall seconds for a command limit given in device seconds (default: setting)."""
        if device_timeout is None:
            device_timeout = self.settings.command_timeout
        return self.settings.seconds(device_timeout)

    def _device_seconds(self, wall: float) -> float:
        return wall * self.settings.time_scale

    def _lost(self, exc: BaseException, during: str) -> DeviceError:
        return ConnectionLost(
            self.name,
            f"{self.name}: connection lost {during} ({_describe(exc)})",
            hint="the router may have rebooted or a firewall cut the session; "
            "check reachability and run the operation again",
        )


def _as_bytes(data: object) -> bytes:
    if isinstance(data, bytes | bytearray):
        return bytes(data)
    if isinstance(data, str):
        return data.encode("utf-8", "surrogateescape")
    return b""


def _describe(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None)
    text = str(reason or exc) or type(exc).__name__
    return text


#: Ciphers in the order we offer them: AES-GCM and AES-CTR first (the CPU does AES; a
#: ChaCha20-Poly1305 packet costs the controller about five times as much in asyncssh),
#: ChaCha20 last. Every one of them stays on offer, so any router still finds one.
PREFERRED_CIPHERS: Final = (
    "aes128-gcm@openssh.com",
    "aes256-gcm@openssh.com",
    "aes128-ctr",
    "aes192-ctr",
    "aes256-ctr",
    "chacha20-poly1305@openssh.com",
)


async def connect(
    target: Target,
    settings: Settings,
    *,
    login_options: str | None = DEFAULT_LOGIN_OPTIONS,
    device_timeout: float | None = None,
) -> DeviceSession:
    """Open an authenticated session to ``target``, checking its host key first.

    ``device_timeout`` is in device seconds (default: ``settings.connect_timeout``) and covers
    TCP connect, key exchange and authentication.
    """
    limit = settings.seconds(settings.connect_timeout if device_timeout is None else device_timeout)
    pinned: Any = None
    if target.host_key:
        try:
            pinned = asyncssh.import_public_key(target.host_key)
        except (asyncssh.KeyImportError, ValueError):
            raise DeviceError(
                target.name,
                f"{target.name}: the pinned host key is not a readable public key",
                hint=f"run: tikguard device accept-hostkey {target.name}",
            ) from None
    try:
        return await _connect(target, settings, pinned, login_options, limit)
    except DeviceError as exc:
        exc.first_contact = pinned is None
        raise


async def _connect(
    target: Target, settings: Settings, pinned: Any, login_options: str | None, limit: float
) -> DeviceSession:
    client = _PinningClient(trust_on_first_use=pinned is None)
    username = target.username + (f"+{login_options}" if login_options else "")
    try:
        async with asyncio.timeout(limit):
            conn = await asyncssh.connect(
                target.host,
                target.port,
                username=username,
                password=target.password,
                known_hosts=([pinned] if pinned is not None else [], [], []),
                client_factory=lambda: client,
                client_keys=None,
                agent_path=None,
                config=None,
                preferred_auth="password,keyboard-interactive",
                kbdint_auth=True,
                connect_timeout=limit,
                keepalive_interval=max(settings.seconds(60), 5.0),
                encryption_algs=list(PREFERRED_CIPHERS),
            )
    except TimeoutError:
        raise Unreachable(
            target.name,
            f"{target.name}: no SSH answer from {target.host}:{target.port} within "
            f"{limit * settings.time_scale:g} s",
            hint="check the address, the port and that /ip service ssh allows this "
            "controller; raise TIKGUARD_CONNECT_TIMEOUT for slow links",
        ) from None
    except asyncssh.HostKeyNotVerifiable:
        presented = client.presented or await _fetch_key(target, limit)
        raise HostKeyChanged(
            target.name,
            fingerprint(target.host_key or ""),
            _fingerprint_of(presented),
            _openssh(presented),
        ) from None
    except asyncssh.KeyExchangeFailed:
        if pinned is not None:
            # The router no longer offers the pinned key's algorithm at all.
            presented = await _fetch_key(target, limit)
            raise HostKeyChanged(
                target.name,
                fingerprint(target.host_key or ""),
                _fingerprint_of(presented),
                _openssh(presented),
            ) from None
        raise Unreachable(
            target.name, f"{target.name}: SSH key exchange with {target.host} failed"
        ) from None
    except asyncssh.PermissionDenied:
        raise AuthFailed(
            target.name,
            f"{target.name}: {target.host} refused the login for user {target.username!r}",
            hint=f"check the username and password (tikguard device show {target.name}); "
            "the user also needs the ssh policy",
        ) from None
    except (asyncssh.Error, OSError) as exc:
        raise Unreachable(
            target.name,
            f"{target.name}: cannot connect to {target.host}:{target.port} ({_describe(exc)})",
            hint="check that the router is up, the address and port are right and "
            "/ip service ssh is enabled for this controller",
        ) from None
    if pinned is not None:
        return DeviceSession(target, settings, conn, (target.host_key or "").strip(), False)
    key_text = _openssh(conn.get_server_host_key()) or ""
    return DeviceSession(target, settings, conn, key_text, first_use=True)


def _fingerprint_of(key: Any) -> str | None:
    if key is None:
        return None
    return str(key.get_fingerprint("sha256"))


def _openssh(key: Any) -> str | None:
    if key is None:
        return None
    return str(key.export_public_key("openssh").decode().strip())


async def _fetch_key(target: Target, limit: float) -> Any:
    """Whatever key the host presents now (key exchange only, no authentication)."""
    try:
        async with asyncio.timeout(limit):
            return await asyncssh.get_server_host_key(target.host, target.port, config=None)
    except (asyncssh.Error, OSError, TimeoutError):
        return None


async def fetch_host_key(host: str, port: int, settings: Settings, *, name: str = "") -> str:
    """The host key a router presents now (OpenSSH format), without logging in.

    Used to show an operator the new key's fingerprint before accepting it.
    """
    target = Target(name or host, host, port, "", "")
    key = await _fetch_key(target, settings.seconds(settings.connect_timeout))
    text = _openssh(key)
    if text is None:
        raise Unreachable(
            target.name,
            f"{target.name}: could not read the host key of {host}:{port}",
            hint="check that the router is up and its SSH service answers",
        )
    return text
