"""Many simulated routers in one process, each on its own loopback host:port.

The Python API tests use::

    async with SimFleet(count=3, version="7.16", time_scale=50, state_dir=tmp_path) as fleet:
        dev = fleet[0]                      # or fleet["r001"]
        await asyncssh.connect(dev.host, port=dev.port, username=dev.username, ...)
        dev.router                          # the SimRouter: read its state directly
        await dev.power_cycle(); dev.inject("full-flash"); dev.change_host_key()

Realistic fleets: ``SimFleet(count=1000, config_from=Path("exports/"))`` seeds the
routers with real exports, the files in turn (see :mod:`tikguard.sim.seed`); each
seeded router runs the RouterOS version its export names. ``fleet.seeds.skipped`` says
which files could not be used and why.

The RouterOS API: ``SimFleet(api=True)`` serves it beside SSH (``dev.api.port``,
``dev.api_ssl.port``; see :mod:`tikguard.sim.apiserver`).

With a state directory the fleet writes ``inventory.csv`` there (for ``tikguard
device import``), keeps each router's host key under ``devices/<name>/ssh/`` and its
configuration and ``flash/`` files (saved on stop) under ``devices/<name>/``, and on a
restart reuses the ports of the previous run where they are still free, so stored
inventories stay valid.
"""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from tikguard.settings import time_scale_from_env
from tikguard.sim.apiserver import ApiServer, self_signed_context
from tikguard.sim.clock import SimClock
from tikguard.sim.hostkeys import HostKeyStore
from tikguard.sim.network import RandomDisconnects
from tikguard.sim.router import SimRouter
from tikguard.sim.seed import SeedSet, load_seeds, seed_files
from tikguard.sim.server import DeviceServer, base_options

if TYPE_CHECKING:
    import asyncssh

INVENTORY_COLUMNS = ("name", "host", "port", "username", "password", "tags", "site")
INVENTORY_FILE = "inventory.csv"
#: Descriptors kept free beyond one per router (connections, files, the database).
FD_HEADROOM = 1024
#: Every simulated router's admin password unless the fleet is told otherwise.
DEFAULT_PASSWORD = "simpass"

#: Fault names accepted by :meth:`SimDevice.inject`.
FAULTS = (
    "drop-connections",
    "random-disconnects",
    "host-key-change",
    "power-loss",
    "drop-after-import-line",
    "slow-flash",
    "full-flash",
    "power-loss-after-commands",
    "slow-commands",
    "clear",
)


@dataclass(eq=False)
class SimDevice:
    """A handle on one simulated router: how to reach it and how to hurt it."""

    name: str
    username: str
    password: str
    site: str
    tags: tuple[str, ...]
    router: SimRouter
    server: DeviceServer
    #: The RouterOS API endpoints (``SimFleet(api=True)``): plain (8728) and TLS (8729).
    api: ApiServer | None = None
    api_ssl: ApiServer | None = None
    _power_tasks: set[asyncio.Task[None]] = field(default_factory=set, repr=False)

    @property
    def host(self) -> str:
        return self.server.host

    @property
    def port(self) -> int:
        return self.server.port

    # -- host key -------------------------------------------------------------------
    @property
    def host_key_fingerprint(self) -> str:
        """``SHA256:...`` of the key the router presents now."""
        return self.server.hostkeys.fingerprint()

    def known_hosts_line(self) -> str:
        """A ``known_hosts`` line for this router (``[127.0.0.1]:40022 ssh-ed25519 ...``)."""
        return f"[{self.host}]:{self.port} {self.server.hostkeys.public_openssh()}"

    def change_host_key(self, key: asyncssh.SSHKey | None = None) -> str:
        """Fault: the router presents a new host key from the next connection on (or
        ``key``, e.g. the one it had before: back on its pinned key)."""
        return self.server.change_host_key(key)

    # -- power ----------------------------------------------------------------------
    async def power_loss(self) -> None:
        """Cut the power now (live sessions go silent, new connections time out)."""
        await self.router.power_loss()

    async def power_on(self) -> None:
        await self.router.power_on()

    async def reboot(self) -> None:
        await self.router.reboot()

    async def power_cycle(self, off_seconds: float = 0.0, *, wait: bool = True) -> None:
        """Power off, wait ``off_seconds`` of device time, power on; wait for boot if asked."""
        await self.router.power_loss()
        if off_seconds > 0:
            await self.router.clock.sleep(off_seconds)
        await self.router.power_on()
        if wait:
            await self.wait_up()

    async def wait_up(self, within: float | None = None) -> None:
        """Wait until the router has booted (``within`` real seconds; default: boot time+5)."""
        if self.router.is_up:
            return
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()

        def on_event(event: str) -> None:
            if event == "up" and not fut.done():
                fut.set_result(None)

        self.router.add_listener(on_event)
        try:
            if within is None:
                boot = getattr(self.router, "boot_seconds", 20.0)
                within = 5.0 + boot / self.router.clock.time_scale
            async with asyncio.timeout(within):
                await fut
        finally:
            remove = getattr(self.router, "remove_listener", None)
            if remove is not None:
                remove(on_event)

    # -- clock ----------------------------------------------------------------------
    def set_clock(self, when: datetime) -> None:
        """Set the router's wall clock (``/system clock``); uptime is unaffected."""
        self.router.clock.set_time(when)

    # -- faults ---------------------------------------------------------------------
    def drop_connections(self) -> None:
        """Reset every live SSH/SFTP connection now."""
        self.server.reset_all()

    def inject(self, fault: str, **params: Any) -> None:
        """Inject a fault by name (see :data:`FAULTS`)::

        inject("drop-connections")
        inject("random-disconnects", probability=0.2, seed=7)   # probability=0 stops it
        inject("host-key-change")
        inject("power-loss")                    # now
        inject("power-loss", after=30.0)        # after 30 device seconds
        inject("drop-after-import-line", line=3)
        inject("slow-flash", seconds=40.0)
        inject("full-flash")                    # full=False frees it again
        inject("power-loss-after-commands", count=2)
        inject("slow-commands", seconds=5.0)    # each command answers 5 device s late
        inject("clear")                         # every fault off
        """
        faults = self.router.faults
        if fault == "drop-connections":
            self.server.reset_all()
        elif fault == "random-disconnects":
            probability = float(params.get("probability", 0.1))
            seed = int(params.get("seed", 0))
            rd = RandomDisconnects(probability, seed) if probability > 0 else None
            self.server.random_disconnects = rd
        elif fault == "host-key-change":
            self.change_host_key()
        elif fault == "power-loss":
            self._power_loss_later(float(params.get("after", 0.0)))
        elif fault == "drop-after-import-line":
            faults.drop_after_import_line = int(params["line"])
        elif fault == "slow-flash":
            faults.slow_flash_seconds = float(params["seconds"])
        elif fault == "full-flash":
            faults.full_flash = bool(params.get("full", True))
        elif fault == "power-loss-after-commands":
            faults.power_loss_after_commands = int(params["count"])
        elif fault == "slow-commands":
            faults.slow_command_seconds = float(params["seconds"])
        elif fault == "clear":
            faults.clear()
            self.server.random_disconnects = None
        else:
            raise ValueError(f"unknown fault {fault!r} (known: {', '.join(FAULTS)})")

    def _power_loss_later(self, after: float) -> None:
        scheduled = getattr(self.router, "schedule_power_loss", None)
        if scheduled is not None and after > 0:
            scheduled(after)
            return

        def fire() -> None:
            task = asyncio.get_running_loop().create_task(self.router.power_loss())
            self._power_tasks.add(task)
            task.add_done_callback(self._power_tasks.discard)

        if after > 0:
            self.router.clock.call_later(after, fire)
        else:
            fire()

    def inventory_row(self) -> dict[str, str]:
        return {
            "name": self.name,
            "host": self.host,
            "port": str(self.port),
            "username": self.username,
            "password": self.password,
            "tags": ";".join(self.tags),
            "site": self.site,
        }


class SimFleet:
    """``count`` routers on loopback; an async context manager."""

    def __init__(
        self,
        count: int = 1,
        *,
        version: str = "7.16",
        model: str = "CHR",
        time_scale: float | None = None,
        state_dir: Path | None = None,
        host: str = "127.0.0.1",
        distinct_hosts: bool = False,
        username: str = "admin",
        password: str = DEFAULT_PASSWORD,
        boot_seconds: float = 20.0,
        manual_clock: bool = False,
        clock_start: datetime | None = None,
        name_prefix: str = "r",
        devices_per_site: int = 100,
        host_key_algorithm: str = "ssh-ed25519",
        router_settings: dict[str, Any] | None = None,
        config_from: Path | Sequence[Path] | None = None,
        api: bool = False,
    ) -> None:
        if count < 0:
            raise ValueError("count must not be negative")
        #: Export files (or a folder of them) to seed the routers with, in turn.
        self.config_from = config_from
        self.seeds: SeedSet | None = None
        #: Serve the RouterOS API (plain and TLS) beside SSH on each router.
        self.api = api
        self.count = count
        self.version = version
        self.model = model
        #: Device-time speed-up; None reads ``TIKGUARD_TIME_SCALE`` (as the controller does).
        self.time_scale = time_scale if time_scale is not None else time_scale_from_env()
        self.state_dir = state_dir
        self.host = host
        self.distinct_hosts = distinct_hosts
        self.username = username
        self.password = password
        self.boot_seconds = boot_seconds
        self.manual_clock = manual_clock
        self.clock_start = clock_start
        self.name_prefix = name_prefix
        self.devices_per_site = max(1, devices_per_site)
        self.host_key_algorithm = host_key_algorithm
        self.router_settings = dict(router_settings or {})
        self.devices: list[SimDevice] = []
        self._by_name: dict[str, SimDevice] = {}

    # -- access -----------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.devices)

    def __iter__(self) -> Iterator[SimDevice]:
        return iter(self.devices)

    def __getitem__(self, key: int | str) -> SimDevice:
        if isinstance(key, str):
            return self._by_name[key]
        return self.devices[key]

    @property
    def inventory_path(self) -> Path | None:
        return None if self.state_dir is None else self.state_dir / INVENTORY_FILE

    # -- life cycle -------------------------------------------------------------------
    async def __aenter__(self) -> SimFleet:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def start(self) -> None:
        """Create the routers and open their sockets; writes the inventory."""
        _raise_fd_limit(self.count + FD_HEADROOM)
        if self.config_from is not None and self.seeds is None:
            self.seeds = await self._load_seeds(self.config_from)
        options = base_options()
        previous = self._previous_ports()
        width = max(3, len(str(self.count)))
        try:
            for i in range(self.count):
                name = f"{self.name_prefix}{i + 1:0{width}d}"
                self._add(i, name, options, previous.get(name))
                if i % 500 == 499:
                    await asyncio.sleep(0)  # keep the loop responsive on big fleets
            if self.api:
                await self._start_api()
        except BaseException:
            await self.stop()
            raise
        self.write_inventory()

    async def _start_api(self) -> None:
        """An API and an API-SSL endpoint per router (one self-signed certificate)."""
        tls = self_signed_context()
        for i, dev in enumerate(self.devices):
            dev.api = ApiServer(dev.router, host=dev.host)
            dev.api_ssl = ApiServer(dev.router, host=dev.host, tls=tls)
            await dev.api.start()
            await dev.api_ssl.start()
            if i % 200 == 199:
                await asyncio.sleep(0)

    async def stop(self) -> None:
        """Close every router's socket and connection, then save each router's state.

        With a state directory each router's configuration, ``flash/`` files and
        device-mode go to ``devices/<name>/``, so a fleet started again on the same
        directory continues from there (as after a power cycle: RAM files are gone).
        """
        devices, self.devices = self.devices, []
        self._by_name = {}
        for dev in devices:
            await dev.server.close()
            for endpoint in (dev.api, dev.api_ssl):
                if endpoint is not None:
                    await endpoint.close()
        for i, dev in enumerate(devices):
            dev.router.save_state()
            if i % 500 == 499:
                await asyncio.sleep(0)  # keep the loop responsive on big fleets
        for _ in range(3):  # let the reset connections finish their clean-up callbacks
            await asyncio.sleep(0)

    @staticmethod
    async def _load_seeds(spec: Path | Sequence[Path]) -> SeedSet:
        files = seed_files(spec) if isinstance(spec, Path) else list(spec)
        seeds = await load_seeds(files)
        if not seeds.seeds:
            reasons = "; ".join(f"{Path(s.source).name}: {s.reason}" for s in seeds.skipped[:5])
            raise ValueError(f"none of the {len(files)} export files can seed a router ({reasons})")
        return seeds

    def _add(self, index: int, name: str, options: Any, port: int | None) -> None:
        device_dir = None if self.state_dir is None else self.state_dir / "devices" / name
        clock = SimClock(self.time_scale, self.clock_start, manual=self.manual_clock)
        host = _distinct_host(index) if self.distinct_hosts else self.host
        settings: dict[str, Any] = {"management_address": host, **self.router_settings}
        version = self.version
        if self.seeds is not None:
            seed = self.seeds.for_index(index)
            version = seed.version
            settings.update(
                interfaces=seed.interfaces,
                extra_builtins=seed.builtins,
                seed_base=seed.base,
                check_references=False,
            )
        router = SimRouter(
            name=name,
            version=version,
            model=self.model,
            clock=clock,
            state_dir=device_dir,
            admin_password=self.password,
            boot_seconds=self.boot_seconds,
            **settings,
        )
        keys = HostKeyStore(
            None if device_dir is None else device_dir / "ssh", self.host_key_algorithm
        )
        server = DeviceServer(router, hostkeys=keys, options=options, host=host, port=port or 0)
        try:
            server.start()
        except OSError:
            if not port:
                raise
            server = DeviceServer(router, hostkeys=keys, options=options, host=host, port=0)
            server.start()
        server.on_moved = self._moved
        site = f"site-{index // self.devices_per_site + 1:02d}"
        tags = ("sim", f"ros{version}")
        dev = SimDevice(name, self.username, self.password, site, tags, router, server)
        self.devices.append(dev)
        self._by_name[name] = dev

    def _moved(self, server: DeviceServer) -> None:
        """A router moved its SSH service (``/ip service set ssh port=``): new inventory."""
        self.write_inventory()

    # -- time -------------------------------------------------------------------------
    async def advance(self, device_seconds: float) -> None:
        """Move every router's manual clock forward (``manual_clock=True`` only)."""
        for dev in self.devices:
            await dev.router.clock.advance(device_seconds)

    # -- inventory --------------------------------------------------------------------
    def inventory_csv(self) -> str:
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=INVENTORY_COLUMNS, lineterminator="\n")
        writer.writeheader()
        for dev in self.devices:
            writer.writerow(dev.inventory_row())
        return out.getvalue()

    def write_inventory(self, path: Path | None = None) -> Path | None:
        """Write ``inventory.csv`` (to the state directory unless told otherwise)."""
        target = path or self.inventory_path
        if target is None:
            return None
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(".tmp")
        tmp.write_text(self.inventory_csv(), encoding="utf-8")
        tmp.replace(target)
        return target

    def _previous_ports(self) -> dict[str, int]:
        path = self.inventory_path
        if path is None or not path.exists():
            return {}
        ports: dict[str, int] = {}
        try:
            with path.open(encoding="utf-8", newline="") as f:
                for row in csv.DictReader(f):
                    if row.get("host") == self.host or self.distinct_hosts:
                        ports[row["name"]] = int(row["port"])
        except (OSError, KeyError, ValueError):
            return {}
        return ports


def _raise_fd_limit(wanted: int) -> None:
    """Lift the soft open-files limit towards ``wanted`` (one socket per router)."""
    try:
        import resource
    except ImportError:  # not on this platform
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def _distinct_host(index: int) -> str:
    """127.1.0.1, 127.1.0.2, ... (the whole of 127/8 is loopback on Linux)."""
    block, host = divmod(index, 250)
    return f"127.{1 + block // 256}.{block % 256}.{host + 1}"
