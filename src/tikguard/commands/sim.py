"""``tikguard sim``: run a fleet of simulated RouterOS routers on loopback.

For trying tikguard without hardware: the routers speak SSH and SFTP on
127.0.0.1 (one port each), and ``inventory.csv`` in the state directory is ready for
``tikguard device import``. The simulator is never imported by other commands.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from tikguard.commands._ui import console, fail, labelled
from tikguard.settings import Settings

sim_app = typer.Typer(help="Simulated RouterOS routers on loopback, for tests and demos.")

DEFAULT_STATE_DIR = Path("sim-state")
#: The fleet's default admin password (tikguard.sim.fleet.DEFAULT_PASSWORD; not
#: imported here so the CLI starts without loading the simulator).
SIM_PASSWORD = "simpass"
#: Rows shown in the start-up table; the rest are summarised.
TABLE_ROWS = 20


def register(app: typer.Typer) -> None:
    app.add_typer(sim_app, name="sim")


@sim_app.command("run")
def run(
    devices: Annotated[int, typer.Option("--devices", "-n", min=1, help="Routers to start.")] = 3,
    ros_version: Annotated[str, typer.Option(help="RouterOS version to model.")] = "7.16",
    model: Annotated[str, typer.Option(help="Board model (CHR, 'hAP ac').")] = "CHR",
    time_scale: Annotated[
        float | None,
        typer.Option(help="Device-time speed-up (default: TIKGUARD_TIME_SCALE, else 1)."),
    ] = None,
    state_dir: Annotated[
        Path, typer.Option(help="Host keys and inventory.csv live here.")
    ] = DEFAULT_STATE_DIR,
    host: Annotated[str, typer.Option(help="Loopback address to listen on.")] = "127.0.0.1",
    distinct_hosts: Annotated[
        bool, typer.Option(help="One loopback address per router (127.1.0.x).")
    ] = False,
    password: Annotated[str, typer.Option(help="Every router's admin password.")] = SIM_PASSWORD,
    config_from: Annotated[
        Path | None,
        typer.Option(
            "--config-from",
            help="Seed the routers with real /export files: a file, or a folder of .rsc"
            " files used in turn (each router runs its export's RouterOS version).",
        ),
    ] = None,
    api: Annotated[
        bool,
        typer.Option(
            "--api", help="Also serve the RouterOS API (8728) and API-SSL (8729) on each router."
        ),
    ] = False,
) -> None:
    """Start N routers, write inventory.csv, and serve until Ctrl-C."""
    if not (host.startswith("127.") or host == "::1"):
        fail(f"{host} is not a loopback address", "the simulator listens on 127.0.0.0/8 or ::1")
    try:
        scale = time_scale if time_scale is not None else Settings.from_env().time_scale
    except ValueError as exc:
        fail(str(exc), "set TIKGUARD_TIME_SCALE to a positive number or pass --time-scale")
    if scale <= 0:
        fail("--time-scale must be a positive number")
    try:
        asyncio.run(
            _serve(
                devices,
                ros_version,
                model,
                scale,
                state_dir,
                host,
                distinct_hosts,
                password,
                config_from,
                api,
            )
        )
    except OSError as exc:
        fail(f"cannot start the simulated routers: {exc}", "raise the open-files limit (ulimit -n)")
    except ValueError as exc:
        fail(str(exc))


async def _serve(
    count: int,
    version: str,
    model: str,
    scale: float,
    state_dir: Path,
    host: str,
    distinct_hosts: bool,
    password: str,
    config_from: Path | None = None,
    api: bool = False,
) -> None:
    from tikguard.sim.fleet import SimFleet

    fleet = SimFleet(
        count,
        version=version,
        model=model,
        time_scale=scale,
        state_dir=state_dir,
        host=host,
        distinct_hosts=distinct_hosts,
        password=password,
        config_from=config_from,
        api=api,
    )
    started = time.perf_counter()
    with console.status(f"starting {count} simulated routers..."):
        await fleet.start()
    elapsed = time.perf_counter() - started
    if fleet.seeds is not None:
        _print_seeds(fleet.seeds)
    try:
        _print_summary(fleet, elapsed)
        await _wait_for_stop()
    finally:
        with console.status("stopping..."):
            await fleet.stop()
    console.print("simulated routers stopped")


def _print_summary(fleet: object, elapsed: float) -> None:
    from tikguard.sim.fleet import SimFleet

    assert isinstance(fleet, SimFleet)
    kind = "seeded from exports" if fleet.seeds is not None else f"RouterOS {fleet.version}"
    table = Table(title=f"{len(fleet)} simulated routers ({kind}, {fleet.model})")
    api = ("api", "api-ssl") if fleet.api else ()
    for column in ("name", "host", "port", *api, "user", "site", "RouterOS", "host key"):
        table.add_column(column)
    for dev in list(fleet)[:TABLE_ROWS]:
        key = dev.host_key_fingerprint
        version = dev.router.profile.version
        ports = [str(e.port) for e in (dev.api, dev.api_ssl) if e is not None]
        row = (dev.name, dev.host, str(dev.port), *ports, dev.username, dev.site, version, key)
        table.add_row(*row)
    console.print(table)
    if len(fleet) > TABLE_ROWS:
        console.print(f"... and {len(fleet) - TABLE_ROWS} more (see the inventory)")
    console.print(
        f"started in {elapsed:.2f} s; time scale {fleet.time_scale:g}x; "
        f"password for every router: [bold]{fleet.password}[/]"
    )
    console.print(f"inventory: [bold]{fleet.inventory_path}[/]")
    console.print(f"next: tikguard device import {fleet.inventory_path}")
    console.print("press Ctrl-C to stop")


def _print_seeds(seeds: object) -> None:
    from tikguard.sim.seed import SeedSet

    assert isinstance(seeds, SeedSet)
    sizes = [s.export_bytes for s in seeds.seeds]
    console.print(
        f"seeded from {len(seeds.seeds)} export files (average export"
        f" {sum(sizes) / len(sizes) / 1024:.1f} KiB), in turn"
    )
    for skipped in seeds.skipped:
        console.print(labelled("skipped", "yellow", f"{skipped.source}: {skipped.reason}"))


async def _wait_for_stop() -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await stop.wait()
