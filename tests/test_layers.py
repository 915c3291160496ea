"""The import graph follows the layers and has no cycles (contracts in pyproject.toml).

``lint-imports`` (import-linter) checks three contracts: the layers routeros <- device,
sim <- store <- ops <- server <- web <- api <- commands; no production module imports
the simulator (only the ``sim`` and ``demo`` commands); no import cycle between sibling
packages or modules anywhere under ``tikguard``. See docs/architecture.md.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_import_contracts_are_kept() -> None:
    src = str(ROOT / "src")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    lint = Path(sys.executable).with_name("lint-imports")
    run = subprocess.run(
        [str(lint), "--no-cache"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert "3 kept, 0 broken" in run.stdout, run.stdout[-2000:]
