"""A real tikguard server on a free port, with simulated routers, in a background thread.

Shared by the browser tests, ``scripts/screenshots.py`` and ``bench/bench_api.py``:
its own event loop runs the simulator fleet, the durable engine and uvicorn, so a
synchronous caller (Playwright's sync API, a benchmark client) drives it like any
browser drives a deployed tikguard.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn

from tikguard.api.app import create_app
from tikguard.ops import accounts
from tikguard.settings import Settings
from tikguard.sim.fleet import SimFleet
from tikguard.store import devices as store_devices
from tikguard.store.db import Database
from tikguard.store.tenants import ensure_tenant

ADMIN = "admin"
PASSWORD = "browser-test-password"
#: Device time runs this much faster than wall time on both sides (a 120 s window: 2.4 s).
SCALE = 50.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def live_settings(data_dir: Path, **overrides: Any) -> Settings:
    base = Settings(
        data_dir=data_dir,
        time_scale=SCALE,
        engine_polling_interval=0.05,
        # network limits in real time (30 s, 60 s) on a loaded machine, whatever the scale
        connect_timeout=30 * SCALE,
        command_timeout=30 * SCALE,
        backup_timeout=60 * SCALE,
        push_window=120.0,
        push_settle=5.0,
        push_boot_wait=120.0,
        bind_port=free_port(),
    )
    return base.with_(**overrides)


@dataclass
class LiveServer:
    root: Path
    routers: int = 2
    #: Called in the server's loop after the store exists, before serving (seed data).
    seed: Callable[[Database, int, SimFleet], Awaitable[None]] | None = None
    settings: Settings = field(init=False)
    tenant_id: int = 0
    fleet: SimFleet | None = None
    _loop: asyncio.AbstractEventLoop | None = None
    _thread: threading.Thread | None = None
    _server: uvicorn.Server | None = None
    _ready: threading.Event = field(default_factory=threading.Event)
    _error: BaseException | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.settings.bind_port}"

    def start(self, timeout: float = 60.0, attempts: int = 3) -> LiveServer:
        """Start serving; a port taken between choosing and binding it means a retry."""
        for attempt in range(attempts):
            self.settings = live_settings(self.root / f"data{attempt}")
            self._ready.clear()
            self._error = None
            self._thread = threading.Thread(target=self._run, name="tikguard-live", daemon=True)
            self._thread.start()
            if not self._ready.wait(timeout):
                raise RuntimeError("the live server did not start in time")
            if self._error is None:
                return self
            self._thread.join(30)
        raise RuntimeError(f"the live server failed to start: {self._error!r}") from self._error

    def call(self, coro: Awaitable[Any], timeout: float = 60.0) -> Any:
        """Run ``coro`` in the server's loop (e.g. to read a simulated router)."""
        assert self._loop is not None
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)  # type: ignore[arg-type]
        return future.result(timeout)

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # reported to start()
            self._error = exc
            self._ready.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        fleet = SimFleet(
            self.routers, time_scale=SCALE, state_dir=self.root / "sim", boot_seconds=20.0
        )
        await fleet.start()
        self.fleet = fleet
        db = Database.open(self.settings)
        try:
            self.tenant_id = await asyncio.to_thread(self._setup, db, fleet)
            if self.seed is not None:
                await self.seed(db, self.tenant_id, fleet)
            app = create_app(self.settings, db=db, engine=True)
            config = uvicorn.Config(
                app,
                host="127.0.0.1",
                port=self.settings.bind_port,
                log_level="warning",
                access_log=False,
                lifespan="on",
                timeout_graceful_shutdown=5,
                proxy_headers=False,  # as `tikguard serve` runs it
            )
            self._server = uvicorn.Server(config)
            serving = asyncio.create_task(self._server.serve())
            while not self._server.started:
                if serving.done():
                    await serving
                await asyncio.sleep(0.02)
            self._ready.set()
            await serving
        finally:
            db.dispose()
            await fleet.stop()

    def _setup(self, db: Database, fleet: SimFleet) -> int:
        with db.transaction() as s:
            tenant = ensure_tenant(s)
            accounts.create_user(s, tenant.id, ADMIN, PASSWORD, "admin", actor="test")
            for dev in fleet:
                store_devices.add_device(
                    s,
                    tenant.id,
                    name=dev.name,
                    host=dev.host,
                    port=dev.port,
                    username=dev.username,
                    password=dev.password,
                    tags=list(dev.tags) or ["lab"],
                    site=dev.site or "lab",
                )
            return tenant.id

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(60)
            if self._thread.is_alive():
                raise RuntimeError("the live server did not stop within 60 s")


@contextlib.contextmanager
def running(root: Path, **kwargs: Any) -> Iterator[LiveServer]:
    server = LiveServer(root, **kwargs).start()
    try:
        yield server
    finally:
        server.stop()
