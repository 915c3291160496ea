"""The pure fingerprint matches asyncssh's (what ssh-keygen prints) for every key type
a router offers, and refuses what is not an OpenSSH public key."""

from __future__ import annotations

import asyncssh
import pytest

from tikguard.device.hostkey import fingerprint


@pytest.mark.parametrize("alg", ["ssh-ed25519", "ecdsa-sha2-nistp256", "ssh-rsa"])
def test_same_fingerprint_as_asyncssh(alg: str) -> None:
    key = asyncssh.generate_private_key(alg, key_size=1024) if alg == "ssh-rsa" else None
    key = key or asyncssh.generate_private_key(alg)
    public = key.export_public_key().decode()
    assert fingerprint(public) == key.get_fingerprint("sha256")


@pytest.mark.parametrize(
    "bad", ["", "ssh-ed25519", "ssh-ed25519 !!notbase64", "ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIA=="]
)
def test_not_a_key_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="not an OpenSSH public key"):
        fingerprint(bad)
