"""The command line end to end: ``tikguard demo`` on the embedded default, then
``ops list`` and ``ops show`` reading what it recorded. Real subprocesses, real SSH."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.timeout(300), pytest.mark.slow]


def _tikguard(data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TIKGUARD_DATA_DIR": str(data), "COLUMNS": "200"}
    env.pop("TIKGUARD_TIME_SCALE", None)
    return subprocess.run(
        [sys.executable, "-m", "tikguard.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )


def test_demo_then_ops_list_and_show(tmp_path: Path) -> None:
    demo = _tikguard(tmp_path, "demo", "--time-scale", "50")
    assert demo.returncode == 0, demo.stdout[-3000:] + demo.stderr[-3000:]
    assert demo.stdout.count("committed") >= 4
    assert "reverted" in demo.stdout
    assert "rebooted yes" in demo.stdout  # the reverted router's evidence

    run_dir = next(tmp_path.glob("demo-*"))
    listed = _tikguard(run_dir, "ops", "list")
    assert listed.returncode == 0, listed.stderr
    assert "reverted" in listed.stdout and "restore" in listed.stdout
    op = re.search(r"^│ ([0-9a-f]{12}) .*reverted", listed.stdout, re.MULTILINE)
    assert op, listed.stdout

    shown = _tikguard(run_dir, "ops", "show", op.group(1))
    assert shown.returncode == 0, shown.stderr
    for stage in ("preflight", "revert-point", "armed", "apply", "prove", "outcome"):
        assert stage in shown.stderr  # events stream on stderr, tables on stdout
    assert "rebooted" in shown.stdout and "True" in shown.stdout
