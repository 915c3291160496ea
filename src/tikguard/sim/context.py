"""What a console command sees: its session, its parsed form, and the router as a host.

This module is a leaf of :mod:`tikguard.sim`: the console, the special-command
handlers (:mod:`system`, :mod:`importer`) and the scheduler import the router only as
the :class:`RouterHost` protocol below, never :mod:`tikguard.sim.router` itself, so
the router can import them without a loop. The protocol names exactly what they use;
:class:`~tikguard.sim.router.SimRouter` satisfies it (mypy checks that where the
router hands itself to its console and scheduler).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from tikguard.routeros.lexer import Word
from tikguard.sim import engine
from tikguard.sim.clock import SimClock
from tikguard.sim.configdb import ConfigDB, Value
from tikguard.sim.exporter import DeviceIds
from tikguard.sim.faults import Faults
from tikguard.sim.files import FileStore
from tikguard.sim.profiles import ModelProfile, Profile
from tikguard.sim.statements import Statement

__all__ = [
    "ConsoleHost",
    "Handler",
    "HistoryEntry",
    "Invocation",
    "Pending",
    "RouterHost",
    "SchedulerHost",
    "Session",
]


@dataclass
class Session:
    """One console: who, where, and what it remembers between commands."""

    user: str
    policies: frozenset[str]
    path: str = ""
    width: int = 80
    variables: dict[str, str] = field(default_factory=dict)
    numbering: dict[str, list[int]] = field(default_factory=dict)
    #: Set while ``/import`` runs a file (for messages and faults).
    importing: bool = False


@dataclass
class Invocation:
    """A parsed command ready to run (names already resolved to their full spelling)."""

    path: str
    verb: str
    selection: engine.Selection
    values: dict[str, Value]
    words: list[Word]  # bare words after the verb (print options, flags, file names)
    statement: Statement
    verb_column: int
    where: list[Word] = field(default_factory=list)
    #: ``[ ... ]`` substitutions still to evaluate: (property key, or "" for the
    #: selector; the command text inside the brackets).
    pending: list[tuple[str, str]] = field(default_factory=list)

    def value(self, key: str, default: str | None = None) -> str | None:
        v = self.values.get(key, default)
        return default if v is None else v

    def flag(self, name: str) -> bool:
        return any(w.value == name for w in self.words) or self.values.get(name) == "yes"


@dataclass
class HistoryEntry:
    """One line of ``/system history``."""

    when: datetime
    action: str
    by: str
    policy: str


class Pending:
    """The statements still to run; a control statement takes its block's lines."""

    def __init__(self, statements: list[Statement]) -> None:
        self._items = statements
        self._at = 0

    def __iter__(self) -> Iterator[Statement]:
        return self

    def __next__(self) -> Statement:
        if self._at >= len(self._items):
            raise StopIteration
        self._at += 1
        return self._items[self._at - 1]

    def peek(self) -> Statement | None:
        return self._items[self._at] if self._at < len(self._items) else None


class ConsoleHost(Protocol):
    """The console as ``/import`` drives it: parse without running, then run."""

    def words(self, statement: Statement, session: Session) -> list[Word]: ...

    def script_name(self, word: Word) -> str: ...

    def parse(
        self, words: list[Word], statement: Statement, session: Session, text: str | None = None
    ) -> Invocation | None: ...

    async def run_statement(self, statement: Statement, session: Session) -> str: ...

    async def run_control(self, first: Statement, pending: Pending, session: Session) -> str: ...


class SchedulerHost(Protocol):
    """The scheduler as commands touch it: re-read the items after a change."""

    def resync(self) -> None: ...


class RouterHost(Protocol):
    """The router as console commands, handlers and the scheduler use it."""

    # -- what it is and holds
    clock: SimClock
    db: ConfigDB
    files: FileStore
    faults: Faults
    profile: Profile
    model: ModelProfile
    ids: DeviceIds
    globals: dict[str, str]
    dry_run: bool
    history: list[HistoryEntry]
    log_lines: list[tuple[datetime, str, str]]
    required_policies: dict[str, frozenset[str]]
    #: The router's simulator settings (``rtc``, ``ntp_reachable``, ...).
    settings: dict[str, Any]

    @property
    def console(self) -> ConsoleHost: ...

    @property
    def scheduler(self) -> SchedulerHost: ...

    @property
    def is_up(self) -> bool: ...

    @property
    def identity(self) -> str: ...

    @property
    def generation(self) -> int: ...

    @property
    def device_mode(self) -> dict[str, str]: ...

    def device_mode_settings(self) -> dict[str, str]: ...

    def scheduler_allowed(self) -> bool: ...

    def ntp_status(self) -> str: ...

    def uptime(self) -> float: ...

    def format_datetime(self, when: datetime) -> str: ...

    def format_date(self, when: datetime) -> str: ...

    # -- running commands and scripts
    async def generic(self, inv: Invocation, session: Session) -> str: ...

    async def value_of(self, inv: Invocation, session: Session) -> str: ...

    async def run_script(
        self, source: str, *, policy: str, origin: str, owner: str = "admin"
    ) -> str: ...

    async def delay(self, seconds: float) -> None: ...

    def config_changed(self, action: str, session: Session) -> None: ...

    def log(self, message: str, *, topic: str = "info") -> None: ...

    def emit(self, event: str) -> None: ...

    # -- power, backups and resets
    async def power_loss(self) -> None: ...

    def reboot_soon(self) -> None: ...

    def run_after_boot(self, source: str) -> None: ...

    def backup_bytes(self, password: str | None) -> bytes: ...

    def restore_backup(self, data: bytes, password: str | None) -> None: ...

    def reset_configuration(self, *, keep_users: bool, no_defaults: bool) -> None: ...


#: A special command (``/system backup save``, ``/import``, ...): text RouterOS prints.
Handler = Callable[[RouterHost, Invocation, Session], Awaitable[str]]
