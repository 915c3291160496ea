"""The store shared by a busy server and many CLI processes, then a restart.

``tikguard serve`` runs scheduled backups every two seconds and guarded pushes from
the API against simulated routers (in their own process) while dozens of CLI runs
read and write the same data directory: users, tokens, devices, backups, pushes
handed to the server, listings. Afterwards, and again after a restart: every row
either side reported writing is there, no database error was logged anywhere, and
neither database's WAL was removed or replaced while the server had it open.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import csv
import re
import signal
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from tests.ops.controller_proc import Controller, FileWatch, simulator

from tikguard.settings import Settings
from tikguard.store.db import Database
from tikguard.store.models import ApiToken, ConfigVersion, Device, Operation, User

pytestmark = [pytest.mark.timeout(1200), pytest.mark.slow]

SCALE = 50.0
ROUTERS = 3
API_PUSHES = 6
ROUNDS = 5  # each round: 5 or 6 CLI runs, two rounds at a time


def _push_script(tag: str, n: int) -> str:
    return f"/ip address add address=10.77.{n}.1/24 interface=ether2 comment={tag}-{n}\n"


def _cli_round(ctl: Controller, r: int, change: Path) -> dict[str, Any]:
    """One round of CLI writes and reads; what it reports having written."""
    wrote: dict[str, Any] = {"users": [], "tokens": [], "devices": [], "removed": [], "pushes": 0}
    out = ctl.cli("user", "add", f"u{r}", "--role", "viewer", "--password", f"pw-{r}-long-enough")
    assert out.returncode == 0, out.stderr
    wrote["users"].append(f"u{r}")
    out = ctl.cli("token", "create", f"cli{r}", "--role", "operator")
    assert out.returncode == 0, out.stderr
    wrote["tokens"].append(f"cli{r}")
    out = ctl.cli(
        "device", "add", f"x{r}", f"192.0.2.{r + 1}", "--no-probe", "--password-stdin", stdin="pw\n"
    )
    assert out.returncode == 0, out.stderr
    if r % 2:
        out = ctl.cli("device", "remove", f"x{r}", "--yes")
        assert out.returncode == 0, out.stderr
        wrote["removed"].append(f"x{r}")
    else:
        wrote["devices"].append(f"x{r}")
    router = f"r{(r % ROUTERS) + 1:03d}"
    if r % 2 == 0:
        out = ctl.cli("push", router, "--file", str(change), "--yes")
        assert out.returncode == 0, out.stdout + out.stderr
        assert "committed" in out.stdout
        wrote["pushes"] += 1
    else:
        out = ctl.cli("backup", router)
        assert out.returncode == 0, out.stderr
    out = ctl.cli(*(("ops", "list") if r % 2 else ("device", "list")))
    assert out.returncode == 0, out.stderr
    return wrote


def _api_pushes(ctl: Controller, token: str, device_ids: list[int]) -> list[str]:
    ops: list[str] = []
    for n in range(API_PUSHES):
        body = {"devices": [device_ids[n % len(device_ids)]], "script": _push_script("api", n)}
        r = ctl.api("POST", "/push", token, json=body)
        assert r.status_code == 202, r.text
        ops += r.json()["operations"]
        time.sleep(0.5)
    return ops


def _wait_ended(
    ctl: Controller, token: str, op_ids: list[str], timeout: float = 90
) -> dict[str, str]:
    deadline = time.monotonic() + timeout
    while True:
        outcomes = {}
        for op_id in op_ids:
            r = ctl.api("GET", f"/operations/{op_id}", token)
            assert r.status_code == 200, r.text
            outcomes[op_id] = r.json()["outcome"]
        if all(outcomes.values()) or time.monotonic() > deadline:
            return outcomes
        time.sleep(0.5)


def _snapshot(data: Path) -> dict[str, set[Any]]:
    db = Database.open(Settings(data_dir=data), migrate=False)
    try:
        with db.session() as s:
            return {
                "users": set(s.scalars(select(User.username))),
                "tokens": set(s.scalars(select(ApiToken.name))),
                "devices": set(s.scalars(select(Device.name))),
                "operations": {(o.id, o.kind, o.outcome) for o in s.scalars(select(Operation))},
                "versions": set(s.scalars(select(ConfigVersion.id))),
            }
    finally:
        db.dispose()


def _scheduled_backups(data: Path) -> int:
    """Scheduled fleet backups the server finished (from the engine's own records)."""
    with contextlib.closing(sqlite3.connect(data / "dbos.sqlite")) as conn:
        row = conn.execute(
            "SELECT count(*) FROM workflow_status WHERE name = ? AND status = 'SUCCESS'",
            ("tikguard.backup.scheduled",),
        ).fetchone()
    return int(row[0])


def test_a_busy_server_and_many_cli_runs_share_the_store(tmp_path: Path) -> None:
    data = tmp_path / "data"
    ctl = Controller(data, SCALE)
    change = tmp_path / "change.rsc"
    change.write_text(_push_script("cli", 200))
    with simulator(tmp_path / "sim", ROUTERS, SCALE) as (_, inventory), contextlib.closing(ctl):
        assert ctl.cli("device", "import", str(inventory)).returncode == 0
        backed = ctl.cli("backup", "--all")
        assert backed.returncode == 0, backed.stderr
        ctl.start()
        wals = [data / "tikguard.sqlite-wal", data / "dbos.sqlite-wal"]
        with FileWatch(wals) as watch:
            watch.arm()
            token = ctl.token("load")
            assert ctl.api("GET", "/devices", token).status_code == 200  # a CLI token works
            out = ctl.cli("schedule", "set", "*/2 * * * * *")
            assert out.returncode == 0, out.stderr
            names = [row["name"] for row in csv.DictReader(inventory.open())]
            devices = {d["name"]: d["id"] for d in ctl.api("GET", "/devices", token).json()}
            ids = [devices[n] for n in names]

            with concurrent.futures.ThreadPoolExecutor(3) as pool:
                api = pool.submit(_api_pushes, ctl, token, ids)
                rounds = list(pool.map(lambda r: _cli_round(ctl, r, change), range(ROUNDS)))
                api_ops = api.result()
            # what the embedded default cannot make safe beside a server is refused
            refused = ctl.cli("keys", "rotate")
            assert refused.returncode == 1
            assert "server is running" in refused.stdout + refused.stderr
            outcomes = _wait_ended(ctl, token, api_ops)
            assert set(outcomes.values()) == {"committed"}, outcomes
            during = _snapshot(data)
            watch.disarm()
            assert ctl.stop() in (0, -signal.SIGTERM)  # a clean stop either way
            ctl.start()  # the restart: everything is read back by the new server
            watch.arm()
            after_api = ctl.api("GET", "/operations?limit=500", token)
            assert after_api.status_code == 200, after_api.text
            out = ctl.cli("ops", "list")
            assert out.returncode == 0, out.stderr
            watch.disarm()
            assert ctl.stop() in (0, -signal.SIGTERM)  # a clean stop either way
        assert watch.samples > 100

    after = _snapshot(data)
    wrote_users = {u for r in rounds for u in r["users"]}
    wrote_tokens = {t for r in rounds for t in r["tokens"]} | {"load"}
    wrote_devices = {d for r in rounds for d in r["devices"]} | set(names)
    removed = {d for r in rounds for d in r["removed"]}
    assert wrote_users <= after["users"]
    assert wrote_tokens <= after["tokens"]
    assert wrote_devices <= after["devices"] and not removed & after["devices"]
    assert during["operations"] <= after["operations"]  # nothing the server wrote is lost
    assert during["versions"] <= after["versions"]
    listed = {o["id"] for o in after_api.json()}
    assert set(api_ops) <= listed
    committed = [o for o in after["operations"] if o[1] != "backup" and o[2] == "committed"]
    assert len(committed) >= API_PUSHES + sum(r["pushes"] for r in rounds)
    assert _scheduled_backups(data) >= 3
    assert watch.violations == []
    assert ctl.store_errors() == []
    assert re.search(r"serving on", ctl.logs[-1].read_text())
