"""Normalisation (headers, transient comments) and parser shapes, with hand-written input."""

from __future__ import annotations

from datetime import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tikguard.routeros.errors import ParseError
from tikguard.routeros.model import Config, ExportMeta, Prop, Selector
from tikguard.routeros.normalise import is_transient, normalise
from tikguard.routeros.parse import parse
from tikguard.routeros.secrets import MissingSecretError, merge_secrets, split_secrets
from tikguard.routeros.serialise import format_export_date, header_lines, serialise

V6 = """# sep/25/2018 10:10:52 by RouterOS 6.42.5
# software id = 9EER-511K
#
# model = RB941-2nD
# serial number = 9D7509D149BD
/system identity
set name=gw
"""
V7 = """# 2024-02-09 08:47:35 by RouterOS 7.13.4
# system id = MLpVYGLZIRP
#
/system identity
set name=gw
"""


@pytest.mark.parametrize(
    ("text", "version", "when"),
    [(V6, "6.42.5", "sep/25/2018 10:10:52"), (V7, "7.13.4", "2024-02-09 08:47:35")],
)
def test_date_line_is_dropped_and_kept_as_metadata(text: str, version: str, when: str) -> None:
    normalised = normalise(text)
    assert "by RouterOS" not in normalised
    config = parse(text)
    assert (config.meta.ros_version, config.meta.exported_at) == (version, when)
    assert parse(normalised).meta.exported_at is None


def test_header_metadata() -> None:
    meta = parse(V6).meta
    assert (meta.software_id, meta.model, meta.serial_number) == (
        "9EER-511K",
        "RB941-2nD",
        "9D7509D149BD",
    )
    assert parse(V7).meta.system_id == "MLpVYGLZIRP"
    assert "# model = RB941-2nD" in normalise(V6)


@pytest.mark.parametrize(
    "line",
    [
        "# inactive time: 00:01:02",
        "# received packet from 10.0.0.1 bad format",
        "# poe-out status: short_circuit",
        "# ether5 not ready",
        "# Firmware upgraded successfully, please reboot for changes to take effect!",
        "#error exporting /interface/wifi",
    ],
)
def test_transient_comments_are_dropped(line: str) -> None:
    assert is_transient(line)
    text = f"/interface ethernet\n{line}\nset [ find default-name=ether5 ] poe-out=off\n"
    assert line not in normalise(text)
    assert parse(text).menus[0].commands[0].notes == ()


@pytest.mark.parametrize("line", ["# managed by CAPsMAN", "# disabled", "#"])
def test_stable_notes_are_kept(line: str) -> None:
    text = f"/interface wireless\n{line}\nset [ find default-name=wlan1 ] ssid=x\n"
    assert line in normalise(text)
    assert parse(text).menus[0].commands[0].notes == (line[1:],)


def test_transport_noise_is_removed() -> None:
    raw = (
        "[admin@gw] > export compact\r\n"
        "\x1b[m# 2024-02-09 08:47:35 by RouterOS 7.13.4   \r\n"
        "/ip dns\r\nset servers=1.1.1.1  \r\n\r\n[admin@gw] > "
    )
    assert normalise(raw) == "/ip dns\nset servers=1.1.1.1\n"


def test_script_lines_starting_with_hash_are_not_comments() -> None:
    text = '/system script\nadd name=x source="#\\\n    # inactive time\\r\\\n    \\n"\n'
    assert normalise(text) == text
    assert parse(text).menus[0].commands[0].get("source") == "## inactive time\r\n"


@given(st.text(alphabet='ab #/=\\"\r\n\t\x1b[m', max_size=80))
def test_normalise_is_idempotent(text: str) -> None:
    once = normalise(text)
    assert normalise(once) == once


def test_an_escape_code_left_by_removing_another_goes_too() -> None:
    """``ESC ESC = =``: removing ``ESC =`` leaves another ``ESC =``."""
    assert normalise("\x1b\x1b==") == ""
    assert (
        normalise("/ip dns\x1b\x1b[m[0m\nset servers=1.1.1.1\n") == "/ip dns\nset servers=1.1.1.1\n"
    )


def test_shapes() -> None:
    config = parse(
        ":delay 5\n"
        "/interface ethernet\n"
        "set [ find default-name=ether1 ] name=wan\n"
        "set 0 arp=enabled\n"
        "set *FFFFFFFE mtu=1500\n"
        "/routing ospf interface-template add area=a interfaces=lo passive\n"
        "/routing bgp connection add local.address=10.0.0.1 .role=ibgp remote.as=65000\n"
    )
    assert [m.path for m in config.menus] == [
        "",
        "/interface ethernet",
        "/routing ospf interface-template",
        "/routing bgp connection",
    ]
    assert config.menus[0].commands[0].args == ("5",)
    first, second, third = config.menus[1].commands
    assert first.selector == Selector(find=(Prop("default-name", "ether1"),))
    assert second.selector == Selector(ref="0")
    assert third.selector == Selector(ref="*FFFFFFFE")
    assert config.menus[2].commands[0].props[-1] == Prop("passive", "", flag=True)
    keys = [p.key for p in config.menus[3].commands[0].props]
    assert keys == ["local.address", "local.role", "remote.as"]
    assert config.meta.style == "terse"


def test_verbose_unset_marker() -> None:
    config = parse("/interface vlan\nadd !keepalive name=v10 vlan-id=10 interface=ether1\n")
    assert config.menus[0].commands[0].props[0] == Prop("keepalive", None)
    assert config.meta.style == "verbose"


@pytest.mark.parametrize(
    ("text", "line", "column", "message"),
    [
        ("/ip dns\nset servers=\\", 2, 13, "ends inside"),
        ('/ip dns\nset comment="open', 2, 13, "unterminated"),
        ("set name=x\n", 1, 1, "before any menu"),
        ("/ip dns\nset [ find name=x\n", 2, 5, "not closed"),
        ("/ip dns\nset .b=1\n", 2, 5, "dotted"),
        ('/ip address\nadd address=1 \\\n    comment="a\\q"\n', 3, 15, "unknown escape"),
    ],
)
def test_malformed_input_says_where(text: str, line: int, column: int, message: str) -> None:
    with pytest.raises(ParseError) as info:
        parse(text, source="r1.rsc")
    error = info.value
    assert (error.line, error.column) == (line, column)
    assert message in error.message
    assert error.describe().startswith(f"r1.rsc:{line}:{column}: ")


def test_header_lines_for_the_simulator() -> None:
    when = datetime(2024, 2, 9, 8, 47, 35)
    assert format_export_date(when, "7.13.4") == "2024-02-09 08:47:35"
    assert format_export_date(when, "6.49.7") == "feb/09/2024 08:47:35"
    meta = ExportMeta(
        ros_version="7.16",
        exported_at=format_export_date(when, "7.16"),
        software_id="",
        model="CHR",
    )
    assert header_lines(meta) == [
        "# 2024-02-09 08:47:35 by RouterOS 7.16",
        "# software id = ",
        "#",
        "# model = CHR",
    ]
    text = serialise(Config(meta=meta), newline="\r\n")
    assert text.startswith("# 2024-02-09 08:47:35 by RouterOS 7.16\r\n")


def test_wrapping_and_terse_output() -> None:
    config = parse(
        "/ip firewall filter\n"
        'add action=drop chain=input comment="drop everything else not coming from LAN" '
        "in-interface-list=!LAN\n"
    )
    assert serialise(config, include_header=False, width=80) == (
        "/ip firewall filter\n"
        "add action=drop chain=input comment=\\\n"
        '    "drop everything else not coming from LAN" in-interface-list=!LAN\n'
    )
    assert serialise(config, style="terse", include_header=False) == (
        '/ip firewall filter add action=drop chain=input comment="drop everything else '
        'not coming from LAN" in-interface-list=!LAN\n'
    )


def test_secrets_placeholders() -> None:
    config = parse(
        "/ppp secret\nadd name=a password=s3cret\nadd name=b password=s3cret\n"
        'add name=c password=other\nadd name=d password=""\n'
    )
    redacted, secrets = split_secrets(config, key=b"tenant-key")
    values = [c.get("password") for c in redacted.menus[0].commands]
    assert values[0] == values[1] != values[2]
    assert values[3] == ""
    assert "s3cret" not in serialise(redacted)
    assert merge_secrets(redacted, secrets) == config
    keyless, _ = split_secrets(config)
    assert keyless.menus[0].commands[0].get("password") == "tikguard-secret:/ppp secret[0].password"
    with pytest.raises(MissingSecretError, match=r"/ppp secret\[0\]\.password"):
        merge_secrets(redacted, {})
