"""The inventory and history commands end to end: simulated routers over real SSH, the
embedded default store in a temporary data directory, and the CLI as a user runs it.

The fleet runs on its own event loop in a background thread, because each command
runs its own ``asyncio.run`` as it does from a shell.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import SIM_TIME_SCALE
from typer.testing import CliRunner

from tikguard.cli import app
from tikguard.sim.fleet import SimFleet


class ThreadedFleet:
    """A SimFleet served from a background thread's event loop."""

    def __init__(self, **kwargs: Any) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.fleet = SimFleet(**kwargs)
        self.call(self.fleet.start())

    def call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=60)

    def close(self) -> None:
        self.call(self.fleet.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[ThreadedFleet]:
    served = ThreadedFleet(count=3, time_scale=SIM_TIME_SCALE, state_dir=tmp_path / "sim")
    yield served
    served.close()


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {
        "TIKGUARD_DATA_DIR": str(tmp_path / "data"),
        "TIKGUARD_TIME_SCALE": str(SIM_TIME_SCALE),
        # network limits in real time (30 s, 60 s) whatever the clock scale: an SSH
        # handshake on a loaded machine takes what it takes
        "TIKGUARD_CONNECT_TIMEOUT": str(30 * SIM_TIME_SCALE),
        "TIKGUARD_COMMAND_TIMEOUT": str(30 * SIM_TIME_SCALE),
        "TIKGUARD_BACKUP_TIMEOUT": str(60 * SIM_TIME_SCALE),
        "COLUMNS": "200",
    }


def run(env: dict[str, str], *args: str, input: str | None = None) -> Any:
    result = CliRunner().invoke(app, list(args), env=env, input=input)
    return result


def test_import_backup_history_show_diff(fleet: ThreadedFleet, env: dict[str, str]) -> None:
    inventory = fleet.fleet.inventory_path
    assert inventory is not None
    out = run(env, "device", "import", str(inventory))
    assert out.exit_code == 0, out.output
    assert "imported 3 device(s)" in out.output

    listed = run(env, "device", "list")
    assert all(d.name in listed.output for d in fleet.fleet)
    assert fleet.fleet.password not in listed.output

    first = run(env, "backup", "--all")
    assert first.exit_code == 0, first.output
    assert "3 changed" in first.output

    dev = fleet.fleet[0]
    fleet.call(dev.router.execute("/system identity set name=core-1", user="admin"))
    second = run(env, "backup", "--tag", "sim")
    assert second.exit_code == 0, second.output
    assert "1 changed" in second.output and "2 unchanged" in second.output

    hist = run(env, "history", dev.name)
    assert hist.exit_code == 0 and "manual" in hist.output
    shown = run(env, "show", dev.name, "2")
    assert "set name=core-1" in shown.output
    diff = run(env, "diff", dev.name, "1", "2")
    assert diff.exit_code == 1, diff.output  # as diff(1): they differ
    assert "+set name=core-1" in diff.output
    live = run(env, "diff", dev.name, "2", "live")
    assert live.exit_code == 0, live.output
    assert "no differences" in live.output

    probed = run(env, "device", "probe", dev.name)
    assert probed.exit_code == 0, probed.output
    assert "core-1" in probed.output and "7.16" in probed.output

    detail = run(env, "device", "show", dev.name)
    assert dev.host_key_fingerprint in detail.output
    assert fleet.fleet.password not in detail.output


def test_changed_host_key_is_refused_then_accepted(
    fleet: ThreadedFleet, env: dict[str, str]
) -> None:
    dev = fleet.fleet[1]
    add = run(
        env, "device", "add", dev.name, dev.host, "--port", str(dev.port), input=dev.password + "\n"
    )
    assert add.exit_code == 0, add.output
    assert dev.password not in add.output
    assert run(env, "backup", dev.name).exit_code == 0
    old = dev.host_key_fingerprint
    dev.change_host_key()

    refused = run(env, "backup", dev.name)
    assert refused.exit_code == 1
    assert "host-key-changed" in refused.output
    assert f"tikguard device accept-hostkey {dev.name}" in refused.output.replace("\n", " ")

    accept = run(env, "device", "accept-hostkey", dev.name, input="y\n")
    assert accept.exit_code == 0, accept.output
    assert old in accept.output and dev.host_key_fingerprint in accept.output
    assert run(env, "backup", dev.name).exit_code == 0


def test_bad_input_says_what_to_do(
    fleet: ThreadedFleet, env: dict[str, str], tmp_path: Path
) -> None:
    assert "give names, --tag TAG, --site SITE or --all" in run(env, "backup").output
    missing = run(env, "history", "nope")
    assert missing.exit_code == 1 and "device list" in missing.output
    bad_csv = tmp_path / "bad.csv"
    bad_csv.write_text("name,address\nr1,10.0.0.1\n")
    out = run(env, "device", "import", str(bad_csv))
    assert out.exit_code == 1 and "missing: host" in out.output
    dev = fleet.fleet[2]
    where = [dev.name, dev.host, "--port", str(dev.port)]
    refused = run(env, "device", "add", *where, input="wrong\n")
    assert refused.exit_code == 1 and "refused the login" in refused.output, refused.output
    assert "--no-probe" in refused.output
    assert "wrong" not in refused.output
    assert dev.name not in run(env, "device", "list").output  # nothing stored
    unreachable = run(env, "device", "add", "gone", "127.0.0.1", "--port", "9", input="x\n")
    assert unreachable.exit_code == 1 and "gone" not in run(env, "device", "list").output
    run(env, "device", "add", *where, "--no-probe", input="wrong\n")  # stored, not contacted
    failed = run(env, "backup", dev.name)
    assert failed.exit_code == 1 and "auth-failed" in failed.output


def test_device_add_probes_and_pins_and_checks_names(
    fleet: ThreadedFleet, env: dict[str, str]
) -> None:
    dev = fleet.fleet[0]
    added = run(
        env, "device", "add", dev.name, dev.host, "--port", str(dev.port), input="simpass\n"
    )
    assert added.exit_code == 0, added.output
    assert "RouterOS 7" in added.output and dev.host_key_fingerprint in added.output
    shown = run(env, "device", "show", dev.name, "--json")
    assert json.loads(shown.output)["host_key_fingerprint"] == dev.host_key_fingerprint

    again = run(env, "device", "add", dev.name, dev.host, "--no-probe", input="simpass\n")
    assert again.exit_code == 1 and f"tikguard device show {dev.name}" in again.output
    bad = run(env, "device", "add", "bad name!", dev.host, input="simpass\n")
    assert bad.exit_code == 1, bad.output
    assert "has a space at position 4" in bad.output  # named before any password prompt
    assert "Password" not in bad.output


def test_stale_host_key_warning_clears_when_the_pinned_key_is_back(
    fleet: ThreadedFleet, env: dict[str, str]
) -> None:
    dev = fleet.fleet[1]
    run(env, "device", "add", dev.name, dev.host, "--port", str(dev.port), input="simpass\n")
    pinned = dev.server.hostkeys.key()
    dev.change_host_key()
    assert run(env, "backup", dev.name).exit_code == 1
    assert pending(env) == [True]
    dev.change_host_key(pinned)  # the impostor is gone: the router is back on its pin
    assert run(env, "backup", dev.name).exit_code == 0
    assert pending(env) == [False]
    shown = json.loads(run(env, "device", "show", dev.name, "--json").output)
    assert shown["pending_host_key_fingerprint"] is None


def pending(env: dict[str, str]) -> list[bool]:
    """Which devices `device list` flags with a changed host key."""
    rows = json.loads(run(env, "device", "list", "--json").output)
    return [row["host_key_pending"] for row in rows]


def test_import_asks_for_missing_passwords_without_echo(
    fleet: ThreadedFleet, env: dict[str, str], tmp_path: Path
) -> None:
    rows = ["name,host,port,tags"]
    rows += [f"{d.name},{d.host},{d.port},edge" for d in fleet.fleet]
    csv_path = tmp_path / "no-passwords.csv"
    csv_path.write_text("\n".join(rows) + "\n")
    out = run(env, "device", "import", str(csv_path), "--same-password", input="simpass\n")
    assert out.exit_code == 0, out.output
    assert "simpass" not in out.output
    backed = run(env, "backup", "--tag", "edge")
    assert backed.exit_code == 0 and "3 changed" in backed.output, backed.output
