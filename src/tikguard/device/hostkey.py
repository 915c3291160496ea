"""Host key fingerprints, computed without the SSH stack.

Listing devices shows each pinned key's fingerprint; computing it here (the SHA-256 of
the key blob, as ``ssh-keygen -l`` prints it) keeps asyncssh out of every command that
only reads the inventory.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import struct


def fingerprint(openssh_key: str) -> str:
    """The ``SHA256:...`` fingerprint of a public key in OpenSSH format
    (``ssh-ed25519 AAAA... comment``); ValueError for anything else."""
    parts = openssh_key.split()
    if len(parts) < 2:
        raise ValueError("not an OpenSSH public key")
    try:
        blob = base64.b64decode(parts[1], validate=True)
    except binascii.Error as exc:
        raise ValueError("not an OpenSSH public key: bad base64") from exc
    if len(blob) < 4:
        raise ValueError("not an OpenSSH public key: blob too short")
    (size,) = struct.unpack(">I", blob[:4])
    if blob[4 : 4 + size] != parts[0].encode("ascii", "replace"):
        raise ValueError("not an OpenSSH public key: its type and blob disagree")
    digest = base64.b64encode(hashlib.sha256(blob).digest()).decode("ascii")
    return "SHA256:" + digest.rstrip("=")
