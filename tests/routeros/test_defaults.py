"""Defaults as RouterOS has them: a router's compact and verbose exports are one config.

The corpus holds one RouterOS 6.49.7 hAP exported both ways two minutes apart; every
verbose export normalises to the compact form RouterOS would print; per-item factory
values (service ports, ``www-ssl`` disabled) and the implied ``dst-address`` of a v6
default route are known to diff, patch and the simulator alike.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.conftest import CORPUS, corpus_exports
from typer.testing import CliRunner

from tikguard.cli import app
from tikguard.routeros.compact import compact_form
from tikguard.routeros.defaults import item_defaults
from tikguard.routeros.diff import diff
from tikguard.routeros.model import Config
from tikguard.routeros.normalise import normalise
from tikguard.routeros.parse import parse
from tikguard.routeros.serialise import serialise
from tikguard.sim.defaults import services

PAIR = ("ros6.49.7_951ui_compact.rsc", "ros6.49.7_951ui_verbose.rsc")


def corpus_file(name: str) -> Path:
    path = CORPUS / "exports" / name
    if not path.is_file():
        pytest.skip(f"corpus export {path} not found (set TIKGUARD_CORPUS)")
    return path


def load(path: Path) -> Config:
    return parse(path.read_bytes().decode("utf-8", "surrogateescape"), path.name)


def test_compact_and_verbose_export_of_one_router_diff_to_nothing() -> None:
    compact, verbose = (corpus_file(n) for n in PAIR)
    for old, new in ((compact, verbose), (verbose, compact)):
        result = CliRunner().invoke(app, ["config", "diff", str(old), str(new)])
        assert result.exit_code == 0, result.output
        assert result.output.strip() == "no differences", result.output


def blocks(text: str) -> list[str]:
    """The export's menu blocks (``/path`` line and its commands), sorted."""
    out: list[str] = []
    for line in text.splitlines():
        if line.startswith("/") or not out:
            out.append(line)
        else:
            out[-1] += "\n" + line
    return sorted(out)


def test_compact_form_of_the_verbose_export_is_routeros_compact_export() -> None:
    compact, verbose = (corpus_file(n) for n in PAIR)
    result = CliRunner().invoke(app, ["config", "normalise", "--compact", str(verbose)])
    assert result.exit_code == 0, result.output
    want = normalise(compact.read_text())
    # Line for line within each menu; RouterOS prints /interface wireless earlier.
    assert blocks(result.output) == blocks(want)


#: The corpus's verbose exports (its MANIFEST: "verbose: 4"); the 5.7 one prints every
#: default but no ``!key`` marker, so it is named here rather than detected.
VERBOSE = (
    "ros5.7_rb493g_verbose-indexed.rsc",
    "ros6.43.8_rb941_verbose_routerlab-b3.rsc",
    "ros6.48.1_rb952_verbose_unset-bang-props.rsc",
    "ros6.49.7_951ui_verbose.rsc",
)


def test_every_verbose_export_is_listed() -> None:
    detected = {p.name for p in corpus_exports() if load(p).meta.style == "verbose"}
    assert detected <= set(VERBOSE)


@pytest.mark.parametrize("name", VERBOSE)
def test_every_verbose_export_normalises_to_its_compact_form(name: str) -> None:
    path = corpus_file(name)
    verbose = load(path)
    compact = compact_form(verbose)
    assert diff(verbose, compact).empty
    assert all(p.value is not None for m in compact.menus for c in m.commands for p in c.props)
    text = serialise(compact)  # with the date line: it names the version
    again = parse(text)
    assert compact_form(again).menus == again.menus  # the compact form is a fixpoint
    assert len(text) < len(path.read_bytes()) / 2


def test_compact_v6_default_route_and_verbose_one_are_one_route() -> None:
    compact = parse(
        "# jan/02/2022 00:00:00 by RouterOS 6.49.7\n/ip route\nadd distance=1 gateway=192.0.2.1\n"
    )
    verbose = parse(
        "# jan/02/2022 00:00:00 by RouterOS 6.49.7\n/ip route\n"
        "add !check-gateway disabled=no distance=1 dst-address=0.0.0.0/0 gateway=192.0.2.1"
        " !routing-mark scope=30 target-scope=10\n"
    )
    assert diff(compact, verbose).empty
    other = parse("/ip route\nadd dst-address=0.0.0.0/0 gateway=192.0.2.2\n")
    assert diff(compact, other).summary() == {"added": 0, "removed": 0, "changed": 1, "moved": 0}


SERVICE_PORTS = {
    "telnet": "23",
    "ftp": "21",
    "www": "80",
    "ssh": "22",
    "www-ssl": "443",
    "api": "8728",
    "winbox": "8291",
    "api-ssl": "8729",
}


@given(
    version=st.sampled_from(["6.43.8", "6.49.7", "7.16", "7.21"]),
    service=st.sampled_from(sorted(SERVICE_PORTS)),
    port=st.integers(1, 65535),
)
def test_service_port_and_disabled_are_known_per_service(
    version: str, service: str, port: int
) -> None:
    head = f"# 2024-01-01 00:00:00 by RouterOS {version}\n/ip service\n"
    factory = SERVICE_PORTS[service]
    disabled = "yes" if service == "www-ssl" else "no"
    spelled = parse(head + f'set {service} address="" disabled={disabled} port={factory}\n')
    assert diff(parse(head), spelled).empty
    moved = parse(head + f"set {service} port={port}\n")
    assert diff(parse(head), moved).empty == (str(port) == factory)


def test_simulator_services_come_from_the_same_table() -> None:
    from tikguard.sim.profiles import profile_for

    for version in ("6.49.7", "7.16"):
        for name, port, disabled in services(profile_for(version)):
            assert port == SERVICE_PORTS[name]
            assert item_defaults("/ip service", (("name", name),), version)["port"] == port
            assert disabled == ("yes" if name == "www-ssl" else "no")


def test_built_in_item_addressed_by_a_moved_print_number_keeps_its_own_defaults() -> None:
    head = "# jan/02/2022 00:00:00 by RouterOS 6.48.1\n/queue type\n"
    blank = parse(head)
    # One queue type more before it: pcq-upload-default is number 6 here, 5 in the table.
    shifted = "set 6 kind=pcq name=pcq-upload-default pcq-classifier={} pcq-rate=0\n"
    assert diff(blank, parse(head + shifted.format("src-address"))).empty
    changed = diff(blank, parse(head + shifted.format("dst-address")))
    [item] = changed.menus[0].items
    assert [(c.prop, c.new) for c in item.changes] == [("pcq-classifier", "dst-address")]
