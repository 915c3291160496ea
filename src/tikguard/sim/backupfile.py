"""The ``.backup`` file format: opaque to everyone but the simulator.

A backup holds the router's whole configuration database (users included). It is
zlib-compressed JSON behind a magic number, optionally encrypted with a password
(a SHA-256 keystream: opaque, not secure), and padded to a plausible size.
"""

from __future__ import annotations

import hashlib
import json
import os
import zlib
from typing import Any

from tikguard.sim.configdb import ConfigDB, Item, MenuState

MAGIC = b"\x88\xac\xa1\xb2"
#: Real RouterOS backups are tens of KiB even for tiny configs.
MIN_SIZE = 16 * 1024


class BackupError(Exception):
    """RouterOS's text for a backup that cannot be loaded."""


def dump_db(db: ConfigDB) -> dict[str, Any]:
    menus = []
    for path, state in db.menus():
        menus.append(
            {
                "path": path,
                "values": state.values,
                "base": dict(state.base),
                "next_id": state.next_id,
                "items": [
                    {
                        "id": i.id,
                        "values": i.values,
                        "base": dict(i.base),
                        "ref": i.ref,
                        "flags": list(i.flags),
                    }
                    for i in state.items
                ],
            }
        )
    return {"menus": menus}


def load_db(data: dict[str, Any]) -> ConfigDB:
    db = ConfigDB()
    for menu in data["menus"]:
        state = db.write(menu["path"])
        state.values = dict(menu["values"])
        state.base = dict(menu["base"])
        state.next_id = int(menu["next_id"])
        state.items = [
            Item(
                id=int(i["id"]),
                values=dict(i["values"]),
                base=dict(i["base"]),
                ref=i["ref"],
                flags=tuple(i["flags"]),
            )
            for i in menu["items"]
        ]
    return db


def _keystream(password: str, salt: bytes, length: int) -> bytes:
    out = bytearray()
    counter = 0
    while len(out) < length:
        out += hashlib.sha256(password.encode() + salt + counter.to_bytes(8, "big")).digest()
        counter += 1
    return bytes(out[:length])


def encode(payload: dict[str, Any], password: str | None) -> bytes:
    body = zlib.compress(json.dumps(payload, separators=(",", ":")).encode())
    salt = os.urandom(16)
    if password:
        check = hashlib.sha256(password.encode() + salt).digest()[:8]
        body = bytes(
            a ^ b for a, b in zip(body, _keystream(password, salt, len(body)), strict=True)
        )
        head = MAGIC + b"\x01" + salt + check
    else:
        head = MAGIC + b"\x00" + salt + bytes(8)
    data = head + len(body).to_bytes(4, "big") + body
    if len(data) < MIN_SIZE:
        data += hashlib.sha256(salt).digest() * ((MIN_SIZE - len(data)) // 32 + 1)
        data = data[:MIN_SIZE]
    return data


def decode(data: bytes, password: str | None) -> dict[str, Any]:
    if not data.startswith(MAGIC) or len(data) < 33:
        raise BackupError("failure: not a backup file")
    encrypted = data[4] == 1
    salt = data[5:21]
    check = data[21:29]
    length = int.from_bytes(data[29:33], "big")
    body = data[33 : 33 + length]
    if encrypted:
        if not password or hashlib.sha256(password.encode() + salt).digest()[:8] != check:
            raise BackupError("failure: wrong password")
        body = bytes(
            a ^ b for a, b in zip(body, _keystream(password, salt, len(body)), strict=True)
        )
    try:
        result: dict[str, Any] = json.loads(zlib.decompress(body))
    except (zlib.error, ValueError):
        raise BackupError("failure: backup file is corrupted") from None
    return result


def restore_into(db: ConfigDB, data: dict[str, Any]) -> None:
    """Replace ``db``'s content with a backup's (as the router's own menus)."""
    loaded = load_db(data)
    db.reset({})
    for path, state in loaded.menus():
        own = db.write(path)
        own.items, own.values, own.base, own.next_id = (
            state.items,
            state.values,
            state.base,
            state.next_id,
        )


def state_copy(state: MenuState) -> MenuState:
    return state.copy()
