"""Version and board profiles: how any version string maps to modelled behaviour."""

from __future__ import annotations

import pytest

from tikguard.sim.profiles import model_profile, profile_for


@pytest.mark.parametrize(
    ("version", "iso", "shown", "dry_run", "device_mode", "slashes"),
    [
        ("6.49", False, True, False, False, False),
        ("6.45.9", False, True, False, False, False),
        ("7.2.3", False, False, False, False, True),
        ("7.12", True, False, False, False, True),
        ("7.16", True, False, True, False, True),
        ("7.18", True, False, True, True, True),
        ("7.19.4", True, False, True, True, True),
    ],
)
def test_versions_map_by_threshold(
    version: str, iso: bool, shown: bool, dry_run: bool, device_mode: bool, slashes: bool
) -> None:
    p = profile_for(version)
    assert (p.iso_dates, p.sensitive_shown_by_default, p.has_dry_run) == (iso, shown, dry_run)
    assert (p.has_device_mode, p.slash_paths) == (device_mode, slashes)


def test_unmodelled_versions_and_boards_are_refused_clearly() -> None:
    with pytest.raises(ValueError, match="not modelled"):
        profile_for("5.7")
    with pytest.raises(ValueError, match="unknown simulated model"):
        model_profile("RB5009")
    assert model_profile("hAP ac").has_flash and not model_profile("CHR").has_flash
