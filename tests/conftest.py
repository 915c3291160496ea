"""Shared test fixtures: the corpus location and small, honest settings."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from tikguard.sim.fleet import SimDevice, SimFleet

REPO = Path(__file__).resolve().parents[1]
CORPUS = Path(os.environ.get("TIKGUARD_CORPUS", REPO.parent / "shared" / "corpus"))


def corpus_dir(sub: str) -> Path:
    """A corpus sub-folder, or skip the test with a clear message if it is absent."""
    path = CORPUS / sub
    if not path.is_dir():
        pytest.skip(f"RouterOS corpus not found at {path} (set TIKGUARD_CORPUS to its folder)")
    return path


def corpus_exports() -> list[Path]:
    """Every export in the corpus, for parametrised tests (empty when absent)."""
    path = CORPUS / "exports"
    return sorted(path.glob("*.rsc")) if path.is_dir() else []


# -- simulated routers ----------------------------------------------------------------
#: Device time runs this much faster than real time in simulator tests (a 20 s boot
#: takes 0.4 s). Controller code under test must use the same scale:
#: ``Settings(time_scale=SIM_TIME_SCALE)`` or ``fleet.time_scale``.
SIM_TIME_SCALE = 50.0


@pytest.fixture
async def sim_fleet_factory(tmp_path: Path) -> AsyncIterator[Callable[..., Awaitable[SimFleet]]]:
    """Start fleets with any ``SimFleet`` arguments; all are stopped after the test.

    ``fleet = await sim_fleet_factory(count=2, version="6.49", model="hAP ac")``. The
    state directory defaults to ``tmp_path / "sim"``; the time scale to SIM_TIME_SCALE.
    """
    from tikguard.sim.fleet import SimFleet

    fleets: list[SimFleet] = []

    async def make(count: int = 1, **kwargs: Any) -> SimFleet:
        kwargs.setdefault("time_scale", SIM_TIME_SCALE)
        kwargs.setdefault("state_dir", tmp_path / "sim")
        fleet = SimFleet(count, **kwargs)
        await fleet.start()
        fleets.append(fleet)
        return fleet

    yield make
    for fleet in reversed(fleets):
        await fleet.stop()


@pytest.fixture
async def sim_fleet(sim_fleet_factory: Callable[..., Awaitable[SimFleet]]) -> SimFleet:
    """Three RouterOS 7.16 CHR routers on 127.0.0.1 (``fleet[0].host/.port/.password``)."""
    return await sim_fleet_factory(3)


@pytest.fixture
async def sim_router(sim_fleet_factory: Callable[..., Awaitable[SimFleet]]) -> SimDevice:
    """One RouterOS 7.16 CHR router: a :class:`tikguard.sim.fleet.SimDevice` handle."""
    fleet = await sim_fleet_factory(1)
    return fleet[0]


# -- databases ------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """An app database URL: empty (SQLite in the data directory) or a fresh PostgreSQL
    database, dropped after the test (``Settings(database_url=...)``)."""
    if request.param == "sqlite":
        yield ""
        return
    base_url = os.environ.get("TIKGUARD_TEST_POSTGRES_URL", "")
    if not base_url:
        pytest.skip("PostgreSQL not configured: set TIKGUARD_TEST_POSTGRES_URL")
    from tests.pgtemp import fresh_database

    with fresh_database("tg_test", base_url) as url:
        yield url
