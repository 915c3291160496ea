"""Crash matrix: the controller is SIGKILLed at each point of the protocol, restarted,
and every case ends in the right outcome with a consistent router.

The routers run in their own process (``tikguard sim run``), so killing the
controller leaves them -- and their revert timers -- running in real time, as in the
field. Invariants checked from the router itself: after ``committed`` no timer of ours
is left and the change is running; after ``reverted`` the change is gone.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import asyncssh
import pytest

pytestmark = [pytest.mark.timeout(240), pytest.mark.slow]

SCALE = 50.0
HERE = Path(__file__).parent
CONTROLLER = HERE / "crash_controller.py"
#: Long enough (30 s of a test, even on a loaded machine) that a restarted controller
#: resumes before the margin; committed cases end long before it.
LONG_WINDOW = 1500.0
#: Short (2.4 s): the controller stays dead past the deadline, the router reverts.
SHORT_WINDOW = 120.0


def _env() -> dict[str, str]:
    return {
        **os.environ,
        "TIKGUARD_TIME_SCALE": str(SCALE),
        "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]).rstrip(
            os.pathsep
        ),
    }


@pytest.fixture
def sim(tmp_path: Path):  # type: ignore[no-untyped-def]
    state = tmp_path / "sim"
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "sim_process.py"), str(state), "1"],
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    inventory = state / "inventory.csv"
    deadline = time.monotonic() + 30
    while not (state / "ready").exists():
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        assert time.monotonic() < deadline, "simulator did not start"
        time.sleep(0.05)
    yield inventory
    proc.terminate()
    proc.wait(10)


def _controller(data: Path, inventory: Path, window: float, crash: str) -> tuple[int, list[dict]]:
    out = subprocess.run(
        [sys.executable, str(CONTROLLER), str(data), str(inventory), str(window), crash],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    lines = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    if out.returncode not in (0, -9):
        raise AssertionError(out.stderr[-3000:])
    return out.returncode, lines


async def _router_state(inventory: Path) -> tuple[str, str]:
    import csv

    row = next(csv.DictReader(inventory.open()))
    async with asyncssh.connect(
        row["host"],
        port=int(row["port"]),
        username=row["username"],
        password=row["password"],
        known_hosts=None,
    ) as conn:
        sched = (await conn.run("/system scheduler print detail")).stdout
        config = (await conn.run("/export")).stdout
    return str(sched), str(config)


CASES = [
    ("after-pre-push-backup", LONG_WINDOW, "committed"),
    ("after-arming", LONG_WINDOW, "committed"),
    ("during-import", LONG_WINDOW, "reverted"),
    ("during-settle", LONG_WINDOW, "committed"),
    ("before-commit", LONG_WINDOW, "committed"),
    ("during-commit", LONG_WINDOW, "committed"),
    ("before-commit", SHORT_WINDOW, "reverted"),
]


@pytest.mark.parametrize(("crash", "window", "expected"), CASES)
def test_crash_then_restart(
    tmp_path: Path, sim: Path, crash: str, window: float, expected: str
) -> None:
    data = tmp_path / "data"
    code, lines = _controller(data, sim, window, crash)
    assert code == -9, f"the controller was meant to die at {crash}: {lines}"
    if window == SHORT_WINDOW:
        time.sleep(window / SCALE + 0.5)  # controller down past the router's deadline
    code, lines = _controller(data, sim, window, "none")
    assert code == 0
    assert lines[0]["created"] is False  # the same push resumed, not a second one
    result = lines[-1]
    assert result["outcome"] == expected, result["evidence"].get("reason")
    sched, config = asyncio.run(_router_state(sim))
    assert "tikguard" not in sched, "a revert timer was left on the router"
    if expected == "committed":
        assert "10.55.0.1/24" in config and "crash-matrix" in config
    else:
        assert "10.55.0.1/24" not in config
