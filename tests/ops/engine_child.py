"""A controller process for the engine crash test: one workflow, step, durable sleep, step.

Run as ``python engine_child.py DATA_DIR start|resume``. Each step appends a line to
``DATA_DIR/steps.log`` so the test can see which steps ran in which process.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from dbos import DBOS, SetWorkflowID

from tikguard.ops import runtime
from tikguard.settings import Settings

DATA = Path(sys.argv[1])


def _mark(text: str) -> None:
    with (DATA / "steps.log").open("a") as log:
        log.write(f"{text} {os.getpid()}\n")


@DBOS.step()
async def step(n: int) -> int:
    _mark(f"step{n}")
    return n


@DBOS.workflow()
async def flow(x: int) -> int:
    a = await step(1)
    _mark("sleeping")
    await DBOS.sleep_async(1.5)
    b = await step(2)
    return a + b + x


async def main() -> None:
    settings = Settings(data_dir=DATA, engine_polling_interval=0.05)
    async with runtime.running(settings) as eng:
        if sys.argv[2] == "start":
            with SetWorkflowID("crash-1"):
                await DBOS.start_workflow_async(flow, 10)
            await asyncio.sleep(60)  # the test kills us during the durable sleep
        else:
            async with asyncio.timeout(30):
                await eng.wait_idle()
            handle = await DBOS.retrieve_workflow_async("crash-1")
            print(await handle.get_result())


asyncio.run(main())
