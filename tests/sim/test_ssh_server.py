"""The simulator's SSH server: version string, password login, exec and interactive console."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import asyncssh
import pytest

from tikguard.sim.fleet import SimDevice, SimFleet
from tikguard.sim.login import parse_login

from .sshclient import connect, run


async def test_server_identifies_as_routeros(sim_router: SimDevice) -> None:
    reader, writer = await asyncio.open_connection(sim_router.host, sim_router.port)
    try:
        line = await asyncio.wait_for(reader.readline(), 5)
    finally:
        writer.close()
    assert line == b"SSH-2.0-ROSSSH\r\n"


async def test_exec_runs_the_command_and_ends_lines_with_crlf(sim_router: SimDevice) -> None:
    out = await run(sim_router, "/system identity print")
    assert "name: r001" in out
    assert out.endswith("\r\n")
    assert "\n" not in out.replace("\r\n", "")


async def test_wrong_password_is_refused(sim_router: SimDevice) -> None:
    with pytest.raises(asyncssh.PermissionDenied):
        await connect(sim_router, password="wrong")


async def test_unknown_user_is_refused(sim_router: SimDevice) -> None:
    with pytest.raises(asyncssh.PermissionDenied):
        await asyncssh.connect(
            sim_router.host,
            port=sim_router.port,
            username="nobody",
            password=sim_router.password,
            known_hosts=None,
            connect_timeout=5,
        )


@pytest.mark.parametrize("options", ["", "+ct511w4098h", "+cte", "+t80w"])
async def test_login_options_are_stripped_from_the_user(
    sim_router: SimDevice, options: str
) -> None:
    async with await connect(sim_router, options=options) as conn:
        proc = await conn.create_process(term_type="xterm", term_size=(120, 40))
        proc.stdin.write("quit\r\n")
        out = await asyncio.wait_for(proc.stdout.read(), 5)
    assert "[admin@r001] > " in out
    assert "+" not in out.split("[admin@r001]")[0].splitlines()[-1]


async def test_exec_console_gets_the_terminal_width_from_login_options(
    sim_router: SimDevice, monkeypatch: pytest.MonkeyPatch
) -> None:
    widths: list[int] = []

    class Recorder:
        path = ""

        async def execute(self, text: str) -> str:
            return f"ran {text}\n"

    def open_console(user: str, *, width: int) -> Recorder:
        widths.append(width)
        assert user == "admin"
        return Recorder()

    monkeypatch.setattr(sim_router.router, "open_console", open_console, raising=False)
    async with await connect(sim_router, options="+ct137w") as conn:
        assert (await conn.run("/export")).stdout == "ran /export\r\n"
    async with await connect(sim_router, options="") as conn:
        await conn.run("/export")
        proc = await conn.create_process(term_type="vt100", term_size=(99, 30))
        proc.stdin.write("quit\r\n")
        await asyncio.wait_for(proc.stdout.read(), 5)
    assert widths == [137, 80, 99]


async def test_interactive_console_prompt_echo_and_quit(sim_router: SimDevice) -> None:
    async with await connect(sim_router) as conn:
        proc = await conn.create_process(term_type="xterm", term_size=(200, 50))
        proc.stdin.write("/system identity print\r\n")
        proc.stdin.write("/quit\r\n")
        out = await asyncio.wait_for(proc.stdout.read(), 5)
        await proc.wait_closed()
    assert "MikroTik RouterOS 7.16" in out
    # the prompt, the echoed command, its output, a fresh prompt, then quit
    assert "[admin@r001] > /system identity print\r\n" in out
    assert "name: r001\r\n" in out
    assert out.endswith("[admin@r001] > /quit\r\ninterrupted\r\n")


async def test_interactive_console_line_editing(sim_router: SimDevice) -> None:
    async with await connect(sim_router) as conn:
        proc = await conn.create_process(term_type="xterm", term_size=(200, 50))
        # a typo fixed with backspace, an arrow key (ignored), Ctrl-C discarding a line
        proc.stdin.write("/system identitx\x7fy print\x1b[A\r\n")
        proc.stdin.write("/garbage\x03")
        proc.stdin.write("quit\n")
        out = await asyncio.wait_for(proc.stdout.read(), 5)
    assert "identitx\b \by print" in out
    assert "name: r001" in out
    assert "/garbage\r\n[admin@r001] > quit" in out
    assert out.endswith("interrupted\r\n")


async def test_shell_without_terminal_does_not_echo(sim_router: SimDevice) -> None:
    async with await connect(sim_router) as conn:
        proc = await conn.create_process()  # no PTY, as with `ssh -T`
        proc.stdin.write("/system identity print\nquit\n")
        out = await asyncio.wait_for(proc.stdout.read(), 5)
    assert "[admin@r001] > " in out
    assert "> /system identity print" not in out
    assert "name: r001" in out
    assert out.endswith("interrupted\r\n")


async def test_shell_ends_when_the_client_closes_input(sim_router: SimDevice) -> None:
    async with await connect(sim_router) as conn:
        proc = await conn.create_process(term_type="xterm")
        proc.stdin.write_eof()
        await asyncio.wait_for(proc.wait_closed(), 5)
        assert proc.exit_status == 0


async def test_prompt_follows_identity_changes(sim_router: SimDevice) -> None:
    await sim_router.router.execute("/system identity set name=core-1", user="admin")
    async with await connect(sim_router) as conn:
        proc = await conn.create_process(term_type="xterm")
        proc.stdin.write("quit\r\n")
        out = await asyncio.wait_for(proc.stdout.read(), 5)
    assert "[admin@core-1] > quit" in out


def test_parse_login_options() -> None:
    opts = parse_login("admin+ct511w4098h")
    assert (opts.user, opts.colours, opts.detect_terminal, opts.width, opts.height) == (
        "admin",
        False,
        False,
        511,
        4098,
    )
    assert parse_login("admin").user == "admin"
    assert parse_login("admin+e").dumb
    assert parse_login("ops+team").user == "ops+team"  # not options: part of the name
    assert parse_login("a+5w").width == 20  # clamped like RouterOS does silly widths


async def test_dumb_terminal_option_turns_echo_off(sim_router: SimDevice) -> None:
    async with await connect(sim_router, options="+cte") as conn:
        proc = await conn.create_process(term_type="xterm")
        proc.stdin.write("/system identity print\r\nquit\r\n")
        out = await asyncio.wait_for(proc.stdout.read(), 5)
    assert "> /system identity print" not in out
    assert "name: r001" in out


async def test_window_resize_and_break_keep_the_console(sim_router: SimDevice) -> None:
    async with await connect(sim_router) as conn:
        proc = await conn.create_process(term_type="xterm", term_size=(80, 24))
        proc.change_terminal_size(132, 50)
        proc.send_break(100)
        proc.stdin.write("/system identity print\r\nquit\r\n")
        out = await asyncio.wait_for(proc.stdout.read(), 5)
    assert "name: r001" in out
    assert out.endswith("interrupted\r\n")


async def test_routeros_6_banner(
    sim_fleet_factory: Callable[..., Awaitable[SimFleet]],
) -> None:
    fleet = await sim_fleet_factory(1, version="6.49.7")
    async with await connect(fleet[0]) as conn:
        proc = await conn.create_process(term_type="xterm")
        proc.stdin.write("quit\r\n")
        out = await asyncio.wait_for(proc.stdout.read(), 5)
    assert "MikroTik RouterOS 6.49.7 (c) 1999-" in out
    assert "http://www.mikrotik.com/" in out
    assert "[Tab]           Completes the command/word." in out
    assert "Press F1" not in out


async def test_login_needs_the_ssh_policy(sim_router: SimDevice) -> None:
    router = sim_router.router
    await router.execute("/user group add name=nossh policy=read,ftp,test", user="admin")
    await router.execute("/user add name=carol group=nossh password=carolpw", user="admin")
    await router.execute("/user group add name=ops policy=ssh,read,test", user="admin")
    await router.execute("/user add name=dave group=ops password=davepw", user="admin")
    with pytest.raises(asyncssh.PermissionDenied):
        await connect(sim_router, user="carol", password="carolpw")
    async with await connect(sim_router, user="dave", password="davepw") as conn:
        out = (await conn.run("/system identity print")).stdout
    assert "name: r001" in out
