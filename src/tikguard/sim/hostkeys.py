"""Per-device SSH host keys, persistent in the device's state folder.

A router keeps its host key across reboots and restarts of the simulator, like the
real one keeps it in flash; tikguard pins it on first use. Keys are made lazily (on
the first connection or when a test asks for the fingerprint), so starting ten
thousand routers costs no key generation at all, and ed25519 keeps the first
connection cheap. RouterOS 7 also offers RSA (``/ip ssh host-key-type``); choose it
with ``algorithm="ssh-rsa"`` where a test needs it.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import MappingProxyType

import asyncssh

#: Algorithm name -> file name, as RouterOS-like as a plain file can be.
_FILE_NAMES = MappingProxyType(
    {"ssh-ed25519": "ssh_host_ed25519_key", "ssh-rsa": "ssh_host_rsa_key"}
)


class HostKeyStore:
    """One device's host key: loaded from ``folder`` or made once and written there."""

    __slots__ = ("_algorithm", "_folder", "_key")

    def __init__(self, folder: Path | None, algorithm: str = "ssh-ed25519") -> None:
        if algorithm not in _FILE_NAMES:
            raise ValueError(f"unsupported host key algorithm {algorithm!r}")
        self._folder = folder
        self._algorithm = algorithm
        self._key: asyncssh.SSHKey | None = None

    @property
    def path(self) -> Path | None:
        return None if self._folder is None else self._folder / _FILE_NAMES[self._algorithm]

    def key(self) -> asyncssh.SSHKey:
        """The private host key (loads or generates it on first use)."""
        if self._key is None:
            path = self.path
            if path is not None and path.exists():
                self._key = asyncssh.read_private_key(path)
            else:
                self._key = self._generate()
        return self._key

    def public_openssh(self) -> str:
        """``ssh-ed25519 AAAA...``: what a ``known_hosts`` line carries after the host."""
        data: bytes = self.key().export_public_key("openssh")
        return data.decode("ascii").strip()

    def fingerprint(self) -> str:
        """``SHA256:...`` as OpenSSH prints it."""
        result: str = self.key().get_fingerprint("sha256")
        return result

    def rotate(self, key: asyncssh.SSHKey | None = None) -> asyncssh.SSHKey:
        """Replace the key (a reinstalled router, or an impostor) and persist the new one;
        ``key``: put that one (an earlier key: the impostor gone) instead of a new one."""
        self._key = self._generate() if key is None else self._keep(key)
        return self._key

    def _generate(self) -> asyncssh.SSHKey:
        return self._keep(asyncssh.generate_private_key(self._algorithm))

    def _keep(self, key: asyncssh.SSHKey) -> asyncssh.SSHKey:
        path = self.path
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(key.export_private_key("openssh"))
            os.chmod(tmp, 0o600)
            tmp.replace(path)
        return key
