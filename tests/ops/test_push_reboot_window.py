"""A router that reboots inside the revert window reverts at boot (like Junos
``commit confirmed``), whatever its clock does.

Power is cut at each stage inside the window: right after arming, after the change
was imported, during verification, just before the commit removes the timers, and
between the two removals. The board has no battery-backed clock (``rtc=False``: its
clock restarts at boot), with and without NTP to set it right. Every path must end
with the router at the pre-push config (or at the target only when committed), no
tikguard timer and no tikguard file left, and the clock source in the evidence.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from tikguard.device import guard as push_device
from tikguard.ops import push as push_ops
from tikguard.ops.push import boot as push_boot
from tikguard.ops.push import verify as push_verify
from tikguard.sim.fleet import SimDevice

from .pushkit import environment

pytestmark = [pytest.mark.timeout(180), pytest.mark.slow]

CHANGE = "/ip address add address=10.94.0.1/24 interface=ether2 comment=boot-window\n"
#: Long enough to reach the commit on a loaded machine (9 s of a test before the
#: margin), short enough that a test waits the window out in 12 s.
WINDOW = 600.0
OFF_SECONDS = 30.0

#: stage -> (module, function, cut the power before or after the real call)
STAGES: dict[str, tuple[Any, str, str]] = {
    "after-arm": (push_boot, "arm_boot", "after"),
    "after-import": (push_device, "run_import", "after"),
    "during-verify": (push_verify, "_checks", "before"),
    "before-commit-removal": (push_device, "remove_scheduler", "before"),
    "between-the-removals": (push_device, "remove_scheduler", "after"),
}


def power_cut_at(
    monkeypatch: pytest.MonkeyPatch, dev: SimDevice, stage: str, tasks: list[asyncio.Task[None]]
) -> None:
    module, name, when = STAGES[stage]
    real: Callable[..., Awaitable[Any]] = getattr(module, name)

    async def cut() -> None:
        if tasks:
            return  # once per test
        await dev.power_loss()

        async def restore() -> None:
            await dev.router.clock.sleep(OFF_SECONDS)
            await dev.power_on()

        tasks.append(asyncio.create_task(restore()))

    async def patched(*args: Any, **kwargs: Any) -> Any:
        if when == "before":
            await cut()
        result = await real(*args, **kwargs)
        if when == "after":
            await cut()
        return result

    monkeypatch.setattr(module, name, patched)


async def tikguard_leftovers(dev: SimDevice) -> tuple[str, list[str]]:
    sched = await dev.router.execute("/system scheduler print detail", user=dev.username)
    files = [f.name for f in dev.router.files.list() if "tikguard" in f.name]
    return sched, files


@pytest.mark.parametrize("ntp", [False, True], ids=["no-ntp", "ntp"])
@pytest.mark.parametrize("stage", list(STAGES))
async def test_power_loss_inside_the_window_reverts_at_boot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stage: str, ntp: bool
) -> None:
    async with environment(tmp_path, router_settings={"rtc": False}) as env:
        dev = env.fleet[0]
        if ntp:
            await dev.router.execute("/system ntp client set enabled=yes", user=dev.username)
        before = dev.router.config_text()
        tasks: list[asyncio.Task[None]] = []
        power_cut_at(monkeypatch, dev, stage, tasks)
        [op] = await env.push(push_ops.PushRequest([dev.name], script=CHANGE, window=WINDOW))
        assert tasks, f"the power was never cut at {stage}"
        await tasks[0]
        await dev.wait_up(within=30)
        reason = str(op.evidence.get("reason"))
        print(f"{stage} ntp={ntp}: {op.outcome}: {reason}")
        running = dev.router.config_text()
        sched, files = await tikguard_leftovers(dev)
        assert "tikguard" not in sched, (stage, reason, sched)
        assert not files, (stage, files)
        source = op.evidence["preflight"]["clock_source"]["source"]
        assert source == ("ntp" if ntp else "manual")
        if stage == "after-arm":  # nothing applied
            assert op.outcome in ("failed", "reverted"), reason
        else:
            assert op.outcome == "reverted", reason
        assert running == before, reason


async def test_the_boot_item_is_armed_beside_the_timer_and_removed_with_it(
    tmp_path: Path,
) -> None:
    """While the push is armed the router holds both items (interval timer, boot item
    with start-time=startup and no interval); a commit removes both and the revert
    point and script with them."""
    seen: dict[str, str] = {}
    async with environment(tmp_path, router_settings={"rtc": False}) as env:
        dev = env.fleet[0]
        real = push_verify._checks

        async def look(*args: Any, **kwargs: Any) -> Any:
            seen["sched"] = await dev.router.execute(
                "/system scheduler print detail", user=dev.username
            )
            seen["files"] = " ".join(f.name for f in dev.router.files.list())
            return await real(*args, **kwargs)

        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(push_verify, "_checks", look)
            [op] = await env.push(push_ops.PushRequest([dev.name], script=CHANGE))
        assert op.outcome == "committed", op.evidence.get("reason")
        assert f"tikguard-{op.id[:24]}-revert" in seen["sched"]
        assert f"tikguard-{op.id[:24]}-boot" in seen["sched"]
        assert "start-time=startup" in seen["sched"]
        assert f"tikguard-{op.id[:24]}.backup" in seen["files"]
        sched, files = await tikguard_leftovers(dev)
        assert "tikguard" not in sched and not files
        # a reboot after the commit keeps the change
        await dev.power_cycle(5.0)
        assert "10.94.0.1/24" in dev.router.config_text()
