"""Secrets split/merge when a menu path occurs in several blocks of one export.

RouterOS prints ``/interface wireless`` (and others) more than once when items depend
on each other, so a placeholder that names a secret's place must count across blocks.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tikguard.routeros.model import Command, Config, Menu, Prop
from tikguard.routeros.parse import parse
from tikguard.routeros.secrets import merge_secrets, split_secrets

TWO_BLOCKS = """/interface wireless security-profiles
add name=a wpa2-pre-shared-key=one
/interface wireless
set [ find default-name=wlan1 ] ssid=x
/interface wireless security-profiles
add name=b wpa2-pre-shared-key=two
"""


def test_secrets_in_repeated_blocks_stay_apart_without_a_key() -> None:
    config = parse(TWO_BLOCKS)
    redacted, secrets = split_secrets(config)
    assert sorted(secrets.values()) == ["one", "two"]
    assert merge_secrets(redacted, secrets).menus == config.menus


def test_secrets_in_repeated_blocks_with_a_key() -> None:
    config = parse(TWO_BLOCKS)
    redacted, secrets = split_secrets(config, key=b"k" * 32)
    assert sorted(secrets.values()) == ["one", "two"]
    assert merge_secrets(redacted, secrets).menus == config.menus


_PATH = st.sampled_from(["/ppp secret", "/interface wireless security-profiles", "/user"])
_SECRET = st.text(min_size=0, max_size=12)
_BLOCK = st.tuples(_PATH, st.lists(_SECRET, min_size=1, max_size=3))


@given(blocks=st.lists(_BLOCK, min_size=1, max_size=6), keyed=st.booleans())
def test_split_then_merge_is_exact_for_any_block_layout(
    blocks: list[tuple[str, list[str]]], keyed: bool
) -> None:
    menus = [
        Menu(
            path,
            [
                Command("add", (Prop("name", f"n{i}"), Prop("password", secret)))
                for i, secret in enumerate(values)
            ],
        )
        for path, values in blocks
    ]
    config = Config(menus=menus)
    redacted, secrets = split_secrets(config, key=b"tenant-key" if keyed else None)
    for menu in redacted.menus:
        for command in menu.commands:
            value = command.get("password")
            assert value == "" or value not in [v for _, vs in blocks for v in vs if v]
    assert merge_secrets(redacted, secrets).menus == config.menus
