"""The fleet page's view of the fleet: status filters (the summary counts a person
clicks), free-text search and column sorting over :class:`~tikguard.ops.fleet.FleetRow`.

Presentation only: the rows come from :func:`tikguard.ops.fleet.fleet`, the same call
the API's device list makes; this module decides what a page shows of them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from types import MappingProxyType

from tikguard.ops.fleet import FleetRow


@dataclass(frozen=True)
class Status:
    """One summary count: its label, how bad it is (``bad``/``warn``), who is in it."""

    label: str
    level: str
    test: Callable[[FleetRow], bool]


#: The summary counts, in the order a NOC reads them; the key is the ``status`` filter.
STATUSES: Mapping[str, Status] = MappingProxyType(
    {
        "uncertain": Status(
            "last push uncertain", "bad", lambda r: r.last_push_outcome == "uncertain"
        ),
        "confirm": Status(
            "push waiting for confirm", "warn", lambda r: r.last_push_state == "waiting"
        ),
        "failing": Status("backups failing", "bad", lambda r: r.last_backup_status == "failed"),
        "hostkey": Status("host key changed", "bad", lambda r: r.host_key_pending),
        "never": Status("never backed up", "warn", lambda r: r.versions == 0),
        "drift": Status("changed outside tikguard", "warn", lambda r: r.drift),
        "reverted": Status(
            "last push reverted", "warn", lambda r: r.last_push_outcome == "reverted"
        ),
        "leftovers": Status("tikguard leftovers", "warn", lambda r: bool(r.leftovers)),
    }
)

_EPOCH = datetime.min.replace(tzinfo=UTC)


def _when(value: datetime | None) -> datetime:
    if value is None:
        return _EPOCH
    return value if value.tzinfo else value.replace(tzinfo=UTC)


#: Sortable columns: key -> (label, sort key). Times sort oldest first ascending.
SORTS: Mapping[str, tuple[str, Callable[[FleetRow], tuple[object, ...]]]] = MappingProxyType(
    {
        "name": ("Device", lambda r: (r.name.casefold(),)),
        "site": ("Site", lambda r: ((r.site or "").casefold(), r.name.casefold())),
        "ros": ("RouterOS", lambda r: (_version_key(r.ros_version), r.name.casefold())),
        "backup": ("Last good backup", lambda r: (_when(r.last_good_at), r.name.casefold())),
        "versions": ("Versions", lambda r: (r.versions, r.name.casefold())),
        "push": ("Last push", lambda r: (_when(r.last_push_at), r.name.casefold())),
    }
)


def _version_key(version: str | None) -> tuple[int, ...]:
    """``7.16.2`` sorts after ``7.9`` (numbers, not text); unknown first."""
    if not version:
        return (-1,)
    parts = []
    for piece in version.split(" ")[0].split("."):
        digits = "".join(c for c in piece if c.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts)


def counts(rows: Sequence[FleetRow]) -> dict[str, int]:
    """How many rows each status holds (every status, zero included)."""
    return {key: sum(1 for r in rows if status.test(r)) for key, status in STATUSES.items()}


def matches(row: FleetRow, query: str) -> bool:
    """Whether every word of ``query`` appears in the row's name, address, site, tags,
    or RouterOS version (case-insensitive)."""
    hay = " ".join(
        (row.name, f"{row.host}:{row.port}", row.site or "", row.ros_version or "", *row.tags)
    ).casefold()
    return all(word in hay for word in query.casefold().split())


def select(
    rows: Sequence[FleetRow], *, status: str, query: str, sort: str, descending: bool
) -> list[FleetRow]:
    """The rows a fleet page shows: in ``status`` (a :data:`STATUSES` key or empty),
    matching ``query``, sorted by ``sort`` (a :data:`SORTS` key)."""
    test = STATUSES[status].test if status in STATUSES else None
    chosen = [r for r in rows if (test is None or test(r)) and (not query or matches(r, query))]
    key = SORTS.get(sort, SORTS["name"])[1]
    return sorted(chosen, key=key, reverse=descending)
