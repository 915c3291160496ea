"""One simulated RouterOS router, in-process: config, files, clock, power and boot.

This is the brain the SSH/SFTP side talks to. It never touches the network: the
server calls :meth:`SimRouter.execute` for each command line, stores uploads in
:attr:`SimRouter.files`, asks :meth:`SimRouter.allows_management` whether a client may
reach it, and listens for ``config-changed``, ``rebooting``, ``powered-off``, ``up``
and ``drop-connections`` events.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from tikguard.sim.clock import SimClock, TimerHandle
from tikguard.sim.faults import DROP_CONNECTIONS, Faults
from tikguard.sim.files import FileStore
from tikguard.sim.profiles import ModelProfile, Profile, model_profile, profile_for

EVENTS = ("config-changed", "rebooting", "powered-off", "up", DROP_CONNECTIONS)


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
        **settings: Any,
    ) -> None:
        self.name = name
        self.clock = clock
        self.state_dir = state_dir
        self.profile: Profile = profile_for(version)
        self.model: ModelProfile = model_profile(model)
        self.boot_seconds = boot_seconds
        self.settings = dict(settings)
        self.faults = Faults()
        self.files = FileStore(
            has_flash=self.model.has_flash,
            capacity=self.model.storage_bytes,
            now=clock.now,
            faults=self.faults,
        )
        self.identity = name
        self._admin_password = admin_password
        self._listeners: list[Callable[[str], None]] = []
        self._powered = True
        self._booted_at = clock.monotonic()
        self._boot_timer: TimerHandle | None = None
        self._up = True

    # -- state -------------------------------------------------------------------
    @property
    def is_up(self) -> bool:
        """False while powered off or booting."""
        return self._powered and self._up

    def uptime(self) -> float:
        return max(0.0, self.clock.monotonic() - self._booted_at)

    # -- users -------------------------------------------------------------------
    def authenticate(self, user: str, password: str) -> bool:
        return user == "admin" and password == self._admin_password

    def user_policies(self, user: str) -> frozenset[str]:
        return frozenset() if user != "admin" else frozenset({"full"})

    # -- console -----------------------------------------------------------------
    async def execute(self, text: str, *, user: str) -> str:
        """Run console text; returns what RouterOS prints ("\\n" line ends, no prompt)."""
        return "bad command name " + text.split()[0] if text.split() else ""

    # -- reachability -----------------------------------------------------------
    def allows_management(self, *, client_ip: str, local_ip: str, port: int) -> bool:
        return self.is_up and port == self.ssh_port()

    def ssh_port(self) -> int:
        return 22

    # -- events ------------------------------------------------------------------
    def add_listener(self, callback: Callable[[str], None]) -> None:
        self._listeners.append(callback)

    def remove_listener(self, callback: Callable[[str], None]) -> None:
        if callback in self._listeners:
            self._listeners.remove(callback)

    def emit(self, event: str) -> None:
        for cb in list(self._listeners):
            cb(event)

    # -- power -------------------------------------------------------------------
    async def power_loss(self) -> None:
        self._powered = False
        self._up = False
        if self._boot_timer is not None:
            self._boot_timer.cancel()
        self.emit("powered-off")

    async def power_on(self) -> None:
        if self._powered:
            return
        self._powered = True
        self._start_boot()

    async def reboot(self) -> None:
        self.emit("rebooting")
        self._up = False
        self._start_boot()

    def _start_boot(self) -> None:
        self.files.on_reboot()
        self._up = False

        def done() -> None:
            self._booted_at = self.clock.monotonic()
            self._up = True
            self.emit("up")

        self._boot_timer = self.clock.call_later(self.boot_seconds, done)
