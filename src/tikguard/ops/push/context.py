"""What every step of a guarded push needs: settings, the store, the device session.

One job: turn a push's spec (ids only) into the running controller's settings and
database, a device session with the pinned key (cached per push, see
:func:`device_session`), the on-device names, and the encrypted script. Nothing in a push
request or a step result carries a password or a script in clear.

What a running push keeps in this process between its steps has one owner:
:mod:`tikguard.ops.push.live`.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
from collections.abc import AsyncIterator

from sqlalchemy.orm import Session

from tikguard.device import guard as dev
from tikguard.device.errors import DeviceError
from tikguard.device.session import DeviceSession, Target, connect
from tikguard.ops.backup.snapshot import prepare
from tikguard.ops.push.live import Prepared, live
from tikguard.ops.push.results import PushSpec
from tikguard.ops.runtime import current
from tikguard.settings import Settings
from tikguard.store import devices as store_devices
from tikguard.store import versions as store_versions
from tikguard.store.db import Database

SCRIPT_PURPOSE = "push-script"


# -- context -------------------------------------------------------------------


def current_settings() -> Settings:
    return current().settings


def database() -> Database:
    return Database.shared(current_settings())


def margin(settings: Settings, window: float) -> float:
    """Device seconds before the deadline after which nothing is applied or committed."""
    return max(settings.push_margin_min, settings.push_margin_fraction * window)


# -- the device ------------------------------------------------------------------


def load_target(spec: PushSpec) -> Target:
    with database().session() as session:
        device, password = store_devices.get_login(session, spec.tenant_id, spec.device_id)
        return Target(
            name=device.name,
            host=device.host,
            port=device.port,
            username=device.username,
            password=password or "",
            host_key=device.host_key,
        )


async def connect_device(spec: PushSpec) -> DeviceSession:
    target = await asyncio.to_thread(load_target, spec)
    if not target.host_key:
        raise DeviceError(
            target.name,
            f"{target.name} has no pinned host key",
            hint=f"back it up first (tikguard backup {target.name}) to pin its key",
        )
    return await connect(target, current_settings())


@contextlib.asynccontextmanager
async def device_session(spec: PushSpec, *, fresh: bool = False) -> AsyncIterator[DeviceSession]:
    """The push's cached session (``fresh``: a new TCP + SSH connection replacing it).

    A device error inside the block drops the session, so the next step reconnects.
    """
    entry = live(spec.op_id)
    session = None if fresh else entry.session
    if session is None:
        old, entry.session = entry.session, None
        if old is not None:
            await old.close()
        session = await connect_device(spec)
        entry.session = session
    try:
        yield session
    except DeviceError:
        if entry.session is session:
            entry.session = None
        await session.close()
        raise


async def drop_session(spec: PushSpec) -> None:
    """Close the push's cached session (the next step reconnects)."""
    entry = live(spec.op_id)
    session, entry.session = entry.session, None
    if session is not None:
        await session.close()


def names_for(spec: PushSpec, on_flash: bool) -> dev.Names:
    return dev.Names(spec.op_id, on_flash)


# -- scripts ---------------------------------------------------------------------


def decrypt_script(
    spec: PushSpec, blob: str, *, purpose: str = SCRIPT_PURPOSE, db: Database | None = None
) -> str:
    """A text a push carries encrypted (its script, its revert-point password)."""
    store = db or database()

    def run(session: Session) -> bytes:
        raw = base64.b64decode(blob)
        data: bytes = store.vault.decrypt(session, spec.tenant_id, purpose, spec.op_id, raw)
        return data

    with store.session() as session:
        return run(session).decode("utf-8")


def encrypt_script(
    db: Database, tenant_id: int, op_id: str, script: str, *, purpose: str = SCRIPT_PURPOSE
) -> str:
    with db.session() as session:
        blob = db.vault.encrypt(session, tenant_id, purpose, op_id, script.encode())
    return base64.b64encode(blob).decode("ascii")


# -- exports ---------------------------------------------------------------------


def hash_of_export(raw: str) -> tuple[str, str]:
    redacted, _secrets, _version, _model = prepare(raw)
    return store_versions.hash_text(redacted), redacted


def prepared_export(raw: str) -> tuple[str, Prepared, str]:
    """``(hash, prepared, normalised)`` of a raw export: one normalisation and one
    :func:`prepare` for the hash, the version to store and the plan."""
    from tikguard.routeros.normalise import normalise

    normalised = normalise(raw)
    prepared = prepare(raw, normalised)
    return store_versions.hash_text(prepared[0]), prepared, normalised
