"""Simulated routers in their own process, with a control socket for the soak.

``python soak_sim.py STATE_DIR COUNT`` starts the fleet (clock scale from
``TIKGUARD_TIME_SCALE``), writes ``inventory.csv`` into STATE_DIR, listens on the Unix
socket ``STATE_DIR/control`` and serves until killed. One JSON request per line, one
JSON answer per line:

* ``{"cmd": "fault", "router": NAME, "fault": F, ...params}``: ``SimDevice.inject``;
* ``{"cmd": "power-cycle", "router": NAME, "off": SECONDS}``: power cut now, back on
  after ``off`` device seconds (the boot follows by itself);
* ``{"cmd": "calm"}``: every fault off and every router powered on;
* ``{"cmd": "state"}``: each router's config text, scheduler entries, files and power.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

from pushkit import ensure_management_address

from tikguard.sim.fleet import SimDevice, SimFleet

_tasks: set[asyncio.Task[None]] = set()


async def _power_cycle(dev: SimDevice, off: float) -> None:
    await dev.power_cycle(off_seconds=off, wait=False)


def _state(fleet: SimFleet) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for dev in fleet:
        snap = dev.router.snapshot()
        out[dev.name] = {
            "config": snap["config"],
            "scheduler": snap["scheduler"],
            "files": snap["files"],
            "up": snap["is_up"],
        }
    return out


async def _handle(fleet: SimFleet, request: dict[str, Any]) -> dict[str, Any]:
    cmd = request.pop("cmd")
    if cmd == "fault":
        dev = fleet[request.pop("router")]
        dev.inject(request.pop("fault"), **request)
    elif cmd == "power-cycle":
        dev = fleet[request["router"]]
        task = asyncio.get_running_loop().create_task(_power_cycle(dev, float(request["off"])))
        _tasks.add(task)
        task.add_done_callback(_tasks.discard)
    elif cmd == "calm":
        await asyncio.gather(*_tasks, return_exceptions=True)
        for dev in fleet:
            dev.inject("clear")
            await dev.power_on()
    elif cmd == "state":
        return {"ok": True, "routers": _state(fleet)}
    else:
        return {"ok": False, "error": f"unknown command {cmd!r}"}
    return {"ok": True}


async def main(state: Path, count: int) -> None:
    scale = float(os.environ["TIKGUARD_TIME_SCALE"])
    fleet = SimFleet(count, version="7.16", time_scale=scale, state_dir=state, boot_seconds=20.0)
    await fleet.start()
    await ensure_management_address(fleet)

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while line := await reader.readline():
                try:
                    answer = await _handle(fleet, json.loads(line))
                except Exception as exc:  # the soak reports it; the fleet keeps running
                    answer = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
                writer.write(json.dumps(answer).encode() + b"\n")
                await writer.drain()
        finally:
            writer.close()

    server = await asyncio.start_unix_server(serve, path=str(state / "control"))
    async with server:
        (state / "ready").write_text("ok")
        await asyncio.Event().wait()


asyncio.run(main(Path(sys.argv[1]), int(sys.argv[2])))
