"""A CAP's radio status line is device state: two exports that differ only in it are equal."""

from __future__ import annotations

from tikguard.routeros.normalise import is_transient, normalise
from tikguard.routeros.parse import parse

EXPORT = """/interface wireless
# managed by CAPsMAN
# channel: {channel}, SSID: WiFi 5Ghz PRIVATE, CAPsMAN forwarding
set [ find default-name=wlan2 ] ssid=MikroTik
"""


def test_channel_status_line_is_transient() -> None:
    assert is_transient("# channel: 2412/20-Ce/gn(-30dBm), SSID: TFG 2.4GHz, local forwarding")
    assert not is_transient("# channel: notes written by someone")


def test_exports_differing_only_in_the_chosen_channel_normalise_equal() -> None:
    one = EXPORT.format(channel="5220/20-Ce/ac/P(15dBm)")
    two = EXPORT.format(channel="5745/20-Ceee/ac/P(23dBm)")
    assert normalise(one) == normalise(two)
    assert parse(one).menus == parse(two).menus
    assert parse(one).menus[0].commands[0].notes == (" managed by CAPsMAN",)
