"""Simulator fleet benchmark: start-up time, memory per router, exports per second.

Each measurement runs the server side in a fresh child process (so its RSS is its
own) beside a baseline in the same run:

* start-up: N simulated routers vs N bare asyncssh listeners (one shared key);
  time to listen on every port and RSS growth per router.
* exports/s: an asyncssh client loop (C connections, one exec channel per
  ``/export``) against simulated routers (rendering every export, and with the
  export cached per configuration revision, the default) vs a bare asyncssh server
  that answers every exec with a fixed export of the same size.

Usage: ``python bench/bench_sim.py [--sizes 1000,5000] [--seconds 5] [--clients 8]``
(add 10000 to ``--sizes`` for the full fleet; it takes a minute or two).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from typing import Any

import asyncssh

PASSWORD = "simpass"
#: Address-list entries loaded into each router of the export run (a ~20 KB export).
EXPORT_ENTRIES = 250


def _bench_config(entries: int) -> str:
    lines = ["/ip firewall address-list"]
    for i in range(entries):
        lines.append(
            f"add address=10.{i // 250}.{i % 250}.0/24 list=customers "
            f'comment="customer {i:04d} access network"'
        )
    return "\n".join(lines) + "\n"


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


# -- child side ---------------------------------------------------------------------
async def _serve_sim(
    count: int,
    version: str,
    report: dict[str, Any],
    *,
    fixed_console: bool = False,
    export_cache: bool = True,
) -> None:
    from tikguard.sim.fleet import SimFleet

    before = rss_bytes()
    start = time.perf_counter()
    fleet = SimFleet(
        count=count,
        version=version,
        time_scale=1.0,
        password=PASSWORD,
        router_settings={"export_cache": export_cache},
    )
    await fleet.start()
    report["startup_s"] = time.perf_counter() - start
    report["rss_delta"] = rss_bytes() - before
    report["ports"] = [d.port for d in fleet][:64]
    if count <= 64:  # the export run: reachable on loopback, with a config worth exporting
        for d in fleet:
            await _ensure_reachable(d)
            await d.router.execute(_bench_config(EXPORT_ENTRIES), user="admin")
    dev = fleet[0]
    export = await dev.router.execute("/export", user="admin")
    report["export_bytes"] = len(export.encode())
    if fixed_console:  # the SSH side alone: every console answers with that text at once
        for d in fleet:
            d.router.open_console = _fixed_console(export)  # type: ignore[method-assign]
    await _until_stdin_closes(report)
    await fleet.stop()


def _fixed_console(text: str) -> Any:
    class Fixed:
        path = ""

        async def execute(self, command: str) -> str:
            return text

    return lambda user, width=80: Fixed()


async def _ensure_reachable(dev: Any) -> None:
    """Put the loopback address on ether1 if the default configuration lacks it."""
    from tikguard.sim.network import management_verdict

    verdict = management_verdict(dev.router, client_ip=dev.host, local_ip=dev.host, port=22)
    if verdict != "accept":
        await dev.router.execute(
            f"/ip address add address={dev.host}/8 interface=ether1", user="admin"
        )


class _EchoServer(asyncssh.SSHServer):
    def begin_auth(self, username: str) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return True

    def validate_password(self, username: str, password: str) -> bool:
        return password == PASSWORD


async def _serve_bare(count: int, export_bytes: int, report: dict[str, Any]) -> None:
    text = ("/ip address\nadd address=10.0.0.1/24 interface=ether1 network=10.0.0.0\n" * 999)[
        : max(1, export_bytes)
    ]

    def handle(process: asyncssh.SSHServerProcess[str]) -> None:
        process.stdout.write(text.replace("\n", "\r\n"))
        process.exit(0)

    key = asyncssh.generate_private_key("ssh-ed25519")
    before = rss_bytes()
    start = time.perf_counter()
    servers = [
        await asyncssh.listen(
            "127.0.0.1",
            0,
            server_host_keys=[key],
            server_factory=_EchoServer,
            process_factory=handle,
            encoding="utf-8",
        )
        for _ in range(count)
    ]
    report["startup_s"] = time.perf_counter() - start
    report["rss_delta"] = rss_bytes() - before
    report["ports"] = [s.sockets[0].getsockname()[1] for s in servers[:64]]
    report["export_bytes"] = len(text.encode())
    await _until_stdin_closes(report)
    for s in servers:
        s.close()


async def _until_stdin_closes(report: dict[str, Any]) -> None:
    print(json.dumps(report), flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)


def child_main(argv: list[str]) -> None:
    kind, count, extra = argv[0], int(argv[1]), argv[2]
    report: dict[str, Any] = {"kind": kind, "count": count}
    if kind in ("sim", "simfixed", "simnocache"):
        asyncio.run(
            _serve_sim(
                count,
                extra,
                report,
                fixed_console=kind == "simfixed",
                export_cache=kind != "simnocache",
            )
        )
    else:
        asyncio.run(_serve_bare(count, int(extra), report))


# -- parent side --------------------------------------------------------------------
class Child:
    def __init__(self, kind: str, count: int, extra: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--child", kind, str(count), extra],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"{kind} server with {count} routers did not start")
        self.report: dict[str, Any] = json.loads(line)

    def stop(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=120)


async def export_rate(ports: list[int], clients: int, seconds: float) -> tuple[float, int]:
    """Exports per second from ``clients`` connections, each a loop of exec channels."""
    done = 0
    failures = 0
    deadline = time.perf_counter() + seconds

    async def one(port: int) -> None:
        nonlocal done, failures
        async with asyncssh.connect(
            "127.0.0.1",
            port=port,
            username="admin+ct511w4098h",
            password=PASSWORD,
            known_hosts=None,
        ) as conn:
            while time.perf_counter() < deadline:
                result = await conn.run("/export", check=False)
                if result.exit_status == 0 and result.stdout:
                    done += 1
                else:
                    failures += 1

    start = time.perf_counter()
    await asyncio.gather(*(one(ports[i % len(ports)]) for i in range(clients)))
    return done / (time.perf_counter() - start), failures


def fmt_mb(n: float) -> str:
    return f"{n / 1e6:.1f} MB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,5000", help="fleet sizes, e.g. 1000,5000,10000")
    parser.add_argument("--version", default="7.16")
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each export run")
    parser.add_argument("--clients", type=int, default=8, help="concurrent SSH connections")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s]

    print(f"# simulator fleet start-up (RouterOS {args.version}, 2 processes: server, client)")
    print(
        "| routers | sim start-up | sim per router | bare start-up | bare per router "
        "| memory ratio |\n|---:|---:|---:|---:|---:|---:|"
    )
    export_bytes = 0
    for n in sizes:
        sim = Child("sim", n, args.version)
        sim.stop()
        export_bytes = int(sim.report["export_bytes"])
        bare = Child("bare", n, str(export_bytes))
        bare.stop()
        s, b = sim.report, bare.report
        per_sim, per_bare = s["rss_delta"] / n, b["rss_delta"] / n
        print(
            f"| {n} | {s['startup_s']:.2f} s | {per_sim / 1024:.1f} KiB "
            f"| {b['startup_s']:.2f} s | {per_bare / 1024:.1f} KiB "
            f"| {per_sim / max(per_bare, 1):.1f}x |",
            flush=True,
        )

    print(f"\n# /export over SSH: {args.clients} connections, {args.seconds:.0f} s each")
    print("| server | export bytes | exports/s | failures | ratio to bare |")
    print("|---|---:|---:|---:|---:|")
    sim = Child("sim", 16, args.version)
    fixed = Child("simfixed", 16, args.version)
    nocache = Child("simnocache", 16, args.version)
    bare = Child("bare", 16, str(sim.report["export_bytes"]))
    try:
        rate_bare, fail_bare = asyncio.run(
            export_rate(bare.report["ports"], args.clients, args.seconds)
        )
        rate_fixed, fail_fixed = asyncio.run(
            export_rate(fixed.report["ports"], args.clients, args.seconds)
        )
        rate_nocache, fail_nocache = asyncio.run(
            export_rate(nocache.report["ports"], args.clients, args.seconds)
        )
        rate_sim, fail_sim = asyncio.run(
            export_rate(sim.report["ports"], args.clients, args.seconds)
        )
    finally:
        sim.stop()
        fixed.stop()
        nocache.stop()
        bare.stop()
    print(
        f"| bare asyncssh (fixed text) | {bare.report['export_bytes']} | {rate_bare:.0f} "
        f"| {fail_bare} | 1.00 |"
    )
    print(
        f"| simulator SSH side (console answers fixed text) | {fixed.report['export_bytes']} "
        f"| {rate_fixed:.0f} | {fail_fixed} | {rate_fixed / max(rate_bare, 1e-9):.2f} |"
    )
    print(
        f"| simulated routers (every export rendered) | {nocache.report['export_bytes']} "
        f"| {rate_nocache:.0f} | {fail_nocache} | {rate_nocache / max(rate_bare, 1e-9):.2f} |"
    )
    print(
        f"| simulated routers (export cached per config revision) | {sim.report['export_bytes']} "
        f"| {rate_sim:.0f} | {fail_sim} | {rate_sim / max(rate_bare, 1e-9):.2f} |"
    )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child_main(sys.argv[2:])
    else:
        main()
