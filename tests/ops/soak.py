"""The soak: a simulated fleet, a server, and random work and faults, then invariants.

Used by ``tests/ops/test_soak.py`` (small, in the normal suite) and ``bench/soak.py``
(larger). Every part is a real process: the routers (``soak_sim.py``, with a control
socket for faults), ``tikguard serve`` (killed with SIGKILL and restarted at random),
and CLI runs. The server backs the fleet up on a schedule every few seconds; the
driver pushes through the API and the CLI, runs CLI backups and listings, and injects
faults at random: kill -9 of the server, router power cuts, dropped connections,
random disconnects. Then everything calms down, the pending operations finish (the
routers revert what was not committed), and the invariants are checked:

1. every push the API or CLI accepted is recorded with an outcome;
2. every operation's outcome matches the router: ``committed`` -> its change is there,
   ``reverted``/``failed`` -> it is not (``uncertain`` is counted: it claims nothing);
3. every stored version's hash matches its text;
4. the git mirror equals the database (every version in git with its exact text, the
   head tree one directory per device holding its newest version);
5. no tikguard timer is left on any router;
6. no database error in any log, and neither WAL was removed while the server ran.
"""

from __future__ import annotations

import contextlib
import csv
import json
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pygit2
from sqlalchemy import select
from tests.ops.controller_proc import HERE, Controller, FileWatch, env_for

from tikguard.settings import Settings
from tikguard.store import mirror
from tikguard.store.db import Database
from tikguard.store.models import ConfigVersion, Device, Operation, Tenant
from tikguard.store.versions import hash_text, text_bytes, version_text

PUSH_KINDS = ("push", "restore", "replace")


@dataclass
class SoakConfig:
    routers: int = 3
    actions: int = 40
    seed: int = 1
    #: Device time runs this much faster than real time on both sides.
    scale: float = 50.0
    #: Real seconds between actions (drawn uniformly up to this).
    pause: float = 1.0
    #: Seconds (real) the final phase may take for every operation to end.
    settle_timeout: float = 240.0


@dataclass
class SoakReport:
    operations: Counter[str] = field(default_factory=Counter)
    actions: Counter[str] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)
    checked: Counter[str] = field(default_factory=Counter)
    violations: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> str:
        lines = [
            f"soak: {self.seconds:.0f} s, {sum(self.actions.values())} actions, "
            f"{sum(self.faults.values())} faults injected, "
            f"{sum(self.operations.values())} operations, "
            f"{len(self.violations)} violations",
            "  actions:    " + _counts(self.actions),
            "  faults:     " + _counts(self.faults),
            "  operations: " + _counts(self.operations),
            "  checked:    " + _counts(self.checked),
        ]
        lines += [f"  VIOLATION: {v}" for v in self.violations]
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)


def _counts(c: Counter[str]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(c.items())) or "-"


def address_of(n: int) -> str:
    """The unique network the soak's push number ``n`` adds."""
    return f"10.{100 + n // 250}.{n % 250}.1/24"


def script_of(n: int) -> str:
    return f"/ip address add address={address_of(n)} interface=ether2 comment=soak-{n}\n"


def _marker(n: int) -> re.Pattern[str]:
    return re.compile(rf"comment=soak-{n}(?!\d)")


class SimControl:
    """The soak simulator process and its control socket."""

    def __init__(self, state: Path, count: int, scale: float) -> None:
        self.state = state
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE / "soak_sim.py"), str(state), str(count)],
            env=env_for(scale),
            stdout=subprocess.DEVNULL,
            stderr=(state.parent / "sim.log").open("wb"),
        )
        deadline = time.monotonic() + 300  # a loaded machine
        while not (state / "ready").exists():
            assert self.proc.poll() is None, "the simulator exited"
            assert time.monotonic() < deadline, "the simulator did not start"
            time.sleep(0.05)
        self._lock = threading.Lock()

    @property
    def inventory(self) -> Path:
        return self.state / "inventory.csv"

    def __call__(self, **request: Any) -> dict[str, Any]:
        with self._lock, socket.socket(socket.AF_UNIX) as s:
            s.settimeout(120)
            s.connect(str(self.state / "control"))
            s.sendall(json.dumps(request).encode() + b"\n")
            buf = b""
            while not buf.endswith(b"\n"):
                chunk = s.recv(1 << 20)
                if not chunk:
                    break
                buf += chunk
        answer: dict[str, Any] = json.loads(buf)
        if not answer.get("ok"):
            raise RuntimeError(f"simulator: {answer.get('error')}")
        return answer

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)


@dataclass
class _Submitted:
    """A push the API or CLI accepted: its number (script, idempotency key) and router."""

    n: int
    router: str
    via: str
    op_ids: list[str] = field(default_factory=list)
    cli_exit: int | None = None
    cli_error: str = ""


class Soak:
    def __init__(self, work: Path, cfg: SoakConfig, log: Callable[[str], None]) -> None:
        self.work = work
        self.cfg = cfg
        self.log = log
        self.rng = random.Random(cfg.seed)
        self.report = SoakReport()
        self.submitted: list[_Submitted] = []
        self.next_n = 0
        self.cli_threads: list[threading.Thread] = []
        self.routers: list[str] = []
        self.token = ""
        self.ctl = Controller(work / "data", cfg.scale)
        self.sim: SimControl | None = None

    # -- the run ---------------------------------------------------------------------

    def run(self) -> SoakReport:
        started = time.monotonic()
        (self.work / "sim").mkdir(parents=True, exist_ok=True)
        self.sim = SimControl(self.work / "sim", self.cfg.routers, self.cfg.scale)
        try:
            self._setup()
            wals = [self.ctl.data / "tikguard.sqlite-wal", self.ctl.data / "dbos.sqlite-wal"]
            with FileWatch(wals) as watch:
                self.watch = watch
                watch.arm()
                for i in range(self.cfg.actions):
                    self._act(i)
                    time.sleep(self.rng.uniform(0, self.cfg.pause))
                self._calm()
                watch.disarm()
                self.ctl.stop()
            self.report.violations += [f"database files: {v}" for v in watch.violations]
            self._check()
        finally:
            self.ctl.close()
            self.sim.stop()
        self.report.seconds = time.monotonic() - started
        return self.report

    def _setup(self) -> None:
        assert self.sim is not None
        out = self.ctl.cli("device", "import", str(self.sim.inventory))
        assert out.returncode == 0, out.stderr
        out = self.ctl.cli("backup", "--all")
        assert out.returncode == 0, out.stderr
        with self.sim.inventory.open() as f:
            self.routers = [row["name"] for row in csv.DictReader(f)]
        self.ctl.start()
        self.token = self.ctl.token("soak")
        out = self.ctl.cli("schedule", "set", "*/3 * * * * *")
        assert out.returncode == 0, out.stderr
        devices = self.ctl.api("GET", "/devices", self.token).json()
        self.device_ids = {d["name"]: d["id"] for d in devices}

    def _act(self, i: int) -> None:
        # every run, however small, has a controller crash and a power cut
        if i == self.cfg.actions // 2:
            self._kill_server()
            return
        if i == self.cfg.actions // 4:
            self._power_cycle()
            return
        roll = self.rng.random()
        choices: list[tuple[float, Callable[[], None]]] = [
            (0.30, self._api_push),
            (0.08, self._cli_push),
            (0.08, self._cli_backup),
            (0.08, self._cli_read),
            (0.12, self._drop_connections),
            (0.06, self._random_disconnects),
            (0.14, self._power_cycle),
            (0.14, self._kill_server),
        ]
        total = 0.0
        for weight, action in choices:
            total += weight
            if roll < total:
                action()
                return
        self._api_push()

    def _new_push(self, via: str) -> _Submitted:
        sub = _Submitted(self.next_n, self.rng.choice(self.routers), via)
        self.next_n += 1
        return sub

    def _ensure_server(self) -> None:
        if not self.ctl.running:
            self.ctl.start()
            self.watch.arm()

    def _api_push(self) -> None:
        self._ensure_server()
        sub = self._new_push("api")
        body = {
            "devices": [self.device_ids[sub.router]],
            "script": script_of(sub.n),
            "idempotency_key": f"soak-{sub.n}",
        }
        try:
            r = self.ctl.api("POST", "/push", self.token, json=body)
        except httpx.HTTPError as exc:
            self.report.notes.append(f"push {sub.n}: {type(exc).__name__} (not counted)")
            return
        if r.status_code != 202:
            self.report.violations.append(f"push {sub.n} refused: {r.status_code} {r.text[:200]}")
            return
        sub.op_ids = r.json()["operations"]
        self.submitted.append(sub)
        self.report.actions["api push"] += 1

    def _cli_push(self) -> None:
        if any(t.is_alive() for t in self.cli_threads):
            self._cli_read()
            return
        sub = self._new_push("cli")
        script = self.work / f"push-{sub.n}.rsc"
        script.write_text(script_of(sub.n))
        args = (
            "push",
            sub.router,
            "--file",
            str(script),
            "--yes",
            "--idempotency-key",
            f"soak-{sub.n}",
        )

        def run() -> None:
            out = self.ctl.cli(*args, timeout=600)
            sub.cli_exit = out.returncode
            sub.cli_error = out.stderr[-300:]

        # Counted as submitted: the CLI writes the operation before anything else.
        self.submitted.append(sub)
        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        self.cli_threads.append(thread)
        self.report.actions["cli push"] += 1

    def _cli_backup(self) -> None:
        out = self.ctl.cli("backup", self.rng.choice(self.routers))
        self.report.actions["cli backup"] += 1
        if out.returncode not in (0, 1, 2):  # a router may be down: that is reported
            self.report.violations.append(f"cli backup crashed: {out.stderr[-300:]}")

    def _cli_read(self) -> None:
        args = self.rng.choice([("ops", "list"), ("device", "list"), ("history", self.routers[0])])
        out = self.ctl.cli(*args)
        self.report.actions["cli " + " ".join(args[:2] if args[0] != "history" else args[:1])] += 1
        if out.returncode != 0:
            self.report.violations.append(f"tikguard {' '.join(args)} failed: {out.stderr[-300:]}")

    def _fault(self, name: str, **request: Any) -> None:
        assert self.sim is not None
        self.sim(**request)
        self.report.faults[name] += 1

    def _drop_connections(self) -> None:
        router = self.rng.choice(self.routers)
        self._fault("drop connections", cmd="fault", router=router, fault="drop-connections")

    def _random_disconnects(self) -> None:
        router = self.rng.choice(self.routers)
        p = self.rng.choice([0.0, 0.1, 0.3])
        self._fault(
            "random disconnects" if p else "random disconnects off",
            cmd="fault",
            router=router,
            fault="random-disconnects",
            probability=p,
            seed=self.rng.randrange(1000),
        )

    def _power_cycle(self) -> None:
        router = self.rng.choice(self.routers)
        off = self.rng.uniform(0, 60)
        self._fault("power loss", cmd="power-cycle", router=router, off=off)

    def _kill_server(self) -> None:
        if not self.ctl.running:
            self._ensure_server()
            return
        self.watch.disarm()  # a killed process's last words: SQLite files stay as they are
        self.ctl.stop(signal.SIGKILL)
        self.report.faults["server kill -9"] += 1
        time.sleep(self.rng.uniform(0, 2))
        self._ensure_server()

    # -- the end: calm, wait, stop ----------------------------------------------------

    def _calm(self) -> None:
        assert self.sim is not None
        self.sim(cmd="calm")
        self._ensure_server()
        for thread in self.cli_threads:
            thread.join(self.cfg.settle_timeout)
        deadline = time.monotonic() + self.cfg.settle_timeout
        while time.monotonic() < deadline:
            open_ops = self._open_operations()
            if not open_ops:
                break
            time.sleep(1)
        # The routers' own revert timers: wait out a window and a boot after the last end.
        time.sleep(2)

    def _open_operations(self) -> list[str]:
        with _database(self.ctl.data) as db, db.session() as s:
            return list(s.scalars(select(Operation.id).where(Operation.outcome.is_(None))))

    # -- the invariants ----------------------------------------------------------------

    def _check(self) -> None:
        assert self.sim is not None
        rep = self.report
        out = self.ctl.cli("mirror", "sync")
        if out.returncode != 0:
            rep.violations.append(f"mirror sync failed: {out.stderr[-300:]}")
        routers = self.sim(cmd="state")["routers"]
        with _database(self.ctl.data) as db, db.session() as s:
            ops = {o.id: o for o in s.scalars(select(Operation))}
            # the key of each device's operation is "<request key>:<device>"
            by_key = {
                o.idempotency_key.rsplit(":", 1)[0]: o for o in ops.values() if o.idempotency_key
            }
            for o in ops.values():
                rep.operations[f"{o.kind} {o.outcome or 'open'}"] += 1
                rep.checked["operation ended"] += 1
                if o.outcome is None:
                    rep.violations.append(f"operation {o.id} ({o.kind}) never ended")
            device_names = {d.id: d.name for d in s.scalars(select(Device))}
            for sub in self.submitted:
                self._check_push(sub, by_key.get(f"soak-{sub.n}"), routers, device_names)
            self._check_versions(s)
            self._check_mirror(db, s)
        for name, state in routers.items():
            rep.checked["router timers"] += 1
            timers = [t for t in state["scheduler"] if "tikguard" in json.dumps(t)]
            if timers:
                rep.violations.append(f"{name}: tikguard timer left: {timers}")
            leftovers = [f for f in state["files"] if "tikguard" in f]
            if leftovers:
                rep.notes.append(f"{name}: tikguard files left on the router: {leftovers}")
        errors = self.ctl.store_errors()
        rep.checked["log lines"] += sum(
            len(p.read_text(errors="replace").splitlines()) for p in self.ctl.logs if p.exists()
        )
        rep.violations += [f"database error logged: {e}" for e in errors]

    def _check_push(
        self,
        sub: _Submitted,
        op: Operation | None,
        routers: dict[str, Any],
        device_names: dict[int, str],
    ) -> None:
        rep = self.report
        rep.checked["push recorded"] += 1
        if op is None:
            if sub.via == "cli" and sub.cli_exit not in (0, None):
                # refused before anything was written, with a message: not a lost push
                rep.notes.append(f"cli push {sub.n} refused: {sub.cli_error.strip()}")
                return
            rep.violations.append(f"push {sub.n} ({sub.via}) accepted but not recorded")
            return
        if sub.op_ids and op.id not in sub.op_ids:
            rep.violations.append(f"push {sub.n}: recorded as {op.id}, answered {sub.op_ids}")
        router = device_names.get(op.device_id or -1, "?")
        present = bool(_marker(sub.n).search(routers[router]["config"]))
        rep.checked["outcome matches router"] += 1
        if op.outcome == "committed" and not present:
            rep.violations.append(f"push {sub.n} committed but its change is not on {router}")
        elif op.outcome in ("reverted", "failed") and present:
            rep.violations.append(f"push {sub.n} {op.outcome} but its change is on {router}")
        elif op.outcome == "uncertain":
            rep.notes.append(
                f"push {sub.n} uncertain ({op.error or 'no error'}); on the router: {present}"
            )

    def _check_versions(self, s: Any) -> None:
        for v in s.scalars(select(ConfigVersion)):
            self.report.checked["version hash"] += 1
            if hash_text(version_text(v)) != v.sha256:
                self.report.violations.append(f"version {v.id}: hash does not match its text")

    def _check_mirror(self, db: Database, s: Any) -> None:
        rep = self.report
        for tenant in s.scalars(select(Tenant)):
            path = mirror.repo_path(self.ctl.data, tenant.name)
            versions = list(
                s.scalars(
                    select(ConfigVersion)
                    .where(ConfigVersion.tenant_id == tenant.id)
                    .order_by(ConfigVersion.id)
                )
            )
            if not versions:
                continue
            repo = pygit2.Repository(str(path))
            head = repo.get(repo.references["refs/heads/main"].target)
            assert isinstance(head, pygit2.Commit)
            mirrored = mirror._mirrored_ids(repo, head)
            names = {d.id: d.name for d in s.scalars(select(Device))}
            newest: dict[str, ConfigVersion] = {}
            for v in versions:
                rep.checked["mirror version"] += 1
                name = names[v.device_id]
                newest[name] = v
                commit_id = mirrored.get(v.id)
                if commit_id is None or v.mirror_commit != commit_id:
                    rep.violations.append(f"version {v.id} of {name} is not in the git mirror")
                    continue
                commit = repo.get(commit_id)
                assert isinstance(commit, pygit2.Commit)
                blob = commit.tree / name / "config.rsc"
                if blob.data != text_bytes(version_text(v)):  # type: ignore[union-attr]
                    rep.violations.append(f"version {v.id} of {name} differs in git")
            in_head = {e.name for e in head.tree if e.filemode == pygit2.enums.FileMode.TREE}
            if in_head != set(newest):
                rep.violations.append(f"git head has {sorted(in_head)}, database {sorted(newest)}")
            for name, v in newest.items():
                rep.checked["mirror head"] += 1
                if name in in_head:
                    blob = head.tree / name / "config.rsc"
                    if blob.data != text_bytes(version_text(v)):  # type: ignore[union-attr]
                        rep.violations.append(f"git head of {name} is not its newest version")


@contextlib.contextmanager
def _database(data: Path) -> Iterator[Database]:
    db = Database.open(Settings(data_dir=data), migrate=False)
    try:
        yield db
    finally:
        db.dispose()


def run_soak(work: Path, cfg: SoakConfig, log: Callable[[str], None] = print) -> SoakReport:
    """Run the soak in ``work`` (a fresh directory) and return its report."""
    return Soak(work, cfg, log).run()
