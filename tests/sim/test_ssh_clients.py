"""Standard clients against the simulator: OpenSSH ssh/sftp and netmiko's RouterOS driver."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

from tikguard.sim.fleet import SimDevice

NO_PINNING = ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null"]
QUIET = ["-o", "LogLevel=ERROR", "-o", "ConnectTimeout=10"]


def need(*tools: str) -> None:
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed (run scripts/system-deps.sh)")


async def call(*argv: str, stdin: bytes = b"", within: float = 30) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(within):
        out, err = await proc.communicate(stdin)
    assert proc.returncode is not None
    return proc.returncode, out.decode(errors="replace"), err.decode(errors="replace")


def ssh_argv(dev: SimDevice, *extra: str) -> list[str]:
    return [
        "sshpass",
        "-p",
        dev.password,
        "ssh",
        *NO_PINNING,
        *QUIET,
        "-p",
        str(dev.port),
        *extra,
        f"{dev.username}@{dev.host}",
    ]


async def test_openssh_exec(sim_router: SimDevice) -> None:
    need("ssh", "sshpass")
    code, out, err = await call(*ssh_argv(sim_router), "/system identity print")
    assert code == 0, err
    assert "name: r001\r\n" in out


async def test_openssh_exec_with_login_options(sim_router: SimDevice) -> None:
    need("ssh", "sshpass")
    argv = ssh_argv(sim_router)
    argv[-1] = f"{sim_router.username}+ct511w4098h@{sim_router.host}"
    code, out, err = await call(*argv, "/export")
    assert code == 0, err
    assert "by RouterOS 7.16" in out


async def test_openssh_interactive(sim_router: SimDevice) -> None:
    need("ssh", "sshpass")
    code, out, err = await call(
        *ssh_argv(sim_router, "-tt"), stdin=b"/system identity print\r\nquit\r\n"
    )
    assert code == 0, err
    assert "[admin@r001] > " in out
    assert "name: r001" in out
    assert "interrupted" in out


async def test_openssh_sftp_put_ls_get_rm(sim_router: SimDevice, tmp_path: Path) -> None:
    need("sftp", "sshpass")
    local = tmp_path / "push.rsc"
    local.write_bytes(b"/system identity set name=via-sftp\n")
    back = tmp_path / "back.rsc"
    batch = tmp_path / "batch"
    batch.write_text(f"put {local} push.rsc\nls -l\nget push.rsc {back}\nrm push.rsc\nls\n")
    code, out, err = await call(
        "sshpass",
        "-p",
        sim_router.password,
        "sftp",
        *NO_PINNING,
        *QUIET,
        "-o",
        "BatchMode=no",
        "-P",
        str(sim_router.port),
        "-b",
        str(batch),
        f"{sim_router.username}@{sim_router.host}",
    )
    assert code == 0, err
    assert "push.rsc" in out
    assert back.read_bytes() == local.read_bytes()
    assert not sim_router.router.files.exists("push.rsc")


async def test_netmiko_mikrotik_routeros_driver(sim_router: SimDevice) -> None:
    netmiko = pytest.importorskip("netmiko")

    def session() -> tuple[str, str, str]:
        conn = netmiko.ConnectHandler(
            device_type="mikrotik_routeros",
            host=sim_router.host,
            port=sim_router.port,
            username=sim_router.username,
            password=sim_router.password,
            ssh_strict=False,
            system_host_keys=False,
            alt_host_keys=False,
            allow_agent=False,
            use_keys=False,
            conn_timeout=10,
        )
        try:
            prompt = conn.find_prompt()
            identity = conn.send_command("/system identity print")
            export = conn.send_command("/export", read_timeout=20)
        finally:
            conn.disconnect()
        return prompt, identity, export

    prompt, identity, export = await asyncio.to_thread(session)
    assert prompt == "[admin@r001] >"
    assert "name: r001" in identity
    assert "by RouterOS 7.16" in export
    assert "/system identity" in export


async def test_openssh_scp_both_protocols(sim_router: SimDevice, tmp_path: Path) -> None:
    need("scp", "sshpass")
    local = tmp_path / "up.rsc"
    local.write_bytes(b":put scp\n")
    remote = f"{sim_router.username}@{sim_router.host}:up.rsc"
    for legacy in (True, False):  # -O: the old SCP protocol; default: SCP over SFTP
        base = ["sshpass", "-p", sim_router.password, "scp", *NO_PINNING, *QUIET]
        base += ["-O"] if legacy else []
        base += ["-P", str(sim_router.port)]
        code, _, err = await call(*base, str(local), remote)
        assert code == 0, err
        assert sim_router.router.files.read("up.rsc") == b":put scp\n"
        back = tmp_path / f"back-{legacy}.rsc"
        code, _, err = await call(*base, remote, str(back))
        assert code == 0, err
        assert back.read_bytes() == b":put scp\n"
        sim_router.router.files.remove("up.rsc")
