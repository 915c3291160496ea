"""Simulated routers in their own process, for the crash matrix.

``python sim_process.py STATE_DIR COUNT`` starts the fleet (clock scale from
``TIKGUARD_TIME_SCALE``), writes ``inventory.csv`` into STATE_DIR and serves until
killed. The routers keep their own time while controllers die and restart.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from pushkit import ensure_management_address

from tikguard.sim.fleet import SimFleet


async def main(state: Path, count: int) -> None:
    scale = float(os.environ["TIKGUARD_TIME_SCALE"])
    fleet = SimFleet(count, version="7.16", time_scale=scale, state_dir=state, boot_seconds=20.0)
    await fleet.start()
    await ensure_management_address(fleet)
    (state / "ready").write_text("ok")
    await asyncio.Event().wait()


asyncio.run(main(Path(sys.argv[1]), int(sys.argv[2])))
