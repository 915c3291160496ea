"""What a router is and can do right now, read from the device itself.

Backups choose the export form by the probed version; the guarded push's preflight
checks free space, the clock, device-mode and the login user's policies. Parts a
router cannot answer (an old version without ``/system device-mode``, a user not
allowed to read ``/user``) come back as None: unknown, never assumed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tikguard.device.errors import RouterOSCommandError
from tikguard.device.session import DeviceSession
from tikguard.routeros.output import parse_detail, parse_properties
from tikguard.routeros.quoting import quote
from tikguard.routeros.values import (
    parse_clock,
    parse_duration,
    parse_policies,
    parse_size,
    version_tuple,
)


@dataclass(frozen=True)
class Resource:
    """``/system resource print``: version, board, architecture, storage, uptime."""

    version: str
    channel: str | None
    board: str | None
    architecture: str | None
    free_bytes: int | None
    total_bytes: int | None
    uptime_seconds: float | None

    @property
    def version_tuple(self) -> tuple[int, ...]:
        return version_tuple(self.version)

    @property
    def major(self) -> int:
        return self.version_tuple[0]


@dataclass(frozen=True)
class DeviceFacts:
    """Everything the probe learned. None means the router did not say."""

    identity: str | None
    resource: Resource
    clock: datetime | None
    time_zone: str | None
    #: ``/system device-mode`` properties (7.17+), None where the menu does not exist.
    device_mode: dict[str, str] | None
    #: Whether the storage has a ``flash/`` folder (files outside it live in RAM).
    has_flash: bool | None
    user_group: str | None
    #: The login user's group policies, None when they could not be read.
    policies: frozenset[str] | None

    @property
    def version(self) -> str:
        return self.resource.version

    def allows(self, *policies: str) -> bool | None:
        """True/False when the user's policies are known, None when they are not."""
        if self.policies is None:
            return None
        return all(p in self.policies for p in policies)

    @property
    def scheduler_allowed(self) -> bool | None:
        """Whether device-mode lets the scheduler run (True on versions without it)."""
        if self.device_mode is None:
            return None if self.resource.version_tuple >= (7, 17) else True
        return self.device_mode.get("scheduler", "yes") != "no"


def _optional(props: dict[str, str], key: str) -> str | None:
    value = props.get(key)
    return value if value not in (None, "") else None


def read_resource(text: str) -> Resource:
    """A :class:`Resource` from ``/system resource print`` output."""
    props = parse_properties(text)
    raw_version = props.get("version", "").strip()
    if not raw_version:
        raise ValueError("`/system resource print` did not show a version")
    version, _, rest = raw_version.partition(" ")
    channel = rest.strip("() ") or None
    free = _optional(props, "free-hdd-space")
    total = _optional(props, "total-hdd-space")
    uptime = _optional(props, "uptime")
    return Resource(
        version=version,
        channel=channel,
        board=_optional(props, "board-name"),
        architecture=_optional(props, "architecture-name"),
        free_bytes=parse_size(free) if free else None,
        total_bytes=parse_size(total) if total else None,
        uptime_seconds=parse_duration(uptime) if uptime else None,
    )


async def resource(session: DeviceSession) -> Resource:
    """Version, board and storage in one command (what a backup needs)."""
    text = await session.run("/system resource print")
    try:
        return read_resource(text)
    except ValueError as exc:
        raise RouterOSCommandError(session.name, "/system resource print", str(exc), text) from None


async def _optional_run(session: DeviceSession, command: str) -> str | None:
    try:
        return await session.run(command)
    except RouterOSCommandError:
        return None


async def probe(session: DeviceSession) -> DeviceFacts:
    """Read identity, version, board, storage, uptime, clock, device-mode and policies."""
    res = await resource(session)
    identity = parse_properties(await session.run("/system identity print")).get("name")

    clock: datetime | None = None
    clock_props = parse_properties(await session.run("/system clock print"))
    try:
        clock = parse_clock(clock_props["date"], clock_props["time"])
    except (KeyError, ValueError):
        clock = None

    device_mode: dict[str, str] | None = None
    if res.version_tuple >= (7, 17):
        text = await _optional_run(session, "/system device-mode print")
        device_mode = parse_properties(text) if text is not None else None

    has_flash: bool | None = None
    files = await _optional_run(session, "/file print detail where name=flash")
    if files is not None:
        has_flash = bool(parse_detail(files))

    group: str | None = None
    policies: frozenset[str] | None = None
    users = await _optional_run(
        session, f"/user print detail where name={quote(session.target.username)}"
    )
    if users:
        found = parse_detail(users)
        group = found[0].props.get("group") if found else None
    if group:
        groups = await _optional_run(session, f"/user group print detail where name={quote(group)}")
        found_groups = parse_detail(groups or "")
        if found_groups and "policy" in found_groups[0].props:
            policies = parse_policies(found_groups[0].props["policy"])

    return DeviceFacts(
        identity=identity,
        resource=res,
        clock=clock,
        time_zone=clock_props.get("time-zone-name"),
        device_mode=device_mode,
        has_flash=has_flash,
        user_group=group,
        policies=policies,
    )
