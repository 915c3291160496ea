"""Envelope encryption of credentials and config secrets (AES-256-GCM).

A master key (a file in the data dir, or ``TIKGUARD_MASTER_KEY``) wraps one data key
per tenant and key version (``tenant_keys``); data keys encrypt the values. Every
ciphertext is bound by associated data to its tenant, purpose and record, so a blob
copied to another row or tenant fails to decrypt instead of yielding someone else's
secret. Errors name key ids and records, never key material or plaintext.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import os
import stat
import struct
import threading
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import select
from sqlalchemy.orm import Session

from tikguard.settings import Settings
from tikguard.store.errors import VaultError
from tikguard.store.models import Tenant, TenantKey

KEY_BYTES = 32
NONCE_BYTES = 12
_FORMAT = 1
_HEADER = struct.Struct(">BI")  # format, data-key version
_WRAP_FORMAT = 1
_MAX_KEY_VERSION = 2**31 - 1  # a signed 32-bit column on every backend


def _key_id(key: bytes) -> str:
    """A public fingerprint of a key: names it in errors without revealing it."""
    return hashlib.sha256(b"tikguard key id\x00" + key).hexdigest()[:16]


@dataclass(frozen=True, repr=False)
class MasterKey:
    """The master key and where it came from; ``repr`` shows only its id and source."""

    key: bytes = field(repr=False)
    source: str

    def __post_init__(self) -> None:
        if len(self.key) != KEY_BYTES:
            raise VaultError(f"the master key from {self.source} is not {KEY_BYTES} bytes")

    @property
    def key_id(self) -> str:
        return _key_id(self.key)

    def __repr__(self) -> str:
        return f"MasterKey(id={self.key_id}, source={self.source})"

    @classmethod
    def generate(cls, source: str = "generated") -> MasterKey:
        return cls(os.urandom(KEY_BYTES), source)

    @classmethod
    def from_base64(cls, value: str, source: str) -> MasterKey:
        try:
            raw = base64.b64decode(value.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise VaultError(f"the master key from {source} is not valid base64") from None
        return cls(raw, source)

    def encoded(self) -> str:
        return base64.b64encode(self.key).decode("ascii")


def write_key_file(path: Path, key: MasterKey) -> None:
    """Write ``key`` to a new file readable only by its owner (fails if it exists)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, (key.encoded() + "\n").encode("ascii"))
        os.fsync(fd)
    finally:
        os.close(fd)


def read_key_file(path: Path) -> MasterKey:
    """Read a master key file, refusing one that other users can read or write."""
    try:
        st = path.stat()
    except FileNotFoundError:
        raise VaultError(f"master key file {path} does not exist") from None
    if st.st_mode & (stat.S_IROTH | stat.S_IWOTH):
        raise VaultError(
            f"master key file {path} is readable or writable by every user "
            f"(mode {stat.S_IMODE(st.st_mode):o}); run `chmod 600 {path}` and try again"
        )
    try:
        content = path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise VaultError(f"cannot read master key file {path}: {type(exc).__name__}") from None
    return MasterKey.from_base64(content, f"file {path}")


def load_master_key(settings: Settings, *, create: bool | None = None) -> MasterKey:
    """The master key of ``settings``: the environment first, else the key file.

    The key file is created (mode 0600) only for the embedded default, i.e. when no key
    file path was configured; a configured path that does not exist is an error, so a
    typo never silently starts a new, empty key.
    """
    if settings.master_key:
        return MasterKey.from_base64(settings.master_key, "TIKGUARD_MASTER_KEY")
    path = settings.master_key_path()
    if create is None:
        create = not settings.master_key_file
    if not path.exists() and create:
        # FileExistsError: another process created it first; read theirs.
        with contextlib.suppress(FileExistsError):
            write_key_file(path, MasterKey.generate())
    return read_key_file(path)


def _aad(tenant_id: int, purpose: str, ref: str, header: bytes) -> bytes:
    return b"tikguard/v1\x00" + f"{tenant_id}\x00{purpose}\x00{ref}".encode() + b"\x00" + header


def _wrap_aad(tenant_id: int, version: int) -> bytes:
    return f"tikguard/v1\x00tenant-key\x00{tenant_id}\x00{version}".encode()


class Vault:
    """Encrypts and decrypts per-tenant values; caches unwrapped data keys in memory."""

    def __init__(self, master: MasterKey) -> None:
        self.master = master
        self._keys: dict[tuple[int, int], bytes] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Vault(master={self.master!r})"

    @classmethod
    def from_settings(cls, settings: Settings) -> Vault:
        return cls(load_master_key(settings))

    # --- data keys -------------------------------------------------------------

    def _wrap(self, tenant_id: int, version: int, data_key: bytes) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        sealed = AESGCM(self.master.key).encrypt(nonce, data_key, _wrap_aad(tenant_id, version))
        return bytes([_WRAP_FORMAT]) + nonce + sealed

    def _unwrap(self, row: TenantKey) -> bytes:
        if row.master_key_id != self.master.key_id:
            raise VaultError(
                f"tenant {row.tenant_id} data key v{row.version} is wrapped by master key "
                f"{row.master_key_id}, but the loaded master key is {self.master.key_id} "
                f"({self.master.source}); load the right master key"
            )
        blob = row.wrapped
        if len(blob) < 1 + NONCE_BYTES + 16 or blob[0] != _WRAP_FORMAT:
            raise VaultError(f"tenant {row.tenant_id} data key v{row.version} is corrupt")
        nonce, sealed = blob[1 : 1 + NONCE_BYTES], blob[1 + NONCE_BYTES :]
        try:
            key = AESGCM(self.master.key).decrypt(
                nonce, sealed, _wrap_aad(row.tenant_id, row.version)
            )
        except InvalidTag:
            raise VaultError(
                f"tenant {row.tenant_id} data key v{row.version} does not open with master key "
                f"{self.master.key_id}: the key row was altered or the master key is wrong"
            ) from None
        return key

    def verify_key(self, row: TenantKey) -> None:
        """Raise VaultError unless this master key opens the wrapped data key ``row``."""
        self._unwrap(row)

    def add_data_key(self, session: Session, tenant_id: int, version: int) -> None:
        """Create data key ``version`` for a tenant (wrapped; plaintext only in memory)."""
        data_key = AESGCM.generate_key(bit_length=256)
        session.add(
            TenantKey(
                tenant_id=tenant_id,
                version=version,
                wrapped=self._wrap(tenant_id, version, data_key),
                master_key_id=self.master.key_id,
            )
        )
        with self._lock:
            self._keys[(tenant_id, version)] = data_key

    def _data_key(self, session: Session, tenant_id: int, version: int) -> bytes:
        with self._lock:
            cached = self._keys.get((tenant_id, version))
        if cached is not None:
            return cached
        row = session.get(TenantKey, (tenant_id, version))
        if row is None:
            raise VaultError(f"tenant {tenant_id} has no data key v{version}")
        key = self._unwrap(row)
        with self._lock:
            self._keys[(tenant_id, version)] = key
        return key

    def forget(self) -> None:
        """Drop cached data keys (after a rotation made by another process)."""
        with self._lock:
            self._keys.clear()

    def check(self, session: Session) -> int:
        """Unwrap every data key with this master key; return how many. Raises VaultError."""
        rows = session.scalars(select(TenantKey)).all()
        for row in rows:
            self._unwrap(row)
        return len(rows)

    # --- values ----------------------------------------------------------------

    def encrypt(
        self, session: Session, tenant_id: int, purpose: str, ref: str | int, plaintext: bytes
    ) -> bytes:
        """Encrypt ``plaintext`` for (tenant, purpose, ref) with the tenant's current key.

        Reads the current key version under a key-share lock (PostgreSQL), so a data-key
        rotation running at the same time waits for this transaction to end: it never
        drops a key that an uncommitted write has just used.
        """
        version = self.current_version(session, tenant_id)
        return self.encrypt_with(session, tenant_id, version, purpose, ref, plaintext)

    def current_version(self, session: Session, tenant_id: int) -> int:
        """The tenant's current data key version, read under :meth:`encrypt`'s lock (a
        batch reads it once and encrypts each value with :meth:`encrypt_with`)."""
        version = session.scalar(
            select(Tenant.data_key_version)
            .where(Tenant.id == tenant_id)
            .with_for_update(read=True, key_share=True)
        )
        if version is None:
            raise VaultError(f"tenant {tenant_id} does not exist")
        return version

    def encrypt_with(
        self,
        session: Session,
        tenant_id: int,
        version: int,
        purpose: str,
        ref: str | int,
        plaintext: bytes,
    ) -> bytes:
        key = self._data_key(session, tenant_id, version)
        header = _HEADER.pack(_FORMAT, version)
        nonce = os.urandom(NONCE_BYTES)
        sealed = AESGCM(key).encrypt(nonce, plaintext, _aad(tenant_id, purpose, str(ref), header))
        return header + nonce + sealed

    def decrypt(
        self, session: Session, tenant_id: int, purpose: str, ref: str | int, blob: bytes
    ) -> bytes:
        """Decrypt a blob made by :meth:`encrypt` for exactly this (tenant, purpose, ref)."""
        what = f"{purpose} of tenant {tenant_id} record {ref}"
        if len(blob) < _HEADER.size + NONCE_BYTES + 16:
            raise VaultError(f"cannot decrypt {what}: the ciphertext is truncated")
        header = blob[: _HEADER.size]
        fmt, version = _HEADER.unpack(header)
        if fmt != _FORMAT:
            raise VaultError(f"cannot decrypt {what}: unknown ciphertext format {fmt}")
        if not 1 <= version <= _MAX_KEY_VERSION:
            raise VaultError(f"cannot decrypt {what}: the ciphertext was altered (bad key version)")
        key = self._data_key(session, tenant_id, version)
        nonce = blob[_HEADER.size : _HEADER.size + NONCE_BYTES]
        try:
            return AESGCM(key).decrypt(
                nonce,
                blob[_HEADER.size + NONCE_BYTES :],
                _aad(tenant_id, purpose, str(ref), header),
            )
        except InvalidTag:
            raise VaultError(
                f"cannot decrypt {what}: the ciphertext was altered or belongs to another record"
            ) from None

    @staticmethod
    def key_version_of(blob: bytes) -> int:
        """The data key version a blob was made with (from its header)."""
        _fmt, version = _HEADER.unpack(blob[: _HEADER.size])
        return int(version)

    # --- rotation --------------------------------------------------------------

    def rewrap_all(self, session: Session, new_master: MasterKey) -> tuple[Vault, int]:
        """Re-wrap every tenant's data keys with ``new_master``; return the new vault and
        how many keys were re-wrapped.

        Runs in the caller's transaction: on any error nothing changes. Data keys stay
        the same, so no value needs re-encrypting.
        """
        new_vault = Vault(new_master)
        rows = session.scalars(select(TenantKey).with_for_update()).all()
        for row in rows:
            data_key = self._unwrap(row)
            row.wrapped = new_vault._wrap(row.tenant_id, row.version, data_key)
            row.master_key_id = new_master.key_id
            new_vault._keys[(row.tenant_id, row.version)] = data_key
        session.flush()
        return new_vault, len(rows)
