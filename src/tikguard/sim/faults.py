"""The fault plan a simulated router honours.

Faults are plain settings the router's brain consults at the moment they matter
(a flash write, an import line), so a test sets one and then drives the router as
tikguard would. Timed power loss is scheduled through the router
(:meth:`tikguard.sim.router.SimRouter.schedule_power_loss`).
"""

from __future__ import annotations

from dataclasses import dataclass

#: Listener event asking the SSH side to drop every live connection now.
DROP_CONNECTIONS = "drop-connections"


@dataclass(slots=True)
class Faults:
    #: After this many lines of an ``/import`` have run, emit ``drop-connections``
    #: (the import itself keeps running on the device, as RouterOS does).
    drop_after_import_line: int | None = None
    #: Device seconds a ``/system backup save`` (any flash write of a backup) takes.
    slow_flash_seconds: float = 0.0
    #: The storage reports no free space: saves fail with RouterOS's text.
    full_flash: bool = False
    #: Power is cut after this many more executed console commands (None: never).
    power_loss_after_commands: int | None = None
    #: Device seconds every console command (an exec's text, a shell line) takes
    #: before it runs and answers: a slow or busy router.
    slow_command_seconds: float = 0.0

    def clear(self) -> None:
        self.drop_after_import_line = None
        self.slow_flash_seconds = 0.0
        self.full_flash = False
        self.power_loss_after_commands = None
        self.slow_command_seconds = 0.0
