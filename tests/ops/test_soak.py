"""The soak at a small size: a few routers, a server, random work and faults (kill -9
of the server, power cuts, dropped connections), then every invariant of
:mod:`tests.ops.soak`. ``bench/soak.py`` runs the same at a larger size."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.ops.soak import SoakConfig, run_soak

pytestmark = [pytest.mark.timeout(900), pytest.mark.slow]


def test_soak_small(tmp_path: Path) -> None:
    report = run_soak(tmp_path, SoakConfig(routers=2, actions=14, seed=7, pause=0.5))
    print(report.summary())
    assert sum(report.faults.values()) >= 3
    assert report.checked["outcome matches router"] >= 3
    assert report.violations == [], report.summary()
