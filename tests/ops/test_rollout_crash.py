"""A controller killed mid-wave and restarted resumes the rollout without pushing any
router twice. The routers run in their own process, keeping their own time."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.timeout(240), pytest.mark.slow]

SCALE = 50.0
HERE = Path(__file__).parent


def _env() -> dict[str, str]:
    path = os.pathsep.join(p for p in (str(HERE), os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "TIKGUARD_TIME_SCALE": str(SCALE), "PYTHONPATH": path}


def _controller(data: Path, inventory: Path, mode: str) -> tuple[int, list[dict[str, Any]]]:
    out = subprocess.run(
        [sys.executable, str(HERE / "rollout_controller.py"), str(data), str(inventory), mode],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=180,
    )
    if out.returncode not in (0, -9):
        raise AssertionError(out.stderr[-3000:])
    return out.returncode, [json.loads(x) for x in out.stdout.splitlines() if x.startswith("{")]


def test_killed_mid_wave_resumes_without_pushing_twice(tmp_path: Path) -> None:
    state = tmp_path / "sim"
    sim = subprocess.Popen(
        [sys.executable, str(HERE / "sim_process.py"), str(state), "3"],
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while not (state / "ready").exists():
            assert sim.poll() is None, sim.stderr.read() if sim.stderr else ""
            assert time.monotonic() < deadline, "simulator did not start"
            time.sleep(0.05)
        inventory = state / "inventory.csv"
        code, lines = _controller(tmp_path / "data", inventory, "start")
        assert code == -9, lines
        code, lines = _controller(tmp_path / "data", inventory, "resume")
        assert code == 0
        result = lines[-1]
        view = result["view"]
        assert view["state"] == "completed", view
        assert [t["outcome"] for t in view["targets"]] == ["committed"] * 3
        assert set(result["pushes"].values()) == {1}, result["pushes"]
    finally:
        sim.terminate()
        sim.wait(10)
