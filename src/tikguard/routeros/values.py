"""RouterOS value formats in ``print`` output: durations, sizes, dates, policies.

RouterOS prints durations as ``6w5d11h55m45s`` (also ``00:01:30`` and ``1d02:03:04``),
sizes as ``71.2MiB`` / ``385272KiB`` / ``1196.0KiB``, dates as ``jul/21/2023`` (6.x,
7.0-7.9) or ``2023-07-21`` (7.10+).
"""

from __future__ import annotations

import re
from datetime import date, datetime, time
from types import MappingProxyType
from typing import Final

_DURATION_PART: Final = re.compile(r"(\d+(?:\.\d+)?)(w|d|h|ms|m|s|us)")
_CLOCK: Final = re.compile(r"^(?:(\d+)d)?(\d+):(\d\d):(\d\d)(?:\.(\d+))?$")
_UNIT_SECONDS: Final = MappingProxyType(
    {
        "w": 604800,
        "d": 86400,
        "h": 3600,
        "m": 60,
        "s": 1,
        "ms": 0.001,
        "us": 1e-6,
    }
)


def parse_duration(text: str) -> float:
    """Seconds in a RouterOS duration (``6w5d11h55m45s``, ``00:01:30``, ``1d02:03:04``)."""
    text = text.strip()
    clock = _CLOCK.match(text)
    if clock:
        days, hours, minutes, seconds, frac = clock.groups()
        total = int(days or 0) * 86400 + int(hours) * 3600 + int(minutes) * 60 + int(seconds)
        return total + (float("0." + frac) if frac else 0.0)
    pos, total_f = 0, 0.0
    for match in _DURATION_PART.finditer(text):
        if match.start() != pos:
            break
        total_f += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        pos = match.end()
    if pos != len(text) or not text:
        raise ValueError(f"not a RouterOS duration: {text!r}")
    return total_f


_SIZE: Final = re.compile(r"^(\d+(?:\.\d+)?)\s*([KMGT]i?B|B|)$")
_SIZE_FACTOR: Final = MappingProxyType(
    {
        "": 1,
        "B": 1,
        "KiB": 1024,
        "MiB": 1024**2,
        "GiB": 1024**3,
        "TiB": 1024**4,
        "KB": 1000,
        "MB": 1000**2,
        "GB": 1000**3,
        "TB": 1000**4,
    }
)


def parse_size(text: str) -> int:
    """Bytes in a RouterOS size (``71.2MiB``, ``385272KiB``, ``4096``)."""
    match = _SIZE.match(text.strip())
    if not match:
        raise ValueError(f"not a RouterOS size: {text!r}")
    return int(float(match.group(1)) * _SIZE_FACTOR[match.group(2)])


_MONTHS: Final = (
    "jan",
    "feb",
    "mar",
    "apr",
    "may",
    "jun",
    "jul",
    "aug",
    "sep",
    "oct",
    "nov",
    "dec",
)


def parse_date(text: str) -> date:
    """A RouterOS date: ``jul/21/2023`` or ``2023-07-21``."""
    text = text.strip()
    old = re.fullmatch(r"([A-Za-z]{3})/(\d{1,2})/(\d{4})", text)
    if old:
        month = _MONTHS.index(old.group(1).lower()) + 1
        return date(int(old.group(3)), month, int(old.group(2)))
    return date.fromisoformat(text)


def parse_clock(date_text: str, time_text: str) -> datetime:
    """The device's local wall clock from ``/system clock print`` (naive datetime)."""
    return datetime.combine(parse_date(date_text), time.fromisoformat(time_text.strip()))


def parse_policies(text: str) -> frozenset[str]:
    """Group policies (``local,telnet,ssh,!ftp,...`` or ``;``-separated); ``!x`` is denied."""
    parts = re.split(r"[,;\s]+", text.strip())
    return frozenset(p for p in parts if p and not p.startswith("!"))


def version_tuple(version: str) -> tuple[int, ...]:
    """``7.16.1 (stable)`` -> ``(7, 16, 1)``; ``7.17rc2`` -> ``(7, 17)``."""
    match = re.match(r"\s*(\d+(?:\.\d+)*)", version)
    if not match:
        raise ValueError(f"not a RouterOS version: {version!r}")
    return tuple(int(p) for p in match.group(1).split("."))
