"""The soak at a small size: a few routers, a server, random work and faults (kill -9
of the server, power cuts, dropped connections), then every invariant of
:mod:`tests.ops.soak`. ``bench/soak.py`` runs the same at a larger size."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.ops.soak import SoakConfig, run_soak

pytestmark = [pytest.mark.timeout(900), pytest.mark.slow]


def test_soak_small(tmp_path: Path) -> None:
    report = run_soak(tmp_path, SoakConfig(routers=3, actions=30, seed=7, pause=1.0))
    print(report.summary())
    assert sum(report.faults.values()) >= 5
    assert report.checked["outcome matches router"] >= 5
    assert report.violations == [], report.summary()
