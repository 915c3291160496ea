"""The engine: fast launch/shutdown per test, one worker per executor, crash resume."""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from dbos import DBOS

from tikguard.ops import runtime
from tikguard.settings import Settings

CHILD = Path(__file__).with_name("engine_child.py")


def _settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path, engine_polling_interval=0.05)


async def test_launch_shutdown_twice_in_one_process(tmp_path: Path) -> None:
    for sub in ("a", "b"):
        settings = _settings(tmp_path / sub)
        async with runtime.running(settings) as eng:
            assert runtime.current() is eng
            queue = await DBOS.retrieve_queue_async(runtime.PUSH_QUEUE)
            assert queue is not None
            assert (settings.data_dir / "dbos.sqlite").exists()
        with pytest.raises(RuntimeError):
            runtime.current()


async def test_application_version_is_explicit(tmp_path: Path) -> None:
    async with runtime.running(_settings(tmp_path)):
        assert DBOS.application_version == runtime.application_version()
    assert runtime.application_version().startswith("0.")


async def test_second_worker_for_same_executor_is_refused(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    # flock conflicts between open file descriptions, so this stands in for another process
    with (tmp_path / "engine-local.lock").open("a+") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        with pytest.raises(runtime.EngineBusy):
            await runtime.launch(settings)
    async with runtime.running(settings):
        pass


def test_sigkill_mid_sleep_resumes_without_rerunning_steps(tmp_path: Path) -> None:
    path = [str(CHILD.parent), os.environ.get("PYTHONPATH", "")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in path if p)}
    child = subprocess.Popen([sys.executable, str(CHILD), str(tmp_path), "start"], env=env)
    log = tmp_path / "steps.log"
    deadline = time.monotonic() + 30
    while not (log.exists() and "sleeping" in log.read_text()):
        assert time.monotonic() < deadline, "the workflow never reached its sleep"
        assert child.poll() is None
        time.sleep(0.02)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    out = subprocess.run(
        [sys.executable, str(CHILD), str(tmp_path), "resume"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert out.stdout.strip().splitlines()[-1] == "13"
    lines = [line.split() for line in log.read_text().splitlines()]
    names = [name for name, _ in lines]
    assert names.count("step1") == 1  # the finished step is not run again
    assert names.count("step2") == 1
    assert lines[0][1] != lines[-1][1]  # step 2 ran in the second process
