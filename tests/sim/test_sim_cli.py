"""`tikguard sim run`: starts routers, writes the inventory, serves until interrupted."""

from __future__ import annotations

import asyncio
import csv
import os
import signal
import sys
from pathlib import Path

import asyncssh

from tikguard.sim.clock import SimClock
from tikguard.sim.router import SimRouter


async def test_sim_run_serves_until_interrupted(tmp_path: Path) -> None:
    state = tmp_path / "state"
    env = {**os.environ, "TIKGUARD_TIME_SCALE": "40"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tikguard.cli",
        "sim",
        "run",
        "--devices",
        "2",
        "--state-dir",
        str(state),
        "--password",
        "pw-cli",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    assert proc.stdout is not None
    try:
        async with asyncio.timeout(30):
            seen = ""
            while "press Ctrl-C to stop" not in seen:
                line = await proc.stdout.readline()
                assert line, "sim run ended before it was ready"
                seen += line.decode()
        assert "time scale 40x" in seen
        with (state / "inventory.csv").open(newline="") as f:
            rows = list(csv.DictReader(f))
        assert [r["name"] for r in rows] == ["r001", "r002"]
        row = rows[1]
        async with asyncssh.connect(
            row["host"],
            port=int(row["port"]),
            username=row["username"],
            password=row["password"],
            known_hosts=None,
            connect_timeout=5,
        ) as conn:
            out = (await conn.run("/system identity print")).stdout
            await conn.run("/system identity set name=renamed", check=True)
        assert "name: r002" in str(out)
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGINT)
        async with asyncio.timeout(30):
            await proc.wait()
    assert proc.returncode == 0
    # Ctrl-C saved each router's configuration: a restart on this directory has it.
    again = SimRouter(
        name="r002", clock=SimClock(manual=True), state_dir=state / "devices" / "r002"
    )
    assert again.identity == "renamed"


async def test_sim_run_refuses_a_non_loopback_host(tmp_path: Path) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tikguard.cli",
        "sim",
        "run",
        "--host",
        "0.0.0.0",
        "--state-dir",
        str(tmp_path),
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(30):
        _, err = await proc.communicate()
    assert proc.returncode == 1
    assert b"not a loopback address" in err
