"""The revert at boot, and the router's clock source (docs/push.md: a router that reboots
inside the window).

Beside the interval timer, a push arms a second scheduler item with
``start-time=startup`` and no interval: RouterOS runs it 3 s after the console starts,
at every boot, so a router that reboots (or loses power) inside the window loads the
revert point at boot, like Junos ``commit confirmed`` rolls back, whatever its clock
says after the boot. Both items are removed together at commit, the interval timer
first: a power cut between the two removals leaves the boot item, and the router
reverts at boot (never the other way round, which would leave an interval timer whose
next run a clock restarted by the boot can put hours away).

One job: the RouterOS commands of the boot item and of both timers together, each
with its read-back, and the clock-source read. Names and markers are
operation-scoped like the interval timer's; every value goes through
:func:`tikguard.routeros.quoting.quote`.
"""

from __future__ import annotations

from dataclasses import dataclass

from tikguard.device import guard as dev
from tikguard.device.errors import RouterOSCommandError
from tikguard.device.session import DeviceSession
from tikguard.ops.push.evidence import Evidence
from tikguard.ops.push.results import ClockSource, ClockSourceKind, UptimeJson, boot_of
from tikguard.routeros.output import parse_detail, parse_properties
from tikguard.routeros.quoting import quote

#: The scheduler's ``start-time`` for "3 s after each boot" (RouterOS manual).
STARTUP = "startup"
#: Device seconds a replace's reset script waits before arming the boot item: an item
#: added while the boot's own startup run is still ahead could run at this very boot.
BOOT_ARM_DELAY = 5


@dataclass(frozen=True)
class BootNames(dev.Names):
    """The boot item's names: same stem as the interval timer, its own name and marker."""

    @property
    def scheduler(self) -> str:
        return f"{self.stem}-boot"

    @property
    def marker(self) -> str:
        return f"tikguard revert at boot of operation {self.op_id}"


def boot_names(names: dev.Names) -> BootNames:
    return BootNames(names.op_id, names.on_flash)


def boot_add_command(names: dev.Names, password: str | None) -> str:
    """``/system scheduler add`` of the boot item (loads the revert point at boot)."""
    boot = boot_names(names)
    return (
        f"/system scheduler add name={quote(boot.scheduler)} comment={quote(boot.marker)} "
        f"start-time={STARTUP} policy={dev.REVERT_POLICY} "
        f"on-event={quote(dev.on_event(names, password))}"
    )


async def arm_boot(session: DeviceSession, names: dev.Names, password: str | None) -> None:
    await session.run(boot_add_command(names, password), secrets=[password or ""])


def boot_rearm_script(names: dev.Names, password: str | None) -> str:
    """The tail of a replace's reset script: the boot item again, once this boot's own
    startup run is behind (the reset wiped the first one)."""
    return f":delay {BOOT_ARM_DELAY}s\n{boot_add_command(names, password)}\n"


@dataclass(frozen=True)
class BootState:
    present: bool
    start_time: str | None = None
    interval: str | None = None
    disabled: bool = False


async def boot_state(session: DeviceSession, names: dev.Names) -> BootState:
    """The boot item (name + marker) as the router shows it."""
    boot = boot_names(names)
    text = await session.run(f"/system scheduler print detail where name={quote(boot.scheduler)}")
    for item in parse_detail(text):
        if item.props.get("name") != boot.scheduler:
            continue
        if item.comment is not None and item.comment != boot.marker:
            continue  # same name, not our marker: never touch it
        return BootState(
            present=True,
            start_time=item.props.get("start-time"),
            interval=item.props.get("interval"),
            disabled="X" in item.flags,
        )
    return BootState(present=False)


def boot_problem(state: BootState) -> str | None:
    """Why a read-back boot item would not revert at the next boot (None: it would)."""
    if not state.present:
        return "the boot-time revert item is not there after adding it"
    if state.disabled:
        return "the boot-time revert item is disabled"
    if state.start_time != STARTUP:
        return f"the boot-time revert item starts at {state.start_time!r}, not at startup"
    if state.interval not in (None, "", "0s", "0"):
        return f"the boot-time revert item has an interval ({state.interval})"
    return None


@dataclass(frozen=True)
class Timers:
    """Both revert items of one push as read back; ``present``: either is there."""

    interval: dev.SchedulerState
    boot: BootState

    @property
    def present(self) -> bool:
        return self.interval.present or self.boot.present


async def timers(session: DeviceSession, names: dev.Names) -> Timers:
    return Timers(await dev.scheduler_state(session, names), await boot_state(session, names))


async def remove_timers(session: DeviceSession, names: dev.Names) -> Timers:
    """Remove the interval timer, then the boot item (see the module notes), and read
    both back."""
    await dev.remove_scheduler(session, names)
    await dev.remove_scheduler(session, boot_names(names))
    return await timers(session, names)


# -- the clock source ---------------------------------------------------------------


async def _props(session: DeviceSession, command: str) -> dict[str, str] | None:
    try:
        return parse_properties(await session.run(command))
    except RouterOSCommandError:
        return None


async def clock_source(session: DeviceSession) -> ClockSource:
    """Where the router's clock comes from: ``ntp`` (synchronised), ``cloud``
    (``/ip cloud update-time``), ``manual``, with what was read.

    A router whose clock is manual and has no battery-backed clock restarts its clock
    at boot, so an interval timer's next run after a power cut can lie hours away: the
    evidence says so, and the boot-time item is what reverts such a router.
    """
    ntp = await _props(session, "/system ntp client print")
    cloud = await _props(session, "/ip cloud print")
    ntp_enabled = None if ntp is None else ntp.get("enabled", "no") == "yes"
    status = None if ntp is None else ntp.get("status")
    # RouterOS 6 has no status: a last-update-from says it synchronised
    synced = status == "synchronized" or bool(ntp and ntp.get("last-update-from"))
    update_time = None if cloud is None else cloud.get("update-time", "yes") == "yes"
    cloud_status = None if cloud is None else cloud.get("status")
    source: ClockSourceKind
    if ntp_enabled and synced:
        source = "ntp"
    elif update_time and (cloud_status or "").startswith("updated"):
        source = "cloud"
    elif ntp_enabled:
        source = "ntp (not synchronized)"
    elif ntp is None and cloud is None:
        source = "unknown"
    else:
        source = "manual"
    return ClockSource(
        source=source,
        ntp_enabled=ntp_enabled,
        ntp_status=status,
        cloud_update_time=update_time,
        cloud_status=cloud_status,
    )


def stayed_up(since: UptimeJson, now: UptimeJson, time_scale: float) -> bool:
    """True when two uptime reads (:class:`tikguard.device.guard.Uptime` as recorded)
    prove the router did not boot between them."""
    boot_before, half_before = boot_of(since, time_scale)
    boot_after, half_after = boot_of(now, time_scale)
    ev = Evidence(
        uptime_before=since["uptime"],
        uptime_after=now["uptime"],
        boot_before=boot_before,
        boot_after=boot_after,
        boot_slack=half_before + half_after + 2.0,
    )
    return ev.rebooted() is False
