"""Version and model profiles: where RouterOS releases and boards behave differently.

A profile is derived from the version number by thresholds (so ``7.19.4`` behaves like
the newest modelled 7.x rules and ``6.45.9`` like 6.49), and a model profile says
which interfaces and storage a board has. Both are immutable and shared by every
router of that version/model.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from types import MappingProxyType

#: The versions the simulator is checked against; others map by thresholds.
MODELLED_VERSIONS = ("6.49", "7.12", "7.16", "7.18")


@dataclass(frozen=True)
class Profile:
    """What a RouterOS version does differently, as tikguard can observe it."""

    version: str
    major: int
    minor: int
    #: ``# nov/14/2022 17:14:05`` (6.x and 7.0-7.9) or ``# 2024-02-09 08:47:35`` (7.10+).
    iso_dates: bool
    #: 6.x exports secrets unless ``hide-sensitive``; 7.x hides them unless ``show-sensitive``.
    sensitive_shown_by_default: bool
    #: ``/import ... dry-run`` exists (7.16+).
    has_dry_run: bool
    #: ``/system device-mode`` exists (7.17+) and may forbid the scheduler.
    has_device_mode: bool
    #: CHR headers say ``# system id =`` instead of ``# software id =`` (7.17+).
    chr_system_id: bool
    #: Menu paths may be written with slashes (``/ip/address``) (7.x).
    slash_paths: bool
    #: ``/system note`` exists and is exported (7.16+... modelled as 7.11+).
    has_system_note: bool
    #: ``/system script`` items record and export their ``owner`` (seen from 6.46 on,
    #: absent in 6.27; the threshold 6.40 is an estimate).
    script_owner: bool = True

    @property
    def is_v7(self) -> bool:
        return self.major >= 7


_VERSION_RE = re.compile(r"^(\d+)\.(\d+)")


@lru_cache(maxsize=64)
def profile_for(version: str) -> Profile:
    """The profile for a version string (``7.16``, ``6.49.7``, ``7.19.4``)."""
    m = _VERSION_RE.match(version.strip())
    if not m:
        raise ValueError(f"not a RouterOS version: {version!r}")
    major, minor = int(m.group(1)), int(m.group(2))
    if major < 6:
        raise ValueError(f"RouterOS {version} is not modelled (6.x and 7.x are)")
    v7 = major >= 7

    def at_least(a: int, b: int) -> bool:
        return (major, minor) >= (a, b)

    return Profile(
        version=version.strip(),
        major=major,
        minor=minor,
        iso_dates=at_least(7, 10),
        sensitive_shown_by_default=not v7,
        has_dry_run=at_least(7, 16),
        has_device_mode=at_least(7, 17),
        chr_system_id=at_least(7, 17),
        slash_paths=v7,
        has_system_note=at_least(7, 11),
        script_owner=at_least(6, 40),
    )


@dataclass(frozen=True)
class ModelProfile:
    """A board: its name in exports, ethernet ports, wireless, and storage."""

    name: str
    #: What ``# model =`` says (None: the line is absent, as on CHR).
    export_model: str | None
    board_name: str
    ethernet: tuple[str, ...]
    wireless: tuple[str, ...] = ()
    #: True when the board has a ``flash/`` folder (files outside it live in RAM).
    has_flash: bool = False
    storage_bytes: int = 64 * 1024 * 1024
    memory_bytes: int = 256 * 1024 * 1024
    architecture: str = "x86_64"
    cpu: str = "QEMU Virtual CPU"
    cpu_count: int = 1
    routerboard: bool = False


MODELS: Mapping[str, ModelProfile] = MappingProxyType(
    {
        "CHR": ModelProfile(
            name="CHR",
            export_model=None,
            board_name="CHR",
            ethernet=tuple(f"ether{i}" for i in range(1, 9)),
            storage_bytes=128 * 1024 * 1024,
            memory_bytes=1024 * 1024 * 1024,
        ),
        "hAP ac": ModelProfile(
            name="hAP ac",
            export_model="RouterBOARD 962UiGS-5HacT2HnT",
            board_name="hAP ac",
            ethernet=("ether1", "ether2", "ether3", "ether4", "ether5", "sfp1"),
            wireless=("wlan1", "wlan2"),
            has_flash=True,
            storage_bytes=16 * 1024 * 1024,
            memory_bytes=128 * 1024 * 1024,
            architecture="mipsbe",
            cpu="MIPS 74Kc V5.0",
            routerboard=True,
        ),
    }
)


def model_profile(model: str) -> ModelProfile:
    """The board profile for a model name (``CHR``, ``hAP ac``)."""
    try:
        return MODELS[model]
    except KeyError:
        known = ", ".join(sorted(MODELS))
        raise ValueError(f"unknown simulated model {model!r} (known: {known})") from None
