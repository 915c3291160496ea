"""Points of the guarded push where a test's controller or worker SIGKILLs itself,
exactly as a power cut of the controller would stop it (the crash matrix, the cluster
takeover tests). ``install_crash(point)`` wraps one function of the protocol; the
process dies the first time a push reaches it, after writing the time of death to
``died`` when given.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path
from typing import Any

from dbos import DBOS

from tikguard.device import guard as dev
from tikguard.ops.push import steps as wf
from tikguard.ops.push import verify

_died: Path | None = None


def die() -> None:
    if _died is not None:
        _died.write_text(repr(time.time()))
    os.kill(os.getpid(), signal.SIGKILL)


def install_crash(point: str, died: Path | None = None) -> None:
    """Wrap one function of the protocol so the process dies at ``point``."""
    global _died
    _died = died
    if point == "after-pre-push-backup":
        real_save = dev.save_revert_point

        async def save(*a: Any, **k: Any) -> int:
            die()
            return await real_save(*a, **k)

        dev.save_revert_point = save  # type: ignore[assignment]
    elif point == "after-arming":
        real_claim_apply = wf._claim_apply

        def claim_apply(*a: Any, **k: Any) -> bool:
            die()
            return real_claim_apply(*a, **k)

        wf._claim_apply = claim_apply  # type: ignore[assignment]
    elif point == "during-import":
        real_import = dev.run_import

        async def run_import(*a: Any, **k: Any) -> dev.ImportResult:
            asyncio.get_running_loop().create_task(real_import(*a, **k))
            await asyncio.sleep(0.1)  # the import is inside its 20 s (device) pause now
            die()
            raise AssertionError("unreachable")

        dev.run_import = run_import  # type: ignore[assignment]
    elif point == "during-settle":
        real_sleep = DBOS.sleep_async

        async def sleep(seconds: float) -> None:
            asyncio.get_running_loop().create_task(real_sleep(seconds))
            await asyncio.sleep(0.05)  # the durable sleep has recorded its wake-up time
            die()

        DBOS.sleep_async = sleep  # type: ignore[method-assign]
    elif point == "before-commit":
        real_claim = verify.claim

        def claim(session: Any, spec: Any, key: str) -> bool:
            if key == "commit_started_at":
                die()
            return real_claim(session, spec, key)

        verify.claim = claim  # type: ignore[assignment]
    elif point == "during-verify":
        real_checks = verify._checks

        async def checks(*a: Any, **k: Any) -> Any:
            die()
            return await real_checks(*a, **k)

        verify._checks = checks  # type: ignore[assignment]
    elif point == "during-commit":
        real_remove = dev.remove_scheduler

        async def remove(*a: Any, **k: Any) -> None:
            await real_remove(*a, **k)
            die()  # removed on the router, not yet read back or recorded

        dev.remove_scheduler = remove  # type: ignore[assignment]
    elif point != "none":
        raise SystemExit(f"unknown crash point {point}")
