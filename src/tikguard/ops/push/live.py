"""What a running push keeps in this process between its steps: one registry.

Its open session (reused across steps: a guarded push is about ten device
interactions, and an SSH handshake costs more controller CPU than everything else a
step does), the export the preflight read (the pre-push version is stored from it, so
one read and one parse serve both) and the events noted but not yet written. Nothing
here is needed by another process: after a crash it is simply empty, and the steps
read the router again.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Literal

from tikguard.device.session import DeviceSession
from tikguard.ops.push.results import PushSpec
from tikguard.process import STATE

#: The export the preflight read, prepared for the history: (redacted, secrets,
#: version, model).
Prepared = tuple[str, dict[str, str], str | None, str | None]
Level = Literal["info", "warning", "error"]
#: The stages a push's workflow writes events for (docs/push.md, "The protocol").
Stage = Literal[
    "preflight",
    "plan",
    "pre-push-backup",
    "revert-point",
    "armed",
    "disarm",
    "apply",
    "boot",
    "verify",
    "waiting-confirm",
    "confirmed",
    "commit",
    "post-push-backup",
    "revert",
    "prove",
    "error",
    "outcome",
]


@dataclass(frozen=True)
class Noted:
    """One event as the workflow noted it (written later, with the time it was noted)."""

    stage: Stage
    message: str
    level: Level = "info"
    data: dict[str, object] = field(default_factory=dict)
    at: float = field(default_factory=time.time)
    #: Its place among the events the workflow noted (1, 2, ...): the same on every run.
    n: int = 0


@dataclass
class Live:
    """One running push's state in this process."""

    #: The push's open session (verification always opens a fresh one).
    session: DeviceSession | None = None
    #: The export the preflight read and prepared.
    export: Prepared | None = None
    #: Events noted but not yet written (:mod:`tikguard.ops.push.events`).
    events: list[Noted] = field(default_factory=list)
    #: How many events this run of the workflow has noted.
    noted: int = 0


@dataclass
class Running:
    """Every running push's :class:`Live` entry, by operation id (held in
    :data:`tikguard.process.STATE`)."""

    pushes: dict[str, Live] = field(default_factory=dict)


def live(op_id: str) -> Live:
    """The running push's entry (made on first use)."""
    pushes = STATE.of(Running).pushes
    entry = pushes.get(op_id)
    if entry is None:
        entry = pushes[op_id] = Live()
    return entry


async def forget(spec: PushSpec) -> None:
    """The push ended (or gave up) in this process: close its session, drop its state."""
    entry = STATE.of(Running).pushes.pop(spec.op_id, None)
    if entry is not None and entry.session is not None:
        await entry.session.close()
