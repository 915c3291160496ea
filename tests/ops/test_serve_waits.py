"""``tikguard serve`` started while a CLI command is the worker waits for it, never fails.

On the embedded default a ``tikguard push`` run while no server is up becomes the
worker itself. A server started (or restarted after a crash) at that moment must not
exit with "worker 'local' is already running": it says what it waits for, starts as
soon as the command's pushes end, and nothing the command did is lost. Real processes:
the simulator, the CLI push, ``tikguard confirm`` and the server.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import select
from tests.ops.controller_proc import Controller, simulator
from tests.ops.soak import _database

from tikguard.store.models import Operation

SCALE = 20.0


def _wait_for(what: str, check: Callable[[], bool], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_server_waits_for_a_cli_worker_then_starts(tmp_path: Path) -> None:
    ctl = Controller(
        tmp_path / "data",
        SCALE,
        # the window is long in real time: the CLI holds the worker until confirmed
        extra_env={"TIKGUARD_PUSH_WINDOW": str(300 * SCALE)},
    )
    with simulator(tmp_path / "sim", 1, SCALE) as (_proc, inventory):
        try:
            out = ctl.cli("device", "import", str(inventory))
            assert out.returncode == 0, out.stderr
            out = ctl.cli("backup", "--all")  # pins the host key
            assert out.returncode == 0, out.stderr
            script = tmp_path / "change.rsc"
            script.write_text('/system identity set name="after-wait"\n')
            # no server yet: this command would run the push itself, so it cannot detach
            alone = ctl.cli("push", "r001", "--file", str(script), "--yes", "--detach")
            assert alone.returncode == 1 and "--detach needs a running" in alone.stderr
            argv = ["push", "r001", "--file", str(script), "--confirm", "manual", "--yes"]
            push = subprocess.Popen(
                [sys.executable, "-m", "tikguard.cli", *argv],
                env=ctl.env(),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            lock = ctl.data / "engine-local.lock"
            _wait_for(
                "the CLI push to become the worker",
                lambda: lock.exists() and lock.read_text().strip() == str(push.pid),
            )

            def unfinished() -> list[Operation]:
                with _database(ctl.data) as db, db.session() as s:
                    return list(s.scalars(select(Operation).where(Operation.outcome.is_(None))))

            def recorded() -> bool:
                assert push.poll() is None, push.communicate()
                return bool(unfinished())

            _wait_for("the push to be recorded", recorded)
            op_id = unfinished()[0].id

            log = tmp_path / "serve.log"
            with log.open("wb") as sink:
                server = subprocess.Popen(
                    [sys.executable, "-m", "tikguard.cli", "serve", "--port", str(ctl.port)],
                    env=ctl.env(),
                    stdout=sink,
                    stderr=subprocess.STDOUT,
                )
            ctl.proc = server  # stopped with the controller whatever happens

            def waiting() -> bool:
                assert server.poll() is None, log.read_text()
                return f"(pid {push.pid}) is running pushes" in log.read_text()

            _wait_for("the server to say what it waits for", waiting)
            assert server.poll() is None, log.read_text()

            out = ctl.cli("confirm", op_id)
            assert out.returncode == 0, out.stderr
            stdout, stderr = push.communicate(timeout=180)
            assert push.returncode == 0, stdout + stderr
            # the wait said which operation, until when, and the exact command
            assert f"operation {op_id} waits for your confirm until" in stderr, stderr
            assert f"tikguard confirm {op_id}" in stderr
            assert "│ r001" in stdout and "committed" in stdout  # summary: a device column

            _wait_for("the server to answer", lambda: _answers(ctl), timeout=180)
            assert server.poll() is None, log.read_text()
            with _database(ctl.data) as db, db.session() as s:
                op = s.get(Operation, op_id)
                assert op is not None and op.outcome == "committed"

            # with a server up, --detach returns once armed and says how to go on
            script.write_text('/system identity set name="detached"\n')
            argv = ["push", "r001", "--file", str(script), "--confirm", "manual", "--detach"]
            out = ctl.cli(*argv, "--yes")
            assert out.returncode == 0, out.stdout + out.stderr
            found = re.search(r"tikguard confirm (\S+)", out.stdout)
            assert found, out.stdout
            detached = found.group(1)
            assert "the router reverts by itself at" in out.stdout
            assert f"tikguard ops show {detached} --follow" in out.stdout
            out = ctl.cli("confirm", detached)
            assert out.returncode == 0, out.stderr

            def committed() -> bool:
                with _database(ctl.data) as db, db.session() as s:
                    op = s.get(Operation, detached)
                    assert op is not None and op.outcome in (None, "committed"), op.evidence
                    return op.outcome == "committed"

            _wait_for("the detached push to commit", committed)
        finally:
            ctl.close()


def _answers(ctl: Controller) -> bool:
    import httpx

    try:
        return httpx.get(ctl.url + "/api/v1/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def test_a_second_server_on_one_data_directory_fails_at_once(tmp_path: Path) -> None:
    first = Controller(tmp_path / "data", SCALE)
    second = Controller(tmp_path / "data", SCALE)
    try:
        first.start()
        out = second.cli("serve", "--port", str(second.port), timeout=120)
        assert out.returncode == 1
        assert f"a tikguard server (pid {first.proc.pid}) already runs on" in out.stderr
        assert "one server per data directory" in out.stderr
        assert first.running
    finally:
        first.close()
