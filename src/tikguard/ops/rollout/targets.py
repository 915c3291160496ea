"""Which routers a rollout changes: by tag, site, all, names, or a regular expression
over each router's latest stored configuration.

``--match`` is bounded (:mod:`tikguard.routeros.patterns`: length and a time limit per
router), so a pattern that backtracks without end is refused with a clear message
instead of stalling the controller.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import regex
from sqlalchemy.orm import Session

from tikguard.routeros import patterns
from tikguard.store import devices as store_devices
from tikguard.store import versions as store_versions
from tikguard.store.errors import InvalidInput, NotFound
from tikguard.store.models import Device

MAX_PATTERN = patterns.MAX_PATTERN


@dataclass(frozen=True)
class Selector:
    """How an operator chose the routers; the union of what is given (names, tag, site,
    all), then narrowed by ``match``. Empty selects nothing (an error)."""

    names: Sequence[str] = ()
    tag: str | None = None
    site: str | None = None
    all: bool = False
    match: str | None = None

    def as_json(self) -> dict[str, object]:
        return {
            "names": list(self.names),
            "tag": self.tag,
            "site": self.site,
            "all": self.all,
            "match": self.match,
        }

    @classmethod
    def from_json(cls, data: dict[str, object]) -> Selector:
        names = data.get("names") or []
        assert isinstance(names, list)
        return cls(
            names=[str(n) for n in names],
            tag=_opt(data.get("tag")),
            site=_opt(data.get("site")),
            all=bool(data.get("all")),
            match=_opt(data.get("match")),
        )

    def empty(self) -> bool:
        return not (self.names or self.tag or self.site or self.all or self.match)


def _opt(value: object) -> str | None:
    return None if value is None else str(value)


def compile_match(pattern: str) -> regex.Pattern[str]:
    """The ``--match`` pattern, compiled (multi-line: ``^``/``$`` match at each line)."""
    try:
        return patterns.compile_bounded(pattern, "--match")
    except patterns.PatternError as exc:
        raise InvalidInput(str(exc)) from None


def matches(pattern: regex.Pattern[str], text: str, device: str) -> bool:
    """Whether ``pattern`` occurs in ``text``; a search past its time limit is an error."""
    try:
        found = patterns.search_bounded(pattern, text, "--match", f"{device}'s configuration")
    except patterns.PatternError as exc:
        raise InvalidInput(str(exc)) from None
    return found is not None


@dataclass(frozen=True)
class Resolved:
    """The routers selected, by name, and the latest stored config of each (redacted)."""

    devices: list[Device]
    configs: dict[int, str | None] = field(repr=False)


def resolve(session: Session, tenant_id: int, selector: Selector) -> Resolved:
    """The routers ``selector`` names, ordered by name; unknown names are errors."""
    if selector.empty():
        raise InvalidInput("name the routers: NAMES, --tag, --site, --all or --match")
    chosen: dict[int, Device] = {}
    if selector.all or (selector.match and not (selector.names or selector.tag or selector.site)):
        chosen.update((d.id, d) for d in store_devices.list_devices(session, tenant_id))
    if selector.tag:
        found = store_devices.list_devices(session, tenant_id, tag=selector.tag)
        chosen.update((d.id, d) for d in found)
    if selector.site:
        found = store_devices.list_devices(session, tenant_id, site=selector.site)
        chosen.update((d.id, d) for d in found)
    if selector.names:
        found = store_devices.list_devices(session, tenant_id, names=selector.names)
        missing = sorted(set(selector.names) - {d.name for d in found})
        if missing:
            raise NotFound(f"device(s) {', '.join(missing)} do not exist")
        chosen.update((d.id, d) for d in found)
    devices = sorted(chosen.values(), key=lambda d: d.name)
    configs = {d.id: latest_config(session, tenant_id, d.id) for d in devices}
    if selector.match:
        pattern = compile_match(selector.match)
        devices = [
            d
            for d in devices
            if configs[d.id] is not None and matches(pattern, configs[d.id] or "", d.name)
        ]
        configs = {d.id: configs[d.id] for d in devices}
    return Resolved(devices, configs)


def latest_config(session: Session, tenant_id: int, device_id: int) -> str | None:
    """The newest stored configuration text of a device (redacted), or None."""
    version = store_versions.latest_version(session, tenant_id, device_id)
    return None if version is None else store_versions.version_text(version)


def describe(names: Sequence[str], shown: int = 10) -> str:
    """ "12 routers: a, b, c, ... and 2 more" (names when the list is short)."""
    count = len(names)
    head = f"{count} router{'s' if count != 1 else ''}"
    if not names:
        return head
    listed = ", ".join(names[:shown])
    more = f" and {count - shown} more" if count > shown else ""
    return f"{head}: {listed}{more}"
