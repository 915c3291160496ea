"""Power loss at every step of a guarded push: the router loses power after its k-th
console command of the push and comes back a little later. Whatever k, the outcome
must agree with what the router really runs:

* ``committed``: the change is running and no revert timer is left;
* ``reverted`` or ``failed``: the running config is the pre-push one;
* ``uncertain``: allowed, never a wrong claim.

Power lost right after the commit removed the timer (before its read-back) is proven
``committed`` from the router once it is back: change running (not the pre-push
config), timer absent, read on a fresh connection after the revert deadline.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tikguard.device import guard as push_device
from tikguard.ops import push as push_ops
from tikguard.ops.push import boot as push_boot

from .pushkit import WINDOW, environment, until

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
        # the short window: whatever the outcome, it must agree with the router
        [op] = await env.push(push_ops.PushRequest([dev.name], script=CHANGE, window=WINDOW))
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


async def test_power_lost_right_after_the_commit_removed_the_timer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The commit's removals land (interval timer, then boot item), then the router goes
    dark before the read-back: on its return the config is the change, the timers are
    gone and the deadline has passed without a revert, which proves ``committed``."""
    async with environment(tmp_path, version="7.12") as env:
        dev = env.fleet[0]
        before = dev.router.config_text()
        real_remove = push_device.remove_scheduler
        cut: list[bool] = []

        async def remove(session: object, names: push_device.Names) -> None:
            await real_remove(session, names)  # type: ignore[arg-type]
            if not cut and isinstance(names, push_boot.BootNames):
                cut.append(True)  # both items removed (interval timer, then boot item)
                await dev.power_loss()  # before the commit reads the removal back

        monkeypatch.setattr(push_device, "remove_scheduler", remove)

        async def restore_power() -> None:
            await until(lambda: not dev.router.is_up, within=60)
            await dev.router.clock.sleep(10.0)
            await dev.power_on()

        power = asyncio.create_task(restore_power())
        [op] = await env.push(push_ops.PushRequest([dev.name], script=CHANGE))
        await power
        await dev.wait_up(within=30)
        reason = str(op.evidence.get("reason"))
        assert cut, "the commit never removed the timer"
        assert op.outcome == "committed", reason
        assert "revert point was never loaded" in reason
        assert op.evidence["rebooted"] is True and op.evidence["timer_present"] is False
        assert op.evidence["read_after_deadline"] is True and op.evidence["converged"] is True
        running = dev.router.config_text()
        assert "10.93.0.1/24" in running and running != before
        sched = await dev.router.execute("/system scheduler print detail", user=dev.username)
        assert "tikguard" not in sched
