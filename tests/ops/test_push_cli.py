"""The command line end to end: ``tikguard demo`` on the embedded default, then
``ops list`` and ``ops show`` reading what it recorded. Real subprocesses, real SSH."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.timeout(300), pytest.mark.slow]


def _tikguard(data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TIKGUARD_DATA_DIR": str(data), "COLUMNS": "200"}
    env.pop("TIKGUARD_TIME_SCALE", None)
    return subprocess.run(
        [sys.executable, "-m", "tikguard.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )


def test_demo_then_ops_list_and_show(tmp_path: Path) -> None:
    demo = _tikguard(tmp_path, "demo", "--time-scale", "50")
    assert demo.returncode == 0, demo.stdout[-3000:] + demo.stderr[-3000:]
    assert demo.stdout.count("committed") >= 4
    assert "reverted" in demo.stdout
    assert "rebooted yes" in demo.stdout  # the reverted router's evidence

    run_dir = next(tmp_path.glob("demo-*"))
    listed = _tikguard(run_dir, "ops", "list")
    assert listed.returncode == 0, listed.stderr
    assert "reverted" in listed.stdout and "restore" in listed.stdout
    op = re.search(r"^│ ([0-9a-f]{12}) .*reverted", listed.stdout, re.MULTILINE)
    assert op, listed.stdout

    shown = _tikguard(run_dir, "ops", "show", op.group(1))
    assert shown.returncode == 0, shown.stderr
    for stage in ("preflight", "revert-point", "armed", "apply", "prove", "outcome"):
        assert stage in shown.stderr  # events stream on stderr, tables on stdout
    assert "rebooted" in shown.stdout and "true" in shown.stdout  # evidence as JSON


def _sim(tmp_path: Path) -> tuple[subprocess.Popen[bytes], Path]:
    state = tmp_path / "sim"
    proc = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("sim_process.py")), str(state), "1"],
        env={
            **os.environ,
            "TIKGUARD_TIME_SCALE": "50",
            "PYTHONPATH": os.pathsep.join(
                [str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")]
            ).rstrip(os.pathsep),
        },
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    ready = state / "ready"
    for _ in range(600):
        if ready.exists():
            return proc, state / "inventory.csv"
        assert proc.poll() is None, "the simulator exited"
        subprocess.run(["sleep", "0.05"], check=True)
    raise AssertionError("the simulator did not start")


def _cli(data: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tikguard.cli", *args],
        env=_cli_env(data),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _cli_env(data: Path) -> dict[str, str]:
    return {
        **os.environ,
        "TIKGUARD_DATA_DIR": str(data),
        "TIKGUARD_TIME_SCALE": "50",
        # network limits 30 s in real time at the scale of 50, on a loaded machine too
        "TIKGUARD_CONNECT_TIMEOUT": "1500",
        "TIKGUARD_COMMAND_TIMEOUT": "1500",
        "TIKGUARD_BACKUP_TIMEOUT": "1500",
        "TIKGUARD_ENGINE_POLLING_INTERVAL": "0.05",
        "TIKGUARD_PUSH_BOOT_WAIT": "500",
        # room (30 s) to verify and commit; the cut below gives its own short window
        "TIKGUARD_PUSH_WINDOW": "1500",
        "COLUMNS": "200",
    }


def test_push_dry_run_commit_and_revert_from_the_cli(tmp_path: Path) -> None:
    proc, inventory = _sim(tmp_path)
    data = tmp_path / "data"
    try:
        assert _cli(data, "device", "import", str(inventory)).returncode == 0
        backed = _cli(data, "backup", "--all")
        assert backed.returncode == 0, backed.stderr
        change = tmp_path / "change.rsc"
        change.write_text("/ip address add address=10.95.0.1/24 interface=ether2 comment=cli\n")

        dry = _cli(data, "push", "r001", "--file", str(change), "--dry-run")
        assert dry.returncode == 0, dry.stderr
        assert "dry run" in dry.stdout and "10.95.0.1/24" in dry.stdout
        assert "risk" in dry.stdout  # an address change is a management-access risk
        assert "scheduler allowed" in dry.stdout  # the preflight, one fact a row

        args = ("push", "r001", "--file", str(change), "--yes", "--idempotency-key", "chg-1")
        done = _cli(data, *args, "--check", "/system identity print => name: r001")
        assert done.returncode == 0, done.stdout + done.stderr
        assert "committed" in done.stdout
        for stage in ("armed", "verify", "commit"):
            assert stage in done.stderr

        again = _cli(data, *args, "--check", "/system identity print => name: r001")
        assert "not run again" in again.stderr  # the same request is one push

        cut = tmp_path / "cut.rsc"
        cut.write_text("/ip service set ssh disabled=yes\n")
        bad = _cli(data, "push", "r001", "--file", str(cut), "--yes", "--window", "240")
        assert bad.returncode == 2, bad.stdout + bad.stderr
        assert "reverted" in bad.stdout

        # no dead ends, and clear refusals where there is nothing to do
        listed = _cli(data, "ops", "list").stdout
        op = re.search(r"^│ ([0-9a-f]{12}) .*reverted", listed, re.MULTILINE)
        assert op, listed
        for args in (("ops", "recheck", op.group(1)), ("revert", op.group(1))):
            refused = _cli(data, *args)
            assert refused.returncode != 0
            assert "ended reverted" in refused.stdout + refused.stderr
        gone = _cli(data, "disarm", "r001", "tikguard-nothing-revert", "--yes")
        assert gone.returncode != 0
        assert "no scheduler item" in gone.stdout + gone.stderr

        _ctrl_c_then_confirm_and_resume(data, tmp_path)
    finally:
        proc.terminate()
        proc.wait(10)


def _ctrl_c_then_confirm_and_resume(data: Path, tmp_path: Path) -> None:
    """Ctrl-C on a manual-confirm push that this command runs: it says how to go on and
    stops; a confirm then `ops resume` commit the push as if nothing had happened."""
    change = tmp_path / "dns.rsc"
    change.write_text("/ip dns set servers=9.9.9.9\n")
    # a window of 180 s in real time: room for the commands below on a loaded machine
    argv = ["push", "r001", "--file", str(change), "--confirm", "manual", "--yes"]
    push = subprocess.Popen(
        [sys.executable, "-m", "tikguard.cli", *argv, "--window", "9000"],
        env=_cli_env(data),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert push.stderr is not None
    for line in push.stderr:  # the events, until the confirm command is printed
        if "tikguard confirm" in line:
            break
    push.send_signal(signal.SIGINT)
    stdout, _ = push.communicate(timeout=120)
    assert push.returncode == 130, stdout
    op = re.search(r"tikguard confirm (\S+)", stdout)
    assert op, stdout
    assert "the router reverts by itself at" in stdout
    assert "tikguard ops resume" in stdout

    assert _cli(data, "confirm", op.group(1)).returncode == 0
    resumed = _cli(data, "ops", "resume")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "committed" in resumed.stdout
