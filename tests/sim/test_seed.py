"""Realistic fleets: routers seeded with real exports (``SimFleet(config_from=...)``,
``tikguard sim run --config-from``)."""

from __future__ import annotations

import shutil
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from tests.conftest import CORPUS

from tikguard.routeros.diff import diff
from tikguard.routeros.parse import parse
from tikguard.sim.fleet import SimFleet
from tikguard.sim.seed import MANAGEMENT_COMMENT, Seed, seed_from_text

from .sshclient import run

SEEDS = ("ros6.49.7_951ui_compact.rsc", "ros7.2.3_rb5009_capsman-firewall-vlans.rsc")


@pytest.fixture
def seed_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "exports"
    folder.mkdir()
    for name in (*SEEDS, "ros5.7_rb493g_verbose-indexed.rsc"):
        source = CORPUS / "exports" / name
        if not source.is_file():
            pytest.skip(f"corpus export {source} not found (set TIKGUARD_CORPUS)")
        shutil.copy(source, folder / name)
    (folder / "broken.rsc").write_text('/ip address\nadd address="10.0.0.1/24\n')
    return folder


async def test_fleet_seeded_from_exports_uses_them_in_turn(
    sim_fleet_factory: Callable[..., Awaitable[SimFleet]], seed_dir: Path
) -> None:
    fleet = await sim_fleet_factory(3, config_from=seed_dir)
    assert fleet.seeds is not None
    skipped = {Path(s.source).name: s.reason for s in fleet.seeds.skipped}
    assert "5.7 is not modelled" in skipped["ros5.7_rb493g_verbose-indexed.rsc"]
    assert "does not parse" in skipped["broken.rsc"]
    assert [d.router.profile.version for d in fleet] == ["6.49.7", "7.2.3", "6.49.7"]
    assert [d.tags for d in fleet][:2] == [("sim", "ros6.49.7"), ("sim", "ros7.2.3")]
    # The seeded config is the real one, plus management access and nothing else.
    original = parse((seed_dir / SEEDS[0]).read_text())
    first = fleet[0]
    exported = await run(first, "/export")
    assert "1004705 GONZALO" not in exported  # the fleet names its routers
    changes = diff(original, parse(exported.replace("\r\n", "\n")))
    changed = {m.path for m in changes.menus}
    assert changed <= {"/ip address", "/ip firewall filter", "/ip service", "/system identity"}
    assert MANAGEMENT_COMMENT in exported
    assert len(exported) > 4000
    # SSH stays where the export put it (3322); the inventory says where it listens.
    assert first.server.router_port == 3322
    assert "1004705" not in await run(fleet[2], "/system identity print")


async def test_export_of_a_seeded_router_seeds_again(
    sim_fleet_factory: Callable[..., Awaitable[SimFleet]], seed_dir: Path
) -> None:
    fleet = await sim_fleet_factory(2, config_from=[seed_dir / n for n in SEEDS])
    for dev in fleet:
        show = "" if dev.router.profile.sensitive_shown_by_default else " show-sensitive"
        text = (await run(dev, "/export" + show)).replace("\r\n", "\n")
        again = await seed_from_text(text, source=dev.name)
        assert isinstance(again, Seed), again


async def test_no_usable_file_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "old.rsc").write_text(
        "# jan/02/1970 00:00:00 by RouterOS 5.7\n/ip dns\nset servers=1.1.1.1\n"
    )
    fleet = SimFleet(1, config_from=tmp_path, state_dir=tmp_path / "sim")
    with pytest.raises(ValueError, match="none of the 1 export files can seed a router"):
        await fleet.start()
