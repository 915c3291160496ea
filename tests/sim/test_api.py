"""The RouterOS API (8728) and API-SSL (8729) served by the simulator, spoken by
librouteros, unmodified (a third-party client, as The Other Dude and Ansible use)."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Awaitable, Callable

import librouteros
import pytest
from librouteros.exceptions import ConnectionClosed, FatalError, TrapError
from librouteros.query import Key

from tikguard.sim.apiserver import Request, encode_sentence, matches
from tikguard.sim.fleet import SimDevice, SimFleet

from .sshclient import run

Fleet = Callable[..., Awaitable[SimFleet]]


def client_tls() -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # the simulator's certificate is self-signed
    return ctx


async def connect(dev: SimDevice, *, tls: bool = False, **kwargs: object) -> librouteros.AsyncApi:
    endpoint = dev.api_ssl if tls else dev.api
    assert endpoint is not None
    args: dict[str, object] = {"port": endpoint.port, "timeout": 10}
    if tls:
        args["ssl_wrapper"] = client_tls()
    args.update(kwargs)
    return await librouteros.async_connect(dev.host, dev.username, dev.password, **args)  # type: ignore[arg-type]


@pytest.mark.parametrize("tls", [False, True], ids=["api", "api-ssl"])
async def test_librouteros_reads_and_writes(sim_fleet_factory: Fleet, tls: bool) -> None:
    fleet = await sim_fleet_factory(1, api=True)
    dev = fleet[0]
    api = await connect(dev, tls=tls)
    try:
        identity = [row async for row in api.path("system", "identity")]
        assert identity == [{"name": dev.name}]
        addresses = api.path("ip", "address")
        new_id = await addresses.add(address="192.0.2.1/24", interface="ether2", comment="via api")
        assert new_id.startswith("*")
        rows = [row async for row in addresses]
        mine = [r for r in rows if r[".id"] == new_id]
        assert mine and mine[0]["address"] == "192.0.2.1/24" and mine[0]["disabled"] is False
        await addresses.update(**{".id": new_id, "comment": "changed"})
        query = addresses.select(Key(".id"), Key("comment")).where(Key("interface") == "ether2")
        assert [row async for row in query] == [{".id": new_id, "comment": "changed"}]
        with pytest.raises(TrapError, match="already have such entry"):
            await addresses.add(address="192.0.2.1/24", interface="ether2")
        # The same model as SSH: the console sees the change, and it is exported.
        assert "comment=changed" in await run(dev, "/export")
        await addresses.remove(new_id)
        assert new_id not in [row[".id"] async for row in addresses]
        resource = [row async for row in api.path("system", "resource")]
        assert resource[0]["board-name"] == "CHR"
    finally:
        await api.close()


async def test_wrong_password_and_missing_login(sim_fleet_factory: Fleet) -> None:
    fleet = await sim_fleet_factory(1, api=True)
    dev = fleet[0]
    assert dev.api is not None
    with pytest.raises(TrapError, match=r"invalid user name or password \(6\)"):
        await librouteros.async_connect(dev.host, "admin", "wrong", port=dev.api.port, timeout=10)
    reader, writer = await asyncio.open_connection(dev.host, dev.api.port)
    writer.write(encode_sentence(["/ip/address/print"]))
    reply = await asyncio.wait_for(reader.read(200), 10)
    assert b"!fatal" in reply and b"not logged in" in reply
    writer.close()


async def test_tags_and_queries_on_the_wire(sim_fleet_factory: Fleet) -> None:
    fleet = await sim_fleet_factory(1, api=True)
    api = await connect(fleet[0])
    try:
        protocol = api.protocol
        await protocol.writeSentence(
            "/ip/service/print", "?name=www-ssl", "=.proplist=name,port,disabled", ".tag=7"
        )
        reply = await protocol.readSentence()
        assert reply == ("!re", ("=name=www-ssl", "=port=443", "=disabled=true", ".tag=7"))
        assert await protocol.readSentence() == ("!done", (".tag=7",))
    finally:
        await api.close()
    with pytest.raises(FatalError):
        api2 = await connect(fleet[0])
        await api2.protocol.writeSentence("/quit")
        await api2.protocol.readSentence()


async def test_api_service_disabled_or_address_refuses(sim_fleet_factory: Fleet) -> None:
    fleet = await sim_fleet_factory(1, api=True)
    dev = fleet[0]
    await run(dev, "/ip service set api disabled=yes")
    with pytest.raises((ConnectionClosed, ConnectionError)):
        await connect(dev)  # refused: closed at once
    await connect(dev, tls=True)  # api-ssl is its own service
    await run(dev, "/ip service set api disabled=no address=10.0.0.0/8")
    with pytest.raises(TimeoutError):
        await connect(dev, timeout=1)  # dropped: silence until the client gives up


def test_query_stack() -> None:
    row = {".id": "*1", "name": "ether1", "mtu": "1500", "disabled": "false"}
    assert matches(row, ["name=ether1"])
    assert matches(row, ["name=ether2", "#!"])
    assert matches(row, ["name=ether2", "mtu=1500", "#|"])
    assert not matches(row, ["name=ether2", "mtu=1500", "#&"])
    assert matches(row, ["<mtu=9000", "comment", "#!", "#&", "-comment"])
    assert Request.parse(["/ip/address/print", "=.proplist=a,b", ".tag=x"]).proplist == ["a", "b"]


async def test_a_reboot_ends_api_sessions(sim_fleet_factory: Fleet) -> None:
    fleet = await sim_fleet_factory(1, api=True)
    dev = fleet[0]
    api = await connect(dev)
    assert [row async for row in api.path("system", "identity")]
    await dev.power_cycle()
    with pytest.raises((ConnectionClosed, ConnectionError)):
        [row async for row in api.path("system", "identity")]
    again = await connect(dev)
    assert [row async for row in again.path("system", "identity")] == [{"name": dev.name}]
    await again.close()
