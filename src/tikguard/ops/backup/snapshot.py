"""Read a router's configuration and prepare it for the history.

One job: from a :class:`~tikguard.device.session.Target` to a :class:`Snapshot` --
the export with secrets (``/export show-sensitive`` on 7.x, ``/export`` on 6.x),
normalised and split into redacted text plus a secrets map, and optionally the binary
``/system backup`` file. No database here; :mod:`tikguard.ops.backup` stores it.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final

from tikguard.device.errors import DeviceError, RouterOSCommandError
from tikguard.device.probe import resource
from tikguard.device.session import DeviceSession, Target, connect
from tikguard.ops.leftovers import EndedLookup, Found, read_on_router
from tikguard.routeros import secrets as ros_secrets
from tikguard.routeros.errors import ParseError
from tikguard.routeros.normalise import DATE_LINE, normalise
from tikguard.routeros.quoting import quote
from tikguard.routeros.values import version_tuple
from tikguard.settings import Settings

#: The export form tried on a router never backed up before (most fleets run 7.x).
ASSUMED_VERSION: Final = "7"
_MODEL_LINE: Final = re.compile(r"^# model = (.+)$", re.MULTILINE)
#: How many leading lines may hold the export's date line (after a prompt or banner).
_HEADER_LINES: Final = 5


@dataclass(frozen=True)
class Snapshot:
    """What one backup read from a router, ready to store."""

    #: Normalised export with sensitive values replaced by placeholders.
    redacted: str
    #: Placeholder -> value; kept encrypted beside the version.
    secrets: dict[str, str] = field(repr=False)
    ros_version: str | None
    model: str | None
    #: The key the router presented, and whether it was unpinned until now.
    host_key: str
    first_use: bool
    binary: bytes | None = field(default=None, repr=False)
    #: tikguard's own timers and files found on the router (None: not looked).
    tikguard: Found | None = None


def export_command(ros_version: str) -> str:
    """The export that includes secrets: ``show-sensitive`` exists (and is needed) on 7.x."""
    return "/export show-sensitive" if version_tuple(ros_version)[0] >= 7 else "/export"


def header_version(text: str) -> str | None:
    """The RouterOS version from an export's date line (``# ... by RouterOS 7.16``)."""
    for line in text.split("\n", _HEADER_LINES)[:_HEADER_LINES]:
        match = DATE_LINE.match(line.strip())
        if match:
            return match.group("version")
    return None


class ExportUnreadable(ValueError):
    """Export text that cannot be read as a RouterOS configuration."""


class MalformedExport(DeviceError):
    """The router's export could not be read as a RouterOS configuration: nothing stored."""

    reason = "malformed-export"


def prepare(
    raw_export: str, normalised: str | None = None
) -> tuple[str, dict[str, str], str | None, str | None]:
    """(redacted, secrets, version, model) from raw export text; ExportUnreadable if bad.
    ``normalised``: the caller's ``normalise(raw_export)``, when it has it already."""
    version = header_version(raw_export)
    if normalised is None:
        normalised = normalise(raw_export)
    if not normalised.strip():
        raise ExportUnreadable("the router returned an empty export")
    if version is None:
        raise ExportUnreadable(
            "the export has no `# ... by RouterOS x.y` header line (truncated or not an export)"
        )
    model_match = _MODEL_LINE.search(normalised)
    try:
        redacted, secrets = ros_secrets.split_text_secrets(normalised)
    except ParseError as exc:
        raise ExportUnreadable(f"the export could not be parsed: {exc.describe()}") from None
    return redacted, secrets, version, model_match.group(1).strip() if model_match else None


async def _export(session: DeviceSession, settings: Settings, version: str) -> str:
    return await session.run(export_command(version), device_timeout=settings.backup_timeout)


async def read_export(session: DeviceSession, settings: Settings, known_version: str | None) -> str:
    """The export with secrets, in as few commands as the router allows.

    The form follows ``known_version`` (from the last backup), else RouterOS 7's. If
    the router refuses it (6.x has no ``show-sensitive``), its version is read and the
    right form used; if the export's header shows another major version than assumed
    (a 7.x router exported plainly hides its secrets), it is exported again.
    """
    version = known_version or ASSUMED_VERSION
    try:
        text = await _export(session, settings, version)
    except RouterOSCommandError:
        actual = (await resource(session)).version
        if version_tuple(actual)[0] == version_tuple(version)[0]:
            raise
        version = actual
        text = await _export(session, settings, version)
    seen = header_version(text)
    if seen is not None and version_tuple(seen)[0] != version_tuple(version)[0]:
        text = await _export(session, settings, seen)
    return text


async def save_binary_backup(session: DeviceSession, settings: Settings) -> bytes:
    """``/system backup save`` (unencrypted: we encrypt it), download it, remove it."""
    stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S%f")
    name = f"tikguard-{stamp}"
    await session.run(
        f"/system backup save name={quote(name)} dont-encrypt=yes",
        device_timeout=settings.backup_timeout,
    )
    file_name = f"{name}.backup"
    try:
        return await session.download(file_name, device_timeout=settings.backup_timeout)
    finally:
        # A leftover file is harmless; the next backup uses a new name.
        with contextlib.suppress(RouterOSCommandError):
            await session.run(f"/file remove {quote(file_name)}")


async def take_snapshot(
    target: Target,
    settings: Settings,
    *,
    known_version: str | None = None,
    binary: bool = False,
    ended: EndedLookup | None = None,
) -> Snapshot:
    """Connect (pinned key), export with secrets, prepare; optionally the binary backup.

    With ``ended``, also look for what tikguard left on the router (and remove the files
    of operations that have ended: :mod:`tikguard.ops.leftovers`).
    """
    found: Found | None = None
    async with await connect(target, settings) as session:
        raw = await read_export(session, settings, known_version)
        data = await save_binary_backup(session, settings) if binary else None
        if ended is not None:
            found = await read_on_router(session, raw, ended)
        host_key, first_use = session.host_key, session.first_use
    try:
        redacted, secrets, version, model = prepare(raw)
    except ExportUnreadable as exc:
        raise MalformedExport(
            target.name,
            f"{target.name}: {exc}",
            hint="nothing was stored; check the router's console with `/export` and "
            "report the output if it looks right",
        ) from None
    return Snapshot(
        redacted=redacted,
        secrets=secrets,
        ros_version=version,
        model=model,
        host_key=host_key,
        first_use=first_use,
        binary=data,
        tikguard=found,
    )
