"""What tikguard left on a router with no live operation behind it.

A push names everything it puts on a router after its operation (``tikguard-<op>``):
the revert timers (with a marker comment naming the operation), the revert point
``.backup`` and the uploaded ``.rsc`` scripts. A push cleans up on every path it
controls; what an interruption leaves (power cut, a controller that never came back,
a timer removed by hand half way) is found by the next contact:

* every backup reads the timers from the export it already takes, and the tikguard
  files with one ``/file print``; it removes the files of operations this controller
  knows have ended (file names are operation-scoped, so an ended operation's file can
  never be in use) and reports everything else it found with no live operation
  behind it: on the device (CLI, API ``leftovers``, fleet page marker);
* ``tikguard disarm DEVICE NAME`` removes a leftover timer; ``ops recheck`` and
  ``revert`` remove the files of their operation once no timer of it is left.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Final, Literal, TypedDict

from sqlalchemy import select
from sqlalchemy.orm import Session

from tikguard.device import guard as dev
from tikguard.device.errors import RouterOSCommandError
from tikguard.device.session import DeviceSession
from tikguard.routeros.errors import ParseError
from tikguard.routeros.output import parse_detail
from tikguard.routeros.parse import parse
from tikguard.store.models import Operation

#: The marker comments of a push's two timers, each followed by the operation id.
MARKER_PREFIXES: Final = (
    "tikguard revert point of operation ",
    "tikguard revert at boot of operation ",
)
#: ``tikguard-<operation prefix>...`` ``.backup``/``.rsc`` in any folder.
_FILE: Final = re.compile(r"(?:^|/)tikguard-([0-9a-f]{8,})[^/]*\.(?:backup|rsc)$")

#: Given operation-id prefixes, the ones this controller knows have ended.
EndedLookup = Callable[[list[str]], Awaitable[set[str]]]


class Leftover(TypedDict):
    """One thing of tikguard's on a router with no live operation behind it, as the
    device row keeps it (a JSON column) and the CLI and API show it."""

    kind: Literal["timer", "file"]
    name: str
    #: The operation id (a timer's marker) or id prefix (a file's name); None: no marker.
    operation: str | None
    why: str


def operation_of(comment: str | None) -> str | None:
    """The operation id in a tikguard timer's marker comment (None: not ours)."""
    for prefix in MARKER_PREFIXES:
        if comment and comment.startswith(prefix):
            return comment[len(prefix) :].strip() or None
    return None


def file_operation(name: str) -> str | None:
    """The operation-id prefix in a tikguard file name (None: not a push's file)."""
    match = _FILE.search(name)
    return match.group(1) if match else None


@dataclass(frozen=True)
class Found:
    """tikguard's own things on a router: timers ``(name, comment)`` and files."""

    timers: list[tuple[str, str | None]] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)


def timers_in_export(raw_export: str) -> list[tuple[str, str | None]]:
    """tikguard timers in an export (the backup's own read: no extra command)."""
    try:
        config = parse(raw_export)
    except ParseError:
        return []
    out: list[tuple[str, str | None]] = []
    for cmd in config.commands_in("/system scheduler"):
        name = cmd.get("name") or ""
        if name.startswith("tikguard-"):
            out.append((name, cmd.get("comment")))
    return out


async def read_on_router(
    session: DeviceSession, raw_export: str, ended: EndedLookup | None
) -> Found:
    """The timers (from the export) and files of tikguard on the router; the files of
    operations ``ended`` says have ended are removed (and listed as removed)."""
    timers = timers_in_export(raw_export)
    try:
        files = await tikguard_files(session)
    except RouterOSCommandError:
        return Found(timers)
    removed: list[str] = []
    if files and ended is not None:
        gone = await ended(sorted({str(file_operation(f)) for f in files}))
        for name in files:
            if file_operation(name) in gone:
                await dev.remove_file(session, name)
                removed.append(name)
    return Found(timers, [f for f in files if f not in removed], removed)


async def tikguard_files(session: DeviceSession) -> list[str]:
    """Every push file (revert point, script) on the router, by name."""
    text = await session.run('/file print detail where name~"tikguard-"')
    return [
        str(i.props["name"])
        for i in parse_detail(text)
        if file_operation(str(i.props.get("name", ""))) is not None
    ]


def ended_prefixes(session: Session, tenant_id: int, prefixes: Iterable[str]) -> set[str]:
    """The prefixes each of which names exactly one operation of the tenant, ended."""
    out: set[str] = set()
    for prefix in prefixes:
        rows = session.execute(
            select(Operation.outcome).where(
                Operation.tenant_id == tenant_id, Operation.id.startswith(prefix)
            )
        ).all()
        if len(rows) == 1 and rows[0][0] is not None:
            out.add(prefix)
    return out


def report(session: Session, tenant_id: int, found: Found) -> list[Leftover]:
    """What ``found`` holds with no live operation of this tenant behind it."""
    out: list[Leftover] = []

    def why(prefix: str) -> str | None:
        rows = session.execute(
            select(Operation.id, Operation.outcome).where(
                Operation.tenant_id == tenant_id, Operation.id.startswith(prefix)
            )
        ).all()
        if not rows:
            return "no such operation here"
        if any(outcome is None for _, outcome in rows):
            return None  # live: its own workflow cleans up
        return f"operation ended {rows[0][1]}"

    for name, comment in found.timers:
        op_id = operation_of(comment)
        reason = "no tikguard marker" if op_id is None else why(op_id)
        if reason is not None:
            out.append(Leftover(kind="timer", name=name, operation=op_id, why=reason))
    for name in found.files:
        prefix = str(file_operation(name))
        reason = why(prefix)
        if reason is not None:
            out.append(Leftover(kind="file", name=name, operation=prefix, why=reason))
    return out


def summary(items: Sequence[Leftover] | None) -> str:
    """One line for a screen: ``2 tikguard timer(s), 1 file(s) left: tikguard disarm``."""
    if not items:
        return ""
    timers = [i["name"] for i in items if i["kind"] == "timer"]
    files = [i["name"] for i in items if i["kind"] == "file"]
    parts = []
    if timers:
        parts.append(f"tikguard timer(s) left with no live push: {', '.join(timers)}")
    if files:
        parts.append(f"tikguard file(s) left: {', '.join(files)}")
    return "; ".join(parts)
