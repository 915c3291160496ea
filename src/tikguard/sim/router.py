"""One simulated RouterOS router, in-process: config, files, clock, power and boot.

This is the brain the SSH/SFTP side talks to. It never touches the network: the
server calls :meth:`SimRouter.execute` (or a :meth:`SimRouter.open_console` session)
for each command line, stores uploads in :attr:`SimRouter.files`, asks
:meth:`SimRouter.management_verdict` whether a client may reach it, and listens for
``config-changed``, ``rebooting``, ``powered-off``, ``up`` and ``drop-connections``.

Output uses ``\\n`` line ends; the SSH side turns them into the terminal's ``\\r\\n``.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any

from tikguard.routeros import schema
from tikguard.sim import backupfile, engine, generic, system
from tikguard.sim.clock import SimClock, TimerHandle
from tikguard.sim.configdb import ConfigDB, Item, MenuState
from tikguard.sim.console import Console
from tikguard.sim.context import HistoryEntry, Invocation, Session
from tikguard.sim.defaults import Builtins, factory_config, parse_policy, with_builtins
from tikguard.sim.errors import ConsoleError, Interrupted, syntax_error
from tikguard.sim.exporter import (
    DeviceIds,
    ExportOptions,
    build_config,
    export_date_line,
    render,
)
from tikguard.sim.faults import DROP_CONNECTIONS, Faults
from tikguard.sim.files import FileStore
from tikguard.sim.profiles import ModelProfile, Profile, model_profile, profile_for
from tikguard.sim.reachability import Verdict, ssh_port, verdict
from tikguard.sim.scheduler import Scheduler

#: ``/system device-mode print`` of an unrestricted 7.17+ router (``scheduler: no``
#: forbids the scheduler; other features are shown, not enforced).
DEVICE_MODE = MappingProxyType(
    {
        "mode": "advanced",
        "scheduler": "yes",
        "socks": "yes",
        "fetch": "yes",
        "pptp": "yes",
        "l2tp": "yes",
        "bandwidth-test": "yes",
        "traffic-gen": "no",
        "sniffer": "yes",
        "ipsec": "yes",
        "romon": "yes",
        "proxy": "yes",
        "hotspot": "yes",
        "smb": "yes",
        "email": "yes",
        "zerotier": "yes",
        "container": "no",
    }
)

#: Where a board without a battery-backed clock or NTP starts its clock at boot.
BOARD_EPOCH = datetime(1970, 1, 2, tzinfo=UTC)

#: The router's saved state inside its state directory.
STATE_FILE = "router-state.json"

EVENTS = ("config-changed", "rebooting", "powered-off", "up", DROP_CONNECTIONS)

#: Policies a command needs beyond read/write (RouterOS does not document the exact
#: set for every command; these are settings, see docs/simulator.md).
DEFAULT_REQUIRED_POLICIES: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "backup-save": frozenset({"read", "ftp", "sensitive"}),
        "backup-load": frozenset({"read", "write", "policy", "reboot", "sensitive", "ftp"}),
        "reboot": frozenset({"reboot"}),
        "user-admin": frozenset({"policy", "write"}),
    }
)


class RouterConsole:
    """One console session on the router (an SSH shell or exec channel)."""

    def __init__(self, router: SimRouter, session: Session) -> None:
        self.router = router
        self.session = session

    @property
    def path(self) -> str:
        return self.session.path

    async def execute(self, text: str) -> str:
        return await self.router.run_in(text, self.session)


class SimRouter:
    """A RouterOS device as tikguard sees it over SSH."""

    def __init__(
        self,
        *,
        name: str,
        version: str = "7.16",
        model: str = "CHR",
        clock: SimClock,
        state_dir: Path | None = None,
        admin_password: str = "",
        boot_seconds: float = 20.0,
        interfaces: tuple[str, ...] | None = None,
        extra_builtins: Builtins | None = None,
        seed_base: Mapping[str, MenuState] | None = None,
        **settings: Any,
    ) -> None:
        self.name = name
        self.clock = clock
        self.state_dir = state_dir
        self.profile: Profile = profile_for(version)
        self.model: ModelProfile = model_profile(model)
        self.boot_seconds = boot_seconds
        self.interfaces = interfaces
        self.settings = dict(settings)
        self.required_policies = dict(DEFAULT_REQUIRED_POLICIES)
        self.required_policies.update(settings.get("required_policies", {}))
        self.faults = Faults()
        self.files = FileStore(
            has_flash=self.model.has_flash,
            capacity=self.model.storage_bytes,
            now=clock.now,
            faults=self.faults,
        )
        self.extra_builtins = extra_builtins
        # A seeded router (sim/seed.py) starts from a real configuration, shared
        # copy-on-write with every router seeded from the same export.
        self.db = ConfigDB(seed_base if seed_base is not None else self._factory(no_defaults=True))
        # A router built to match an export (ports or built-ins given) cannot know the
        # board's unconfigured ports, so it does not check references by default.
        matching = interfaces is not None or extra_builtins is not None
        self.db.check_references = bool(settings.get("check_references", not matching))
        self._device_mode: dict[str, str] | None = None  # shared defaults until changed
        self.history: list[HistoryEntry] = []
        #: ``:global`` variables (the router's environment; gone at reboot).
        self.globals: dict[str, str] = {}
        #: True while ``/import ... dry-run`` runs against a copy of the configuration.
        self.dry_run = False
        self.log_lines: list[tuple[datetime, str, str]] = []
        self._listeners: list[Callable[[str], None]] = []
        self._powered = True
        self._up = True
        self._booted_at = clock.monotonic()
        #: Where a board without a battery-backed clock (setting ``rtc=False``) restarts
        #: its clock at each boot, and the true time NTP would give it back.
        self._clock_floor = BOARD_EPOCH
        self._true_time: tuple[datetime, float] | None = None
        self._ntp_synced = True
        self._generation = 0
        self._export_cache: tuple[ConfigDB, int, ExportOptions, str, str] | None = None
        self._boot_timer: TimerHandle | None = None
        self._after_boot_script: str | None = None
        self._power_timer: TimerHandle | None = None
        self._tasks: set[asyncio.Future[str]] = set()
        digest = hashlib.sha256(name.encode()).hexdigest().upper()
        self.ids = DeviceIds(
            software_id=f"{digest[:4]}-{digest[4:8]}",
            serial_number=digest[8:20],
            system_id=digest[20:31],
        )
        self.console = Console(self, system.HANDLERS)
        self.console.loop_limit = int(settings.get("loop_limit", self.console.loop_limit))
        self.scheduler = Scheduler(
            self,
            startup_delay=float(settings.get("startup_delay", 3.0)),
            enabled=bool(settings.get("scheduler_runs", True)),
        )
        clock.on_set(self.scheduler.rearm)
        self._set_initial(admin_password)
        self._load_state()
        self.scheduler.on_boot(self._booted_at)

    def _set_initial(self, admin_password: str) -> None:
        self._add_management_address()
        if self.name != "MikroTik":
            self.db.write("/system identity", track=False).values["name"] = self.name
        if admin_password:
            users = self.db.write("/user", track=False)
            for item in users.items:
                if item.get("name") == "admin":
                    item.values["password"] = admin_password

    def _factory(self, *, no_defaults: bool) -> Mapping[str, MenuState]:
        base = factory_config(self.profile, self.model, self.interfaces, no_defaults=no_defaults)
        if self.extra_builtins:
            base = with_builtins(base, self.extra_builtins)
        return base

    def _add_management_address(self) -> None:
        """The address the fleet reaches this router on, as part of its default config.

        Like a CHR's address on ether1: it is configuration, exported and removable,
        and ``reset-configuration no-defaults=yes`` takes it away.
        """
        address = self.settings.get("management_address")
        if not address:
            return
        ethers = self.interfaces or self.model.ethernet
        interface = str(self.settings.get("management_interface") or ethers[0])
        prefix = "/8" if str(address).startswith("127.") else "/32"
        state = self.db.write("/ip address", track=False)
        values: dict[str, str | None] = {"address": f"{address}{prefix}", "interface": interface}
        engine.derive("/ip address", values, values)
        state.items.append(Item(id=state.new_id(), values=values))

    # -- state -------------------------------------------------------------------
    @property
    def is_up(self) -> bool:
        """False while powered off or booting."""
        return self._powered and self._up

    @property
    def identity(self) -> str:
        state = self.db.read("/system identity")
        name = state.singleton_get("name") if state else None
        return "MikroTik" if name is None else name

    @property
    def generation(self) -> int:
        """Changes at every power loss and reboot (running work stops when it does)."""
        return self._generation

    def uptime(self) -> float:
        return max(0.0, self.clock.monotonic() - self._booted_at)

    def format_datetime(self, when: datetime) -> str:
        if self.profile.iso_dates:
            return when.strftime("%Y-%m-%d %H:%M:%S")
        return when.strftime("%b/%d/%Y %H:%M:%S").lower()

    def format_date(self, when: datetime) -> str:
        if self.profile.iso_dates:
            return when.strftime("%Y-%m-%d")
        return when.strftime("%b/%d/%Y").lower()

    def scheduler_allowed(self) -> bool:
        mode = self._device_mode or DEVICE_MODE
        return not self.profile.has_device_mode or mode.get("scheduler") != "no"

    @property
    def device_mode(self) -> dict[str, str]:
        """``/system device-mode`` settings; the router's own copy is made when first used."""
        if self._device_mode is None:
            self._device_mode = dict(DEVICE_MODE)
        return self._device_mode

    def device_mode_settings(self) -> dict[str, str]:
        """The settings for reading (no copy)."""
        return dict(self._device_mode or DEVICE_MODE)

    # -- users -------------------------------------------------------------------
    def _user(self, user: str) -> dict[str, str] | None:
        state = self.db.read("/user")
        for item in state.items if state is not None else []:
            if item.get("name") == user and not item.disabled:
                return item.effective()
        return None

    def authenticate(self, user: str, password: str) -> bool:
        found = self._user(user)
        return found is not None and found.get("password", "") == password

    def user_policies(self, user: str) -> frozenset[str]:
        found = self._user(user)
        if found is None:
            return frozenset()
        groups = self.db.read("/user group")
        for item in groups.items if groups is not None else []:
            if item.get("name") == found.get("group"):
                return parse_policy(item.get("policy") or "")
        return frozenset()

    # -- console -----------------------------------------------------------------
    def open_console(self, user: str, *, width: int = 80) -> RouterConsole:
        """A console session: current menu, variables and print numbers persist in it."""
        return RouterConsole(self, Session(user, self.user_policies(user), width=width))

    async def execute(self, text: str, *, user: str) -> str:
        """Run console text; returns what RouterOS prints ("\\n" line ends, no prompt)."""
        return await self.open_console(user).execute(text)

    async def run_in(self, text: str, session: Session) -> str:
        if not self.is_up:
            return ""
        slow = self.faults.slow_command_seconds
        if slow > 0:
            generation = self._generation
            await self.clock.sleep(slow)
            if generation != self._generation or not self.is_up:
                return ""  # rebooted or powered off while busy: the command never ran
        result = await self.console.run(text, session)
        self._count_command()
        return result

    async def run_script(
        self, source: str, *, policy: str, origin: str, owner: str = "admin"
    ) -> str:
        """Run a script (scheduler on-event, run-after-reset) with a policy set."""
        scripts = self.db.read("/system script")
        for item in scripts.items if scripts is not None else []:
            if item.get("name") == source.strip():
                source = item.get("source") or ""
                break
        session = Session(owner, parse_policy(policy) if policy else self.user_policies(owner))
        output = await self.console.run(source, session)
        for line in output.splitlines():
            if line.startswith(
                (
                    "failure",
                    "not enough permissions",
                    "no such",
                    "syntax",
                    "bad command",
                    "expected",
                )
            ):
                self.log(f"{origin}: script error: {line}", topic="error")
        return output

    async def generic(self, inv: Invocation, session: Session) -> str:
        """Generic verbs on any menu (handlers registered by :mod:`system` come first)."""
        if inv.verb == "export":
            return self.export_text(inv, session)
        if inv.verb == "print":
            extra = self.scheduler.runtime_values() if inv.path == "/system scheduler" else None
            columns = schema.PRINT_COLUMNS.get(inv.path, ()) if self.profile.is_v7 else ()
            v6 = not self.profile.is_v7
            return generic.print_menu(self.db, inv, session, extra, columns=columns, v6=v6)
        if inv.verb == "find":
            generic.find_ids(self.db, inv, session)
            return ""
        if inv.verb == "get":
            return generic.get_value(self.db, inv, session)
        if inv.verb == "edit":
            raise ConsoleError("failure: edit is not supported on this console")
        if inv.path == "/system scheduler" and inv.verb in ("add", "set"):
            system.scheduler_values(inv)
        if inv.path == "/system scheduler" and inv.verb == "add":
            system.scheduler_add_defaults(self, inv)
        if inv.path == "/system script" and inv.verb == "add":
            system.script_add_defaults(self, inv, session)
        generic.apply(self.db, inv, session, ros_version=self.profile.version)
        self.config_changed(f"{inv.path} {inv.verb}", session)
        return ""

    async def value_of(self, inv: Invocation, session: Session) -> str:
        if inv.verb == "find":
            return ";".join(i.id_text() for i in generic.find_ids(self.db, inv, session))
        if inv.verb == "get":
            return generic.get_value(self.db, inv, session)
        return await self.console.invoke(inv, session)

    def export_text(self, inv: Invocation, session: Session) -> str:
        opts = self.export_options(inv, session)
        text = self.export(opts)
        file_name = inv.value("file")
        if file_name:
            name = file_name if file_name.endswith(".rsc") else file_name + ".rsc"
            newline = str(self.settings.get("export_file_newline", "\n"))
            self.files.write(name, text.replace("\n", newline).encode("utf-8", "surrogateescape"))
            return ""
        return text

    def export_options(self, inv: Invocation, session: Session) -> ExportOptions:
        style = "compact"
        if inv.flag("verbose"):
            style = "verbose"
        elif inv.flag("terse"):
            style = "terse"
        if self.profile.sensitive_shown_by_default:
            for word in inv.words:
                if word.value == "show-sensitive":  # a 7.x argument
                    raise syntax_error("expected end of command", word.offset + 1)
            show = not inv.flag("hide-sensitive")
        else:
            show = inv.flag("show-sensitive")
        scope = inv.path or None
        return ExportOptions(style=style, show_sensitive=show, scope=scope, width=session.width)

    def export(self, opts: ExportOptions | None = None) -> str:
        """The export text for options (compact, 80 columns by default).

        The last export is kept with the configuration revision it shows (one entry:
        a backup loop exports the same way each time); any change to the
        configuration starts a new revision, and the date line is always current.
        """
        opts = opts or ExportOptions(show_sensitive=self.profile.sensitive_shown_by_default)
        now = self.clock.now()
        cached = self._export_cache
        if cached is not None and self.settings.get("export_cache", True):
            db, revision, options, date_line, text = cached
            if db is self.db and revision == self.db.revision and options == opts:
                fresh = export_date_line(now, self.profile)
                return text if fresh == date_line else text.replace(date_line, fresh, 1)
        config = build_config(
            self.db, opts, profile=self.profile, model=self.model, ids=self.ids, now=now
        )
        text = render(config, opts, profile=self.profile)
        self._export_cache = (
            self.db,
            self.db.revision,
            opts,
            export_date_line(now, self.profile),
            text,
        )
        return text

    def config_text(self) -> str:
        """The compact export with secrets, without the volatile date line (for tests)."""
        lines = self.export(ExportOptions(show_sensitive=True)).splitlines()
        return "\n".join(lines[1:]) + "\n"

    def config_changed(self, action: str, session: Session) -> None:
        if self.dry_run:
            return  # a dry run changes a throw-away copy: no history, events or timers
        policy = ",".join(sorted(session.policies))
        self.history.append(HistoryEntry(self.clock.now(), action, session.user, policy))
        if len(self.history) > 100:
            del self.history[:-100]
        if action.startswith("/system scheduler") or action.startswith("/system device-mode"):
            self.scheduler.resync()
        self.emit("config-changed")

    def log(self, message: str, *, topic: str = "info") -> None:
        self.log_lines.append((self.clock.now(), topic, message))
        if len(self.log_lines) > 200:
            del self.log_lines[:-200]

    async def delay(self, seconds: float) -> None:
        generation = self._generation
        await self.clock.sleep(seconds)
        if generation != self._generation:
            raise Interrupted

    def _count_command(self) -> None:
        left = self.faults.power_loss_after_commands
        if left is None:
            return
        if left <= 1:
            self.faults.power_loss_after_commands = None
            asyncio.get_running_loop().call_soon(self._power_cut)
        else:
            self.faults.power_loss_after_commands = left - 1

    # -- reachability -----------------------------------------------------------
    def management_verdict(
        self,
        *,
        client_ip: str,
        local_ip: str,
        port: int,
        established: bool = False,
        service: str = "ssh",
    ) -> Verdict:
        """``accept``, ``refuse`` (TCP reset) or ``drop`` (silence) for SSH (or another
        management service: ``api``, ``api-ssl``) from a client."""
        if not self.is_up:
            return "drop"
        return verdict(
            self.db,
            client_ip=client_ip,
            local_ip=local_ip,
            port=port,
            established=established,
            service_name=service,
        )

    def allows_management(self, *, client_ip: str, local_ip: str, port: int) -> bool:
        return (
            self.management_verdict(client_ip=client_ip, local_ip=local_ip, port=port) == "accept"
        )

    def ssh_port(self) -> int:
        return ssh_port(self.db)

    # -- events ------------------------------------------------------------------
    def add_listener(self, callback: Callable[[str], None]) -> None:
        self._listeners.append(callback)

    def remove_listener(self, callback: Callable[[str], None]) -> None:
        if callback in self._listeners:
            self._listeners.remove(callback)

    def emit(self, event: str) -> None:
        for cb in list(self._listeners):
            cb(event)

    # -- power and boot -----------------------------------------------------------
    def _power_cut(self) -> None:
        if not self._powered:
            return
        self._powered = False
        self._up = False
        self._generation += 1
        self.scheduler.stop()
        if self._boot_timer is not None:
            self._boot_timer.cancel()
        self.emit("powered-off")

    async def power_loss(self) -> None:
        """Cut the power now: no shutdown, RAM files lost, nothing runs."""
        self._power_cut()

    def schedule_power_loss(self, after_seconds: float) -> None:
        """Cut the power after ``after_seconds`` of device time."""
        if self._power_timer is not None:
            self._power_timer.cancel()
        self._power_timer = self.clock.call_later(after_seconds, self._power_cut)

    async def power_on(self) -> None:
        if self._powered:
            return
        self._powered = True
        self._start_boot()

    async def reboot(self) -> None:
        """Reboot now: connections drop, the router is down for ``boot_seconds``."""
        self.reboot_now()

    def reboot_now(self) -> None:
        if not self._powered:
            return
        self.emit("rebooting")
        self._up = False
        self._generation += 1
        self.scheduler.stop()
        self._start_boot()

    def reboot_soon(self) -> None:
        """Reboot after the current command's output has been delivered."""
        if self.dry_run:
            return
        asyncio.get_running_loop().call_soon(self.reboot_now)

    def _start_boot(self) -> None:
        self.files.on_reboot()
        self.globals = {}
        self._up = False
        if self._boot_timer is not None:
            self._boot_timer.cancel()
        self._boot_timer = self.clock.call_later(self.boot_seconds, self._boot_done)

    def _boot_done(self) -> None:
        if not self._powered:
            return
        self._booted_at = self.clock.monotonic()
        self._up = True
        self._boot_clock()
        self.scheduler.on_boot(self._booted_at)
        script = self._after_boot_script
        self._after_boot_script = None
        if script is not None:
            task = asyncio.ensure_future(
                self.run_script(script, policy="", origin="run-after-reset")
            )
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        self.emit("up")

    def _boot_clock(self) -> None:
        """The wall clock as the board starts (Manual:System/Time: "Startup date and time is
        jan/02/1970 00:00:00 [+|-]gmt-offset. If router has a battery (for example RB230),
        then BIOS stored time is used as a startup time"; the corpus's RouterBOARD exports
        dated in 1970 agree). Settings: ``rtc`` (default: CHR yes, RouterBOARDs no) keeps
        the clock across boots; ``ntp_reachable`` (default True): an enabled NTP client
        sets it right ``ntp_sync_seconds`` (default 5) after the boot."""
        self._ntp_synced = False
        if not self.has_rtc:
            true_now = self._true_now()
            self._true_time = (true_now, self.clock.monotonic())
            self.clock.set_time(self._clock_floor)
        state = self.db.read("/system ntp client")
        enabled = state is not None and state.singleton_get("enabled") == "yes"
        if enabled and self.settings.get("ntp_reachable", True):
            delay = float(self.settings.get("ntp_sync_seconds", 5.0))
            generation = self._generation
            self.clock.call_later(delay, lambda: self._ntp_sync(generation))

    @property
    def has_rtc(self) -> bool:
        """A clock that runs while the board is off: CHR's (its host's), or setting ``rtc``."""
        return bool(self.settings.get("rtc", not self.model.routerboard))

    def _true_now(self) -> datetime:
        if self._true_time is None:
            return self.clock.now()
        when, at = self._true_time
        return when + timedelta(seconds=self.clock.monotonic() - at)

    def _ntp_sync(self, generation: int) -> None:
        if generation != self._generation or not self._up:
            return
        self.clock.set_time(self._true_now())
        self._true_time = None
        self._ntp_synced = True

    def ntp_status(self) -> str:
        """``/system ntp client`` status (7.x): synchronized once the server answered."""
        state = self.db.read("/system ntp client")
        if state is None or state.singleton_get("enabled") != "yes":
            return "stopped"
        return "synchronized" if self._ntp_synced else "waiting"

    def run_after_boot(self, source: str) -> None:
        self._after_boot_script = source

    # -- backups -----------------------------------------------------------------
    def backup_bytes(self, password: str | None) -> bytes:
        return backupfile.encode(backupfile.dump_db(self.db), password)

    def restore_backup(self, data: bytes, password: str | None) -> None:
        """Replace the configuration with a backup's (raises BackupError)."""
        payload = backupfile.decode(data, password)
        backupfile.restore_into(self.db, payload)

    def reset_configuration(self, *, keep_users: bool, no_defaults: bool) -> None:
        users = self.db.read("/user")
        groups = self.db.read("/user group")
        self.db.reset(self._factory(no_defaults=no_defaults))
        if not no_defaults:
            self._add_management_address()  # part of the defaults, like a CHR's DHCP address
        if keep_users:
            if users is not None:
                own = self.db.write("/user")
                copy = users.copy()
                own.items, own.next_id = copy.items, copy.next_id
            if groups is not None:
                own = self.db.write("/user group")
                copy = groups.copy()
                own.items, own.next_id = copy.items, copy.next_id

    # -- persistence -------------------------------------------------------------
    def state_file(self) -> Path | None:
        return None if self.state_dir is None else self.state_dir / STATE_FILE

    def save_state(self) -> bool:
        """Write config, files and device-mode to the state directory (if it has one).

        A simulator restarted on the same state directory starts each router from
        here, as if it had been powered off: RAM files are gone, uptime restarts.
        """
        path = self.state_file()
        if path is None:
            return False
        path.parent.mkdir(parents=True, exist_ok=True)
        files = {
            f.name: base64.b64encode(f.data).decode()
            for f in self.files.list()
            if self.files.is_persistent(f.name)
        }
        state = {
            "version": 1,
            "config": backupfile.dump_db(self.db),
            "files": files,
            "device_mode": self._device_mode or {},
        }
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, separators=(",", ":")))
        tmp.replace(path)
        return True

    def _load_state(self) -> None:
        path = self.state_file()
        if path is None or not path.is_file():
            return
        state = json.loads(path.read_text())
        backupfile.restore_into(self.db, state["config"])
        for name, data in state.get("files", {}).items():
            self.files.write(name, base64.b64decode(data))
        if state.get("device_mode"):
            self.device_mode.update(state["device_mode"])

    # -- snapshot ----------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """The router's state for tests: config, files, scheduler, power."""
        return {
            "identity": self.identity,
            "is_up": self.is_up,
            "uptime": self.uptime(),
            "config": self.config_text(),
            "files": {f.name: f.size for f in self.files.list()},
            "scheduler": self.scheduler.runtime_values(),
        }
