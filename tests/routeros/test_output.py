"""Console output reading: error lines, ``name: value`` prints, ``print detail`` items,
and RouterOS value formats, on transcripts of real routers."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from tests.conftest import corpus_dir

from tikguard.routeros.output import clean_output, find_error, parse_detail, parse_properties
from tikguard.routeros.values import (
    parse_clock,
    parse_duration,
    parse_policies,
    parse_size,
    version_tuple,
)


@pytest.mark.parametrize(
    "text",
    [
        "failure: already have such entry",
        "syntax error (line 1 column 7)",
        "expected end of command (line 1 column 12)",
        "bad command name foo (line 1 column 1)",
        "no such item",
        "input does not match any value of interface",
        "invalid value for argument address",
        "ambiguous value of interface, more than one possible value matches input",
        "missing value(s) of argument(s) name",
        "not enough permissions (9)",
    ],
)
def test_error_lines_are_found(text: str) -> None:
    assert find_error(clean_output(f"\x1b[m{text}\r\n".encode())) == text


def test_config_text_is_not_an_error() -> None:
    export = (
        "/ip firewall filter\n"
        'add action=drop chain=input comment="failure: logged" \\\n'
        "    in-interface=ether1\n"
    )
    assert find_error(export) is None


def test_resource_print_from_real_routers() -> None:
    folder = corpus_dir("transcripts/ntc-templates/system_resource_print")
    for path in sorted(folder.glob("*.raw")):
        props = parse_properties(path.read_text())
        assert props["version"].split()[0][0] in "67"
        assert parse_size(props["free-hdd-space"]) > 0
        assert parse_duration(props["uptime"]) > 0


def test_resource_print_quoted_5x() -> None:
    path = corpus_dir("transcripts/ansible-community-routeros") / "system_resource_print.txt"
    props = parse_properties(path.read_text())
    assert props["version"] == "5.0rc1"
    assert props["board-name"] == "RB1100"
    assert parse_size(props["free-hdd-space"]) == 466328 * 1024


def test_clock_print_6x() -> None:
    folder = corpus_dir("transcripts/ntc-templates/system_clock_print")
    props = parse_properties(next(folder.glob("*.raw")).read_text())
    assert parse_clock(props["date"], props["time"]) == datetime(2023, 7, 21, 10, 0, 47)


def test_print_detail_items_flags_and_comments() -> None:
    folder = corpus_dir("transcripts/ntc-templates/interface_vlan_print_detail")
    path = folder / "mikrotik_routeros_interface_vlan_print_detail.raw"
    items = parse_detail(path.read_text())
    assert items[0].number == 0
    assert items[0].flags == "R"
    assert items[0].comment == "MGMT"
    assert items[0].props["name"] == "vlan1@bond1"
    assert items[0].props["vlan-id"] == "1"
    assert [i.number for i in items] == list(range(len(items)))


def test_group_policies() -> None:
    text = ' 0    name="full" policy=local,telnet,ssh,ftp,!dude,read,write skin=default\n'
    (item,) = parse_detail(text)
    assert parse_policies(item.props["policy"]) == {
        "local",
        "telnet",
        "ssh",
        "ftp",
        "read",
        "write",
    }


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("6w5d11h55m45s", 6 * 604800 + 5 * 86400 + 11 * 3600 + 55 * 60 + 45),
        ("32m36s", 1956),
        ("00:01:30", 90),
        ("1d02:03:04", 93784),
        ("500ms", 0.5),
    ],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


def test_bad_values_are_refused() -> None:
    for bad in ("", "5x", "h3"):
        with pytest.raises(ValueError):
            parse_duration(bad)
    with pytest.raises(ValueError):
        parse_size("lots")


def test_dates_and_versions() -> None:
    assert parse_clock("2024-02-09", "08:47:35").date() == date(2024, 2, 9)
    assert version_tuple("7.16.1 (stable)") == (7, 16, 1)
    assert version_tuple("7.17rc2") == (7, 17)
