"""What every step of a guarded push needs: settings, the store, the device session.

One job: turn a push request (ids only) into the running controller's settings and
database, a device session with the pinned key (cached per push, see
:func:`device_session`), the on-device names, and the encrypted script. Nothing in a push
request or a step result carries a password or a script in clear.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
from collections.abc import AsyncIterator
from dataclasses import asdict
from typing import Any

from tikguard.device import guard as dev
from tikguard.device.errors import DeviceError
from tikguard.device.session import DeviceSession, Target, connect
from tikguard.ops.backup.snapshot import prepare
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


def load_target(req: dict[str, Any]) -> Target:
    def load(session: Any) -> Target:
        device = store_devices.get_device(session, req["tenant_id"], req["device_id"])
        password = store_devices.get_password(session, req["tenant_id"], req["device_id"])
        return Target(
            name=device.name,
            host=device.host,
            port=device.port,
            username=device.username,
            password=password or "",
            host_key=device.host_key,
        )

    with database().session() as session:
        return load(session)


async def connect_device(req: dict[str, Any]) -> DeviceSession:
    target = await asyncio.to_thread(load_target, req)
    if not target.host_key:
        raise DeviceError(
            target.name,
            f"{target.name} has no pinned host key",
            hint=f"back it up first (tikguard backup {target.name}) to pin its key",
        )
    return await connect(target, current_settings())


#: One open session per running push in this process, reused across its steps: a
#: guarded push is about ten device interactions, and an SSH handshake costs more
#: controller CPU than everything else a step does. Verification always opens a fresh
#: connection (that is part of the proof); after a crash the cache is simply empty.
_sessions: dict[str, DeviceSession] = {}


@contextlib.asynccontextmanager
async def device_session(
    req: dict[str, Any], *, fresh: bool = False
) -> AsyncIterator[DeviceSession]:
    """The push's cached session (``fresh``: a new TCP + SSH connection replacing it).

    A device error inside the block drops the session, so the next step reconnects.
    """
    op_id = req["op_id"]
    session = None if fresh else _sessions.get(op_id)
    if session is None:
        old = _sessions.pop(op_id, None)
        if old is not None:
            await old.close()
        session = await connect_device(req)
        _sessions[op_id] = session
    try:
        yield session
    except DeviceError:
        if _sessions.get(op_id) is session:
            del _sessions[op_id]
        await session.close()
        raise


async def forget_session(req: dict[str, Any]) -> None:
    _exports.pop(req["op_id"], None)
    session = _sessions.pop(req["op_id"], None)
    if session is not None:
        await session.close()


#: The export the preflight read and prepared (redacted, secrets, version, model), per
#: running push in this process: the pre-push version is stored from it, so one read
#: and one parse serve both (after a crash it is simply read again).
Prepared = tuple[str, dict[str, str], str | None, str | None]
_exports: dict[str, Prepared] = {}


def keep_export(req: dict[str, Any], prepared: Prepared) -> None:
    _exports[req["op_id"]] = prepared


def take_export(req: dict[str, Any]) -> Prepared | None:
    return _exports.pop(req["op_id"], None)


def decrypt_script(
    req: dict[str, Any], blob: str, *, purpose: str = SCRIPT_PURPOSE, db: Database | None = None
) -> str:
    """A text a push carries encrypted (its script, its revert-point password)."""
    store = db or database()

    def run(session: Any) -> bytes:
        raw = base64.b64decode(blob)
        data: bytes = store.vault.decrypt(session, req["tenant_id"], purpose, req["op_id"], raw)
        return data

    with store.session() as session:
        return run(session).decode("utf-8")


def encrypt_script(
    db: Database, tenant_id: int, op_id: str, script: str, *, purpose: str = SCRIPT_PURPOSE
) -> str:
    with db.session() as session:
        blob = db.vault.encrypt(session, tenant_id, purpose, op_id, script.encode())
    return base64.b64encode(blob).decode("ascii")


def names_for(req: dict[str, Any], on_flash: bool) -> dev.Names:
    return dev.Names(req["op_id"], on_flash)


def uptime_json(up: dev.Uptime) -> dict[str, float]:
    return asdict(up)


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
