"""Real processes around one data directory: the simulator, ``tikguard serve``, CLI runs,
and a watcher of the database files.

Shared by the shared-store stress test and the soak (test and ``bench/soak.py``). The
simulator runs in its own process (``sim_process.py``) so that killing the controller
leaves the routers -- and their revert timers -- running, as in the field.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
#: Text that must never appear in a log of the controller or a CLI run.
STORE_ERRORS = re.compile(
    r"disk I/O error|database is locked|database disk image is malformed|"
    r"no such table|readonly database|OperationalError"
)


def env_for(scale: float, data: Path | None = None, **extra: str) -> dict[str, str]:
    """The environment of a controller process at device-time ``scale``.

    Network limits are generous in real time (30 s at the scale), as on a loaded CI box.
    """
    env = {
        **os.environ,
        "TIKGUARD_TIME_SCALE": str(scale),
        "TIKGUARD_CONNECT_TIMEOUT": str(30 * scale),
        "TIKGUARD_COMMAND_TIMEOUT": str(30 * scale),
        "TIKGUARD_BACKUP_TIMEOUT": str(60 * scale),
        "TIKGUARD_ENGINE_POLLING_INTERVAL": "0.05",
        "TIKGUARD_PUSH_BOOT_WAIT": str(10 * scale),
        "TIKGUARD_PUSH_WINDOW": str(30 * scale),
        # scheduled backups every few seconds: the load these tests are about
        "TIKGUARD_SCHEDULE_MIN_INTERVAL": "1",
        "COLUMNS": "200",
        "PYTHONPATH": os.pathsep.join(
            p for p in (os.environ.get("PYTHONPATH", ""), str(HERE)) if p
        ),
    }
    for var in ("TIKGUARD_DATABASE_URL", "TIKGUARD_SYSTEM_DATABASE_URL", "TIKGUARD_MASTER_KEY"):
        env.pop(var, None)
    if data is not None:
        env["TIKGUARD_DATA_DIR"] = str(data)
    env.update(extra)
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextlib.contextmanager
def simulator(
    state: Path, count: int, scale: float
) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    """``count`` simulated routers in their own process; yields it and the inventory."""
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "sim_process.py"), str(state), str(count)],
        env=env_for(scale),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 300  # a loaded machine
        while not (state / "ready").exists():
            assert proc.poll() is None, "the simulator exited"
            assert time.monotonic() < deadline, "the simulator did not start"
            time.sleep(0.05)
        yield proc, state / "inventory.csv"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


@dataclass
class Controller:
    """``tikguard serve`` and CLI runs on one data directory."""

    data: Path
    scale: float
    port: int = field(default_factory=free_port)
    extra_env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0
    logs: list[Path] = field(default_factory=list)
    cli_runs: list[tuple[list[str], subprocess.CompletedProcess[str]]] = field(default_factory=list)
    _runs_lock: threading.Lock = field(default_factory=threading.Lock)
    _live: set[subprocess.Popen[str]] = field(default_factory=set)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        return env_for(self.scale, self.data, **self.extra_env)

    def cli(
        self, *args: str, stdin: str | None = None, timeout: float = 180
    ) -> subprocess.CompletedProcess[str]:
        """Run ``tikguard ARGS`` as its own process; every run is kept for the log check."""
        argv = [sys.executable, "-m", "tikguard.cli", *args]
        proc = subprocess.Popen(
            argv,
            env=self.env(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        with self._runs_lock:
            self._live.add(proc)
        try:
            stdout, stderr = proc.communicate(stdin, timeout=timeout)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            with self._runs_lock:
                self._live.discard(proc)
        out = subprocess.CompletedProcess(argv, proc.returncode, stdout, stderr)
        with self._runs_lock:
            self.cli_runs.append((list(args), out))
        return out

    def close(self) -> None:
        """Kill the server and every CLI run still going (a failed test leaves none)."""
        if self.running:
            self.stop(signal.SIGKILL)
        with self._runs_lock:
            live = list(self._live)
        for proc in live:
            proc.kill()
            proc.wait()

    def start(self, timeout: float = 300) -> None:
        """Start ``tikguard serve`` and wait until it answers."""
        assert self.proc is None or self.proc.poll() is not None, "already running"
        self.starts += 1
        log = self.data.parent / f"serve-{self.starts}.log"
        self.logs.append(log)
        with log.open("wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "tikguard.cli", "serve", "--port", str(self.port)],
                env=self.env(),
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while True:
            assert self.proc.poll() is None, log.read_text()[-3000:]
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.url + "/api/v1/health", timeout=2).status_code == 200:
                    return
            assert time.monotonic() < deadline, "tikguard serve did not answer"
            time.sleep(0.1)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        """Stop the server (SIGTERM: shut down; SIGKILL: a crash); its exit code."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(timeout)

    def api(self, method: str, path: str, token: str, **kwargs: Any) -> httpx.Response:
        return httpx.request(
            method,
            self.url + "/api/v1" + path,
            headers={"Authorization": f"Bearer {token}"},
            timeout=60,
            **kwargs,
        )

    def token(self, name: str, role: str = "admin") -> str:
        out = self.cli("token", "create", name, "--role", role)
        assert out.returncode == 0, out.stderr
        found = re.search(r"^(tgk_\S+)$", out.stdout, re.MULTILINE)
        assert found, out.stdout
        return found.group(1)

    def store_errors(self) -> list[str]:
        """Lines of the server logs and CLI runs that report a database failure."""
        found: list[str] = []
        for log in self.logs:
            if log.exists():
                text = log.read_text(errors="replace")
                found += [line for line in text.splitlines() if STORE_ERRORS.search(line)]
        with self._runs_lock:
            runs = list(self.cli_runs)
        for args, out in runs:
            for line in (out.stdout + out.stderr).splitlines():
                if STORE_ERRORS.search(line):
                    found.append(f"tikguard {' '.join(args)}: {line}")
        return found


class FileWatch:
    """Watch files (the databases' WAL) while armed: each must keep one inode, never vanish.

    A WAL that disappears or is replaced while the server holds connections means some
    process took itself for the last one: the server's writes would go to a dead file.
    """

    def __init__(self, paths: list[Path], interval: float = 0.005) -> None:
        self.paths = paths
        self.interval = interval
        self.violations: list[str] = []
        self.samples = 0
        self._inodes: dict[Path, int] = {}
        self._armed = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> FileWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)

    def arm(self) -> None:
        """Start checking now (the server is up): every path must exist from here on."""
        self._inodes = {p: p.stat().st_ino for p in self.paths}
        self._armed.set()

    def disarm(self) -> None:
        self._armed.clear()

    def _run(self) -> None:
        while not self._stop.is_set():
            if self._armed.is_set():
                self.samples += 1
                for path, inode in list(self._inodes.items()):
                    try:
                        now = path.stat().st_ino
                    except FileNotFoundError:
                        self.violations.append(f"{path.name} removed while the server ran")
                        self._inodes[path] = -1
                        continue
                    if now != inode and inode != -1:
                        self.violations.append(f"{path.name} replaced while the server ran")
                        self._inodes[path] = now
            time.sleep(self.interval)
