"""Fleet rollout benchmark: N routers in waves 1, 10%, 100%, against the ideal and a floor.

The simulated routers run in their own process (``tikguard sim run``, clock scaled by
``--time-scale`` on both sides); this process is the controller (engine, store, DBOS on
SQLite, the embedded default). In one run:

* baseline: one guarded push to one router alone, start to outcome (its SSH connections,
  commands and file transfers are recorded);
* floor: a bare asyncssh client replaying exactly that recording (same connections,
  commands, SFTP upload and downloads, tikguard's cipher order) against spare routers:
  the controller CPU a push cannot go below (the CPU time of the thread that runs it,
  so the idle engine's threads do not count);
* rollout: canary 1, then 10%, then the rest, admission-controlled.

Reported: every push's outcome (all must be ``committed``: no deadline missed), wall
time against the ideal (one push per wave at the measured per-push time), controller
CPU per push (process time, all threads) against the floor's, and the final in-flight
limit admission control reached.

Usage: ``python bench/bench_rollout.py [--routers 1000] [--time-scale 20]``

``--before REV`` runs the same benchmark with another git revision's ``src/`` first, then
with this checkout's, in one run, and ends with a table of both (CPU per push, floor,
their ratio, wall time).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import asyncssh

from bench_push import SCRIPT, _export_src
from simfleet import start_simulator
from tikguard.device import session as device_session
from tikguard.ops import devices as devices_ops
from tikguard.ops import push as push_ops
from tikguard.ops import runtime
from tikguard.ops.backup import backup
from tikguard.ops.rollout import records
from tikguard.ops.rollout import service as rollouts
from tikguard.ops.rollout.targets import Selector
from tikguard.settings import Settings
from tikguard.store.db import Database
from tikguard.store.models import Operation

#: Revert window (device seconds): 30 s of real time at x20, room for a push that takes
#: 9 s alone on a shared 2-core machine at load 25.
WINDOW = 600.0
FLOOR_RUNS = 5
ENDED = ("completed", "halted", "aborted")


def record_sessions(name: str) -> list[tuple[Any, ...]]:
    """Record what every DeviceSession of router ``name`` does, in order."""
    log: list[tuple[Any, ...]] = []
    cls = device_session.DeviceSession
    init, run, upload, download = cls.__init__, cls.run, cls.upload, cls.download

    def init_(self: Any, target: Any, *a: Any, **k: Any) -> None:
        init(self, target, *a, **k)
        if target.name == name:
            log.append(("connect", id(self)))

    async def run_(self: Any, command: str, **k: Any) -> str:
        if self.name == name:
            log.append(("run", id(self), command))
        return await run(self, command, **k)

    async def upload_(self: Any, path: str, data: bytes, **k: Any) -> None:
        if self.name == name:
            log.append(("upload", id(self), path, data))
        await upload(self, path, data, **k)

    async def download_(self: Any, path: str, **k: Any) -> bytes:
        if self.name == name:
            log.append(("download", id(self), path))
        return await download(self, path, **k)

    cls.__init__ = init_  # type: ignore[method-assign]
    cls.run = run_  # type: ignore[method-assign]
    cls.upload = upload_  # type: ignore[method-assign]
    cls.download = download_  # type: ignore[method-assign]
    return log


async def replay(log: list[tuple[Any, ...]], row: dict[str, str]) -> None:
    """The recorded connections, commands and transfers over bare asyncssh."""
    conns: dict[int, asyncssh.SSHClientConnection] = {}
    sftps: dict[int, asyncssh.SFTPClient] = {}
    try:
        for entry in log:
            kind, key = entry[0], entry[1]
            if kind == "connect":
                conns[key] = await asyncssh.connect(
                    row["host"],
                    port=int(row["port"]),
                    username=row["username"] + "+" + device_session.DEFAULT_LOGIN_OPTIONS,
                    password=row["password"],
                    known_hosts=None,
                    encryption_algs=list(device_session.PREFERRED_CIPHERS),
                )
            elif kind == "run":
                await conns[key].run(entry[2], check=False)
            else:
                if key not in sftps:
                    sftps[key] = await conns[key].start_sftp_client()
                mode = "wb" if kind == "upload" else "rb"
                try:
                    async with sftps[key].open(entry[2], mode) as handle:
                        if kind == "upload":
                            await handle.write(entry[3])
                        else:
                            await handle.read()
                except asyncssh.SFTPError:
                    pass  # the file of the recorded push is gone: the request was made
    finally:
        for conn in conns.values():
            conn.close()


def state_of(db: Database, tenant_id: int, rollout_id: str) -> str:
    """The rollout's state alone: the benchmark's watching is not the controller's work,
    so it reads one row, not every router's (as ``rollout show`` would)."""
    with db.session() as session:
        return records.get(session, tenant_id, rollout_id).state


def _final_limit(rollout_id: str) -> int | None:
    """The in-flight limit the rollout ended with (``--before`` may run a revision that
    kept it in a module dict, ``final_limits``, before process state had one owner)."""
    from tikguard.ops.rollout import workflow

    read = getattr(workflow, "final_limit", None)
    found = (
        read(rollout_id)
        if read is not None
        else workflow.__dict__.get("final_limits", {}).get(rollout_id)
    )
    return None if found is None else int(found)


async def run(routers: int, scale: float, data: Path, rows: list[dict[str, str]]) -> None:
    wall = 30.0  # network limits in real seconds (a busy machine answers slowly)
    settings = Settings(
        data_dir=data,
        time_scale=scale,
        engine_polling_interval=0.1,
        connect_timeout=wall * scale,
        command_timeout=wall * scale,
        backup_timeout=3 * wall * scale,
        push_window=WINDOW,
        push_settle=10.0,
        push_boot_wait=120.0,
        push_concurrency=max(100, routers),
        backup_concurrency=50,  # the initial backup: not what is measured
    )
    db = Database.open(settings)

    tenant_id = devices_ops.default_tenant_id(db)
    inventory = "\n".join([",".join(rows[0]), *(",".join(row.values()) for row in rows)])
    devices_ops.import_rows(db, tenant_id, devices_ops.parse_inventory(inventory), actor="bench")
    results = await backup(db, settings, tenant_id)
    assert all(r.ok for r in results), [r for r in results if not r.ok][:3]
    log = record_sessions(rows[0]["name"])
    async with runtime.running(settings):
        req = push_ops.PushRequest([rows[0]["name"]], script=SCRIPT, window=WINDOW)
        cpu0, t0 = time.process_time(), time.perf_counter()
        subs = await push_ops.submit(db, settings, tenant_id, req)
        [one] = await push_ops.wait(db, tenant_id, [s.op_id for s in subs])
        base_wall, base_cpu = time.perf_counter() - t0, time.process_time() - cpu0
        assert one.outcome == "committed", one.evidence.get("reason")
        recorded = list(log)
        log.clear()

        # the replay runs on this thread (the event loop) alone: its thread's CPU time,
        # not the process's, which would count the idle engine's threads meanwhile
        cpu0 = time.thread_time()
        for row in rows[1 : FLOOR_RUNS + 1]:
            await replay(recorded, row)
        floor_cpu = (time.thread_time() - cpu0) / FLOOR_RUNS

        plan = rollouts.RolloutRequest(
            selector=Selector(names=[row["name"] for row in rows[FLOOR_RUNS + 1 :]]),
            source=SCRIPT,
            canary=1,
            waves=["10%", "100%"],
            window=WINDOW,
        )
        cpu0, t0 = time.process_time(), time.perf_counter()
        rollout_id = await rollouts.start(db, settings, tenant_id, plan)
        state = await asyncio.to_thread(state_of, db, tenant_id, rollout_id)
        while state not in ENDED:
            await asyncio.sleep(0.5)
            state = await asyncio.to_thread(state_of, db, tenant_id, rollout_id)
        took, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        view = rollouts.get(db, tenant_id, rollout_id)
        limit = _final_limit(rollout_id)
    with db.session() as s:
        ops = [s.get(Operation, t.op_id) for t in view.targets if t.op_id]
    db.dispose()
    outcomes = Counter(t.outcome or t.status for t in view.targets)
    late = [o for o in ops if o is not None and "deadline" in str(o.evidence.get("reason"))]
    pushes = max(1, sum(1 for t in view.targets if t.op_id))
    ideal = len(view.waves) * base_wall
    connects = sum(1 for e in recorded if e[0] == "connect")
    commands = sum(1 for e in recorded if e[0] == "run")
    transfers = len(recorded) - connects - commands
    print(f"\nrollout of {len(view.targets)} routers, waves {view.waves}, window {WINDOW:g} s,")
    print(f"time scale x{scale:g}, SQLite, one controller process; state {view.state}")
    print(f"outcomes: {dict(outcomes)}; deadline misses: {len(late)}")
    print(f"{'':<34} {'wall s':>8} {'CPU s/push':>11}")
    print(f"{'one guarded push alone':<34} {base_wall:8.2f} {base_cpu:11.3f}")
    print(
        f"{'floor: bare asyncssh replay':<34} {'':>8} {floor_cpu:11.3f}"
        f"   ({connects} connections, {commands} commands, {transfers} transfers)"
    )
    print(f"{'rollout':<34} {took:8.2f} {cpu / pushes:11.3f}")
    print(f"wall time / ideal ({len(view.waves)} waves x one push): {took / ideal:.2f}")
    print(f"CPU per push / floor: {cpu / pushes / floor_cpu:.2f}")
    if limit is not None:
        print(f"admission control's in-flight limit at the end: {limit}")
    out = os.environ.get("BENCH_ROLLOUT_JSON")
    if out:  # for --before
        found: dict[str, object] = {
            "cpu": cpu / pushes,
            "floor": floor_cpu,
            "wall": took,
            "late": len(late),
        }
        found["outcomes"] = dict(outcomes)
        Path(out).write_text(json.dumps(found))  # noqa: ASYNC240 (after the run, a few bytes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--routers", type=int, default=1000)
    parser.add_argument("--time-scale", type=float, default=20.0)
    parser.add_argument("--before", metavar="REV", help="Also run a git revision's code; compare.")
    args = parser.parse_args()
    if args.before:
        compare(args.before, args.routers, args.time_scale)
        return
    tmp = Path(tempfile.mkdtemp(prefix="tikguard-bench-rollout-"))
    os.environ["TIKGUARD_TIME_SCALE"] = str(args.time_scale)
    proc, rows = start_simulator(args.routers + 1 + FLOOR_RUNS, tmp / "sim", scale=args.time_scale)
    try:
        asyncio.run(run(args.routers, args.time_scale, tmp / "data", rows))
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)


def compare(rev: str, routers: int, scale: float) -> None:
    """This benchmark with ``rev``'s ``src/``, then with this checkout's; both figures."""
    repo = Path(__file__).resolve().parents[1]
    tmp = Path(tempfile.mkdtemp(prefix="tikguard-bench-rollout-before-"))
    found: dict[str, dict[str, Any]] = {}
    try:
        for label, src in (("before", _export_src(repo, rev, tmp / "before")), ("after", None)):
            out = tmp / f"{label}.json"
            path = f"{src or repo / 'src'}{os.pathsep}{repo / 'bench'}"
            env = {**os.environ, "PYTHONPATH": path, "BENCH_ROLLOUT_JSON": str(out)}
            print(f"== {label}: {src or 'this checkout'}", flush=True)
            command = [sys.executable, __file__, "--routers", str(routers)]
            subprocess.run([*command, "--time-scale", str(scale)], env=env, check=True)
            found[label] = json.loads(out.read_text())
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"\ncontroller CPU per push, {rev} (before) and this checkout (after), one run")
    print(f"{'':<7} {'CPU s/push':>11} {'floor s':>8} {'/ floor':>8} {'wall s':>8}  outcomes")
    for label, row in found.items():
        ratio = row["cpu"] / row["floor"]
        print(
            f"{label:<7} {row['cpu']:11.3f} {row['floor']:8.3f} {ratio:8.2f} {row['wall']:8.1f}"
            f"  {row['outcomes']}, {row['late']} deadline misses"
        )
    print(f"after / before: {found['after']['cpu'] / found['before']['cpu']:.2f}")


if __name__ == "__main__":
    main()
