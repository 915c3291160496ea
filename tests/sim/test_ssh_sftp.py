"""SFTP onto a simulated router's files: put, get, list, remove, sizes, flash/, full flash."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import asyncssh
import pytest

from tikguard.sim.fleet import SimDevice, SimFleet

from .sshclient import connect, run

SCRIPT = b"/system identity set name=from-sftp\n"


async def test_put_list_stat_get_remove(sim_router: SimDevice) -> None:
    async with await connect(sim_router) as conn, conn.start_sftp_client() as sftp:
        async with sftp.open("push.rsc", "wb") as f:
            await f.write(SCRIPT)
        assert sim_router.router.files.read("push.rsc") == SCRIPT
        assert "push.rsc" in await sftp.listdir("/")
        assert (await sftp.stat("push.rsc")).size == len(SCRIPT)
        assert await sftp.isdir("/")
        async with sftp.open("/push.rsc", "rb") as f:
            assert await f.read() == SCRIPT
        await sftp.remove("push.rsc")
        assert not sim_router.router.files.exists("push.rsc")
        with pytest.raises(asyncssh.SFTPNoSuchFile):
            await sftp.stat("push.rsc")


async def test_upload_is_visible_to_file_print_and_import(sim_router: SimDevice) -> None:
    async with (
        await connect(sim_router) as conn,
        conn.start_sftp_client() as sftp,
        sftp.open("push.rsc", "wb") as f,
    ):
        await f.write(SCRIPT)
    assert "push.rsc" in await run(sim_router, "/file print")
    out = await run(sim_router, "/import file-name=push.rsc")
    assert "Script file loaded and executed successfully" in out
    assert sim_router.router.identity == "from-sftp"


async def test_download_of_a_router_file(sim_router: SimDevice) -> None:
    sim_router.router.files.write("note.txt", b"x" * 70_000)
    async with await connect(sim_router) as conn, conn.start_sftp_client() as sftp:
        async with sftp.open("note.txt", "rb") as f:
            data = await f.read()
        names = {n.filename: n.attrs.size for n in await sftp.readdir(".")}
    assert data == b"x" * 70_000
    assert names["note.txt"] == 70_000


async def test_flash_folder_on_boards_that_have_one(
    sim_fleet_factory: Callable[..., Awaitable[SimFleet]],
) -> None:
    fleet = await sim_fleet_factory(1, model="hAP ac")
    dev = fleet[0]
    async with await connect(dev) as conn, conn.start_sftp_client() as sftp:
        assert "flash" in await sftp.listdir("/")
        assert await sftp.isdir("flash")
        async with sftp.open("flash/revert.rsc", "wb") as f:
            await f.write(SCRIPT)
        assert "revert.rsc" in await sftp.listdir("flash")
        with pytest.raises(asyncssh.SFTPNoSuchFile):
            async with sftp.open("nowhere/x.rsc", "wb") as f:
                await f.write(SCRIPT)
    assert dev.router.files.read("flash/revert.rsc") == SCRIPT
    assert dev.router.files.is_persistent("flash/revert.rsc")


async def test_full_flash_makes_uploads_fail(sim_router: SimDevice) -> None:
    sim_router.inject("full-flash")
    async with await connect(sim_router) as conn, conn.start_sftp_client() as sftp:
        with pytest.raises(asyncssh.SFTPError, match="not enough space"):
            async with sftp.open("push.rsc", "wb") as f:
                await f.write(SCRIPT)
    assert not sim_router.router.files.exists("push.rsc")
    sim_router.inject("full-flash", full=False)
    async with (
        await connect(sim_router) as conn,
        conn.start_sftp_client() as sftp,
        sftp.open("push.rsc", "wb") as f,
    ):
        await f.write(SCRIPT)
    assert sim_router.router.files.exists("push.rsc")


async def test_statvfs_reports_the_routers_storage(sim_router: SimDevice) -> None:
    async with await connect(sim_router) as conn, conn.start_sftp_client() as sftp:
        vfs = await sftp.statvfs("/")
    files = sim_router.router.files
    assert vfs.bfree * vfs.bsize == files.free_space() // 1024 * 1024
    assert vfs.blocks * vfs.bsize == files.capacity // 1024 * 1024


async def test_rename_and_folders_are_not_made(sim_router: SimDevice) -> None:
    async with await connect(sim_router) as conn, conn.start_sftp_client() as sftp:
        async with sftp.open("a.rsc", "wb") as f:
            await f.write(SCRIPT)
        await sftp.rename("a.rsc", "b.rsc")
        assert sim_router.router.files.exists("b.rsc")
        assert not sim_router.router.files.exists("a.rsc")
        with pytest.raises(asyncssh.SFTPError):
            await sftp.mkdir("newdir")


async def test_sftp_needs_the_ftp_policy(sim_router: SimDevice) -> None:
    out = await run(sim_router, "/user group add name=noftp policy=ssh,read,write,test")
    assert "failure" not in out
    await run(sim_router, "/user add name=bob group=noftp password=bobpass")
    async with (
        await connect(sim_router, user="bob", password="bobpass") as conn,
        conn.start_sftp_client() as sftp,
    ):
        with pytest.raises(asyncssh.SFTPPermissionDenied):
            await sftp.listdir("/")
