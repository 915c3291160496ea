"""Console name resolution as RouterOS does it: unambiguous prefixes of menus, commands
and arguments everywhere (console, scripts, ``/import``, SSH exec), and an error, never
silence, for a name RouterOS does not have."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tikguard.routeros.commands import command_tree
from tikguard.routeros.output import find_error
from tikguard.sim.clock import SimClock
from tikguard.sim.fleet import SimDevice
from tikguard.sim.router import SimRouter

from .sshclient import run as ssh_run


def make(version: str = "7.16") -> SimRouter:
    return SimRouter(name="gw1", version=version, clock=SimClock(manual=True))


async def run(r: SimRouter, text: str) -> str:
    return await r.execute(text, user="admin")


ADD = "/ip address add address=10.0.0.1/24 interface=ether1"


@pytest.mark.parametrize("version", ["6.49.7", "7.16"])
async def test_prefixes_of_menus_commands_and_arguments_resolve(version: str) -> None:
    r = make(version)
    assert await run(r, "/ip addr add addr=10.0.0.1/24 int=ether1 comm=x") == ""
    assert "10.0.0.1/24" in await run(r, "/ip addr pr")
    assert "10.0.0.1/24" in await run(r, "/ip address print det")
    assert "ether1" in await run(r, "/int pr")
    assert await run(r, "/ip addr set [ find comm=x ] disa=yes") == ""
    assert "disabled=yes" in r.config_text()
    # A bare path changes the menu; the next command resolves there.
    console = r.open_console("admin")
    assert await console.execute("/ip fire fil") == ""
    assert console.path == "/ip firewall filter"
    assert await console.execute("add cha=input act=accept") == ""
    assert "chain=input" in r.config_text()


async def test_exact_name_wins_over_longer_names_it_begins() -> None:
    tree = command_tree()
    assert tree.menu("")
    assert tree.menu("").resolve("for") == ("command", "for")  # not ``foreach``
    assert tree.menu("/ip firewall").resolve("filter") == ("menu", "filter")


async def test_unknown_and_ambiguous_names_fail_where_they_are() -> None:
    r = make()
    # RouterOS's texts (corpus transcripts show ``bad command name X (line 1 column C)``).
    assert await run(r, "/ip addr xyzzy") == "bad command name xyzzy (line 1 column 10)\n"
    assert await run(r, "/ip addr pr xyzzy") == "expected end of command (line 1 column 13)\n"
    assert await run(r, ADD + " colour=red") == "expected end of command (line 1 column 54)\n"
    # Ambiguity: wording assumed (no transcript shows it), located like the others.
    assert await run(r, "/ip d print") == "ambiguous command name d (line 1 column 5)\n"
    assert await run(r, ADD + " c=x") == "ambiguous argument name c (line 1 column 54)\n"
    assert "10.0.0.1/24" not in r.config_text()


async def test_a_command_routeros_has_but_the_simulator_does_not_fails() -> None:
    r = make()
    out = await run(r, "/ip address reset-counters-all")
    assert out.startswith("bad command name") or out.startswith("failure: ")
    assert await run(r, "/tool fetch url=http://x") == "failure: /tool fetch is not simulated\n"


async def test_import_resolves_names_and_checks_them_all_before_running() -> None:
    r = make()
    r.files.write("ok.rsc", b"/ip addr\nadd addr=10.0.0.1/24 int=ether1\n")
    out = await run(r, "/import file=ok.rsc")
    assert out.endswith("Script file loaded and executed successfully\n")
    assert "10.0.0.1/24" in r.config_text()
    r.files.write("bad.rsc", b"/ip address\nadd address=10.0.9.1/24 interface=ether1\nfoo\n")
    assert await run(r, "/imp bad.rsc") == "bad command name foo (line 3 column 1)\n"
    assert "10.0.9.1" not in r.config_text()


async def test_scripts_resolve_names_too() -> None:
    r = make()
    await run(r, '/sys scr add name=s source="/ip addr add addr=10.0.0.1/24 int=ether1"')
    await run(r, "/system script run s")
    assert "10.0.0.1/24" in r.config_text()


async def test_exec_over_ssh_resolves_prefixes(sim_router: SimDevice) -> None:
    out = await ssh_run(sim_router, "/sys ide pr")
    assert "name: r001" in out
    assert (await ssh_run(sim_router, "/sys xyzzy")).startswith("bad command name xyzzy")


# -- every menu: an unknown word is an error, never silence ---------------------------
_PATHS = command_tree().paths()


def _unknown_at(path: str, word: str) -> bool:
    node = command_tree().menu(path)
    return node is not None and not any(n.startswith(word) for n in node.names)


async def test_an_unknown_word_fails_in_every_menu() -> None:
    r = make()
    before = r.config_text()
    for path in _PATHS:
        command = f"{path} zqxv" if path else "/zqxv"
        out = await run(r, command)
        assert find_error(out) == f"bad command name zqxv (line 1 column {len(command) - 3})", path
    assert r.config_text() == before


@settings(max_examples=150, deadline=None)
@given(
    path=st.sampled_from(_PATHS),
    word=st.text("abcdefghijklmnopqrstuvwxyz-0123456789", min_size=1, max_size=12),
)
async def test_random_unknown_words_never_succeed_silently(path: str, word: str) -> None:
    if word.startswith("-") or not _unknown_at(path, word):
        return
    r = make()
    before = r.config_text()
    out = await run(r, f"{path} {word}" if path else f"/{word}")
    assert find_error(out) is not None and out.startswith("bad command name"), out
    out = await run(r, f"{path} {word} print" if path else f"/{word} print")
    assert out.startswith("bad command name"), out
    assert r.config_text() == before
