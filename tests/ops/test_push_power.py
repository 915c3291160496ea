"""Power loss at every step of a guarded push: the router loses power after its k-th
console command of the push and comes back a little later. Whatever k, the outcome
must agree with what the router really runs:

* ``committed``: the change is running and no revert timer is left;
* ``reverted`` or ``failed``: the running config is the pre-push one;
* ``uncertain``: allowed, never a wrong claim.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tikguard.ops import push as push_ops

from .pushkit import environment, until

pytestmark = [pytest.mark.timeout(120), pytest.mark.slow]

CHANGE = "/ip address add address=10.93.0.1/24 interface=ether2 comment=power\n"


@pytest.mark.parametrize("after", [3, 6, 9, 12, 15, 18, 21, 24, 28])
async def test_power_loss_after_each_command(tmp_path: Path, after: int) -> None:
    async with environment(tmp_path, version="7.12") as env:
        dev = env.fleet[0]
        before = dev.router.config_text()
        dev.inject("power-loss-after-commands", count=after)

        async def restore_power() -> None:
            await until(lambda: not dev.router.is_up, within=60)
            await dev.router.clock.sleep(10.0)  # off for 10 device seconds
            await dev.power_on()

        power = asyncio.create_task(restore_power())
        [op] = await env.push(push_ops.PushRequest([dev.name], script=CHANGE))
        if not power.done():
            power.cancel()  # the push finished before the k-th command
        await dev.wait_up(within=30)
        running = dev.router.config_text()
        sched = await dev.router.execute("/system scheduler print detail", user=dev.username)
        reason = op.evidence.get("reason")
        print(f"power loss after command {after}: {op.outcome}: {reason}")
        if op.outcome == "committed":
            assert "10.93.0.1/24" in running, reason
            assert "tikguard" not in sched, reason
        elif op.outcome in ("reverted", "failed"):
            assert running == before, reason
        else:
            assert op.outcome == "uncertain" and op.evidence["outcome_unknowns"], reason
