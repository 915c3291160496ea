"""The RouterOS commands of a guarded push, each with its read-back.

One job: say exactly what the push sends to a router and read back what it did. No
workflow or database here (:mod:`tikguard.ops.push.workflow` sequences these). Every
name and value goes through :func:`tikguard.routeros.quoting.quote`.

Names are operation-scoped (``tikguard-<op>``), so a leftover of one push can never
be mistaken for another's, and the scheduler carries a marker comment so we only ever
remove our own.
"""

from __future__ import annotations

import contextlib
import re
import time
from dataclasses import dataclass
from typing import Final

from tikguard.device.errors import RouterOSCommandError
from tikguard.device.probe import resource
from tikguard.device.session import DeviceSession
from tikguard.routeros.output import find_error, parse_detail
from tikguard.routeros.quoting import quote
from tikguard.routeros.values import parse_duration

#: Policies the revert scheduler runs with: loading a backup needs all of these.
REVERT_POLICY: Final = "ftp,reboot,read,write,policy,test,password,sensitive"
#: Policies the login user needs for a guarded push.
REQUIRED_POLICIES: Final = ("read", "write", "policy", "reboot", "ftp", "sensitive", "test")
#: A revert-point file smaller than this is not a plausible backup.
MIN_BACKUP_BYTES: Final = 64
IMPORT_OK: Final = "Script file loaded and executed successfully"
_LINE: Final = re.compile(r"\(line (\d+)|line (\d+) column|at line (\d+)")


@dataclass(frozen=True)
class Names:
    """Every on-device name one push uses, derived from its operation id."""

    op_id: str
    on_flash: bool

    @property
    def stem(self) -> str:
        return f"tikguard-{self.op_id[:24]}"

    @property
    def backup_name(self) -> str:
        """``name=`` for ``/system backup save`` (RouterOS appends ``.backup``)."""
        return f"flash/{self.stem}" if self.on_flash else self.stem

    @property
    def backup_file(self) -> str:
        return f"{self.backup_name}.backup"

    @property
    def script_file(self) -> str:
        return f"{self.stem}.rsc"

    @property
    def scheduler(self) -> str:
        return f"{self.stem}-revert"

    @property
    def marker(self) -> str:
        return f"tikguard revert point of operation {self.op_id}"


@dataclass(frozen=True)
class Uptime:
    """An uptime read and the controller wall-clock interval it was read within."""

    uptime: float
    wall_before: float
    wall_after: float

    def boot(self, time_scale: float) -> tuple[float, float]:
        """(boot instant in scaled controller seconds, its uncertainty half-width)."""
        mid = (self.wall_before + self.wall_after) / 2 * time_scale
        half = (self.wall_after - self.wall_before) / 2 * time_scale
        return mid - self.uptime, half + 1.0  # uptime is printed in whole seconds


async def read_uptime(session: DeviceSession) -> Uptime:
    before = time.time()
    res = await resource(session)
    after = time.time()
    if res.uptime_seconds is None:
        raise RouterOSCommandError(
            session.name, "/system resource print", "no uptime in the output", ""
        )
    return Uptime(res.uptime_seconds, before, after)


async def file_size(session: DeviceSession, name: str) -> int | None:
    """The size of file ``name`` on the device, or None when it does not exist."""
    text = await session.run(f"/file print detail where name={quote(name)}")
    for item in parse_detail(text):
        if item.props.get("name") == name:
            raw = item.props.get("size", "")
            try:
                from tikguard.routeros.values import parse_size

                return parse_size(raw) if raw else 0
            except ValueError:
                return 0
    return None


async def save_revert_point(
    session: DeviceSession, names: Names, device_timeout: float, password: str | None = None
) -> int:
    """``/system backup save``, encrypted with the push's own ``password`` (without one:
    not encrypted); return the size read back.

    Raises :class:`RouterOSCommandError` when RouterOS refuses (full flash) or the file
    is missing or implausibly small afterwards.
    """
    crypt = f"password={quote(password)}" if password else "dont-encrypt=yes"
    await session.run(
        f"/system backup save name={quote(names.backup_name)} {crypt}",
        device_timeout=device_timeout,
        secrets=[password or ""],
    )
    size = await file_size(session, names.backup_file)
    if size is None or size < MIN_BACKUP_BYTES:
        raise RouterOSCommandError(
            session.name,
            "/system backup save",
            f"revert point {names.backup_file} "
            + ("is missing" if size is None else f"is only {size} bytes"),
            "",
        )
    return size


@dataclass(frozen=True)
class SchedulerState:
    present: bool
    next_run: str | None = None
    interval: float | None = None
    disabled: bool = False


def on_event(names: Names, password: str | None = None) -> str:
    """The revert script: load the pre-push backup (the router reboots into it)."""
    return f"/system backup load name={quote(names.backup_file)} password={quote(password or '')}"


def arm_command(names: Names, window: float, password: str | None = None) -> str:
    """Add the revert scheduler: interval only (first run one window from now)."""
    return (
        f"/system scheduler add name={quote(names.scheduler)} "
        f"comment={quote(names.marker)} interval={int(window)}s "
        f"policy={REVERT_POLICY} on-event={quote(on_event(names, password))}"
    )


async def arm(
    session: DeviceSession, names: Names, window: float, password: str | None = None
) -> None:
    await session.run(arm_command(names, window, password), secrets=[password or ""])


async def scheduler_state(session: DeviceSession, names: Names) -> SchedulerState:
    """Our scheduler (name + marker) as the device shows it."""
    text = await session.run(f"/system scheduler print detail where name={quote(names.scheduler)}")
    for item in parse_detail(text):
        if item.props.get("name") != names.scheduler:
            continue
        if item.comment is not None and item.comment != names.marker:
            continue  # same name, not our marker: never touch it
        interval = item.props.get("interval")
        try:
            seconds = parse_duration(interval) if interval else None
        except ValueError:
            seconds = None
        return SchedulerState(
            present=True,
            next_run=item.props.get("next-run"),
            interval=seconds,
            disabled="X" in item.flags,
        )
    return SchedulerState(present=False)


async def remove_scheduler(session: DeviceSession, names: Names) -> None:
    await session.run(
        f"/system scheduler remove [ find name={quote(names.scheduler)} "
        f"comment={quote(names.marker)} ]"
    )


async def remove_file(session: DeviceSession, name: str) -> None:
    with contextlib.suppress(RouterOSCommandError):  # already gone
        await session.run(f"/file remove [ find name={quote(name)} ]")


@dataclass(frozen=True)
class ImportResult:
    ok: bool
    output: str
    error: str | None = None
    line: int | None = None


def read_import_output(output: str) -> ImportResult:
    """Success only when RouterOS says so and printed no error line."""
    error = find_error(output)
    if error is None and IMPORT_OK in output:
        return ImportResult(True, output)
    line: int | None = None
    for match in _LINE.finditer(output):
        line = int(next(g for g in match.groups() if g))
    return ImportResult(False, output, error or "the import did not report success", line)


async def run_import(session: DeviceSession, names: Names, device_timeout: float) -> ImportResult:
    text = await session.run(
        f"/import file-name={quote(names.script_file)} verbose=yes",
        device_timeout=device_timeout,
        check=False,
    )
    return read_import_output(text)


async def dry_run_import(session: DeviceSession, file_name: str) -> ImportResult:
    """``/import ... verbose=yes dry-run`` (RouterOS honours dry-run in verbose mode)."""
    text = await session.run(
        f"/import file-name={quote(file_name)} verbose=yes dry-run", check=False
    )
    return read_import_output(text)


async def load_revert_point(
    session: DeviceSession, names: Names, password: str | None = None
) -> None:
    """Fire the revert ourselves: the router loads the backup and reboots."""
    await session.run(on_event(names, password), check=False, secrets=[password or ""])


def reset_script(
    names: Names, window: float, target_script: str, password: str | None = None
) -> str:
    """``run-after-reset`` script of a replace: re-arm the revert timer, then apply.

    The reset wipes the scheduler, so the first thing the fresh config does is add it
    again (same name, marker and window); only then is the target applied.
    """
    return f"{arm_command(names, window, password)}\n{target_script}"


async def reset_configuration(session: DeviceSession, script_file: str) -> None:
    await session.run(
        "/system reset-configuration no-defaults=yes skip-backup=yes keep-users=yes "
        f"run-after-reset={quote(script_file)}",
        check=False,
    )
