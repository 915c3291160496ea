"""Credentials written inside script text, SNMP communities and container environment
values are kept out of stored versions and diffs, and put back byte for byte."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.conftest import CORPUS, corpus_exports
from typer.testing import CliRunner

from tikguard.cli import app
from tikguard.routeros.diff import diff
from tikguard.routeros.model import Command, Config, Menu, Prop
from tikguard.routeros.parse import parse
from tikguard.routeros.schema import lookup
from tikguard.routeros.secrets import (
    PREFIX,
    MissingSecretError,
    hide_script_secrets,
    merge_secrets,
    redact_script,
    restore_script,
    script_secrets,
    split_secrets,
)
from tikguard.routeros.serialise import serialise

KEY = b"tenant-key-0123456789abcdef01234"
NETWATCH = "ros6.27_rb-wireless_pppoe-client-scripts_cp1251.rsc"


def load(name: str) -> Config:
    path = CORPUS / "exports" / name
    if not path.is_file():
        pytest.skip(f"corpus export {path} not found (set TIKGUARD_CORPUS)")
    return parse(path.read_bytes().decode("utf-8", "surrogateescape"), path.name)


def found(text: str) -> list[str]:
    return [text[a:b] for a, b in script_secrets(text)]


@pytest.mark.parametrize(
    ("text", "secrets"),
    [
        ("/tool e-mail send user=a password=89242729134St to=b", ["89242729134St"]),
        (
            ':local MailPass "Slonopotam@!2017"\n/tool e-mail send password=$MailPass',
            ["Slonopotam@!2017"],
        ),
        (
            ':global TelegramToken "123456789:XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"',
            ["123456789:XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"],
        ),
        (
            '/tool fetch url="https://api.telegram.org/bot123456789:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA/sendMessage?chat_id=1"',
            ["123456789:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"],
        ),
        ('/tool fetch url="https://h/api?token=abc&x=1"', ["abc"]),
        ('/tool fetch url="ftp://backup:hunter2@192.0.2.1/f.rsc"', ["hunter2"]),
        ('/certificate export-certificate c export-passphrase="1234567890"', ["1234567890"]),
        (':local cmd "/user set admin password=\\"s3cret\\""', ["s3cret"]),
        ("/interface wireguard peers add public-key=PUB preshared-key=PSK", ["PSK"]),
        ('/ppp secret add name=x password="two words"', ["two words"]),
        # Variables and expressions name a secret; they are not one.
        ("/tool fetch user=git password=$FTPPass", []),
        (":local thePass ([/certificate get 0 name])\n:set testPassed false", []),
        (':local tToken "$[$SECRET get TELEGRAM_TOKEN]"\n:global SECRET do={ :return 1 }', []),
        ('/tool e-mail send password=""', []),
        (":local KEYSIZE 2048\n:local keyFileName x.pub", []),
    ],
)
def test_what_counts_as_a_credential_in_a_script(text: str, secrets: list[str]) -> None:
    assert found(text) == secrets


def test_the_netwatch_down_script_password_stays_out_of_versions_and_diffs() -> None:
    """The reported leak: a live password in a ``/tool netwatch`` down-script."""
    config = load(NETWATCH)
    redacted, secrets = split_secrets(config, key=KEY)
    text = serialise(redacted)
    assert "89242729134St" not in text and "89242729134St" in secrets.values()
    assert merge_secrets(redacted, secrets).menus == config.menus
    # The push preview diffs configs with their secrets: the diff hides them too.
    netwatch = [m for m in config.menus if m.path == "/tool netwatch"]
    edited = Config(
        [m for m in config.menus if m.path != "/tool netwatch"]
        + [
            Menu(
                "/tool netwatch",
                [
                    Command(
                        "add",
                        tuple(
                            Prop(p.key, (p.value or "").replace("is down", "is DOWN"))
                            for p in netwatch[0].commands[0].props
                        ),
                    )
                ],
            )
        ],
        config.meta,
    )
    change = diff(config, edited)
    assert "down-script" in change.to_text()
    assert "89242729134St" not in change.to_text()
    assert "89242729134St" not in json.dumps(change.to_json())


def test_config_diff_cli_does_not_print_script_passwords(tmp_path: Path) -> None:
    load(NETWATCH)  # skips without the corpus
    original = (CORPUS / "exports" / NETWATCH).read_bytes()
    edited = original.replace(b"KERIO is down", b"KERIO is DOWN")
    assert edited != original
    a, b = tmp_path / "a.rsc", tmp_path / "b.rsc"
    a.write_bytes(original)
    b.write_bytes(edited)
    result = CliRunner().invoke(app, ["config", "diff", str(a), str(b)])
    assert result.exit_code == 0, result.output
    assert "down-script" in result.output
    assert "89242729134St" not in result.output


@pytest.mark.parametrize(
    "name",
    [
        "ros6.49.6_wap-ac_terse_crlf_scripts.rsc",
        "ros7.21_rb5009_terse_crlf_capsman-scripts-ospf.rsc",
    ],
)
def test_the_mikrobackups_telegram_token_and_passwords(name: str) -> None:
    config = load(name)
    for key in (KEY, None):
        redacted, secrets = split_secrets(config, key=key)
        text = serialise(redacted)
        assert "123456789:XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX" not in text
        assert "123456789:XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX" in secrets.values()
        assert merge_secrets(redacted, secrets).menus == config.menus
        assert parse(text).menus == redacted.menus


def test_every_corpus_export_splits_and_merges_exactly() -> None:
    exports = corpus_exports()
    if not exports:
        pytest.skip("RouterOS corpus not found (set TIKGUARD_CORPUS)")
    in_scripts = 0
    for path in exports:
        config = parse(path.read_bytes().decode("utf-8", "surrogateescape"), path.name)
        for key in (KEY, None):
            redacted, secrets = split_secrets(config, key=key)
            assert merge_secrets(redacted, secrets).menus == config.menus, path.name
            assert parse(serialise(redacted)).menus == redacted.menus, path.name
        for menu in config.menus:
            scripts = lookup(menu.path).scripts
            for command in menu.commands:
                in_scripts += sum(
                    len(script_secrets(p.value or "")) for p in command.props if p.key in scripts
                )
    assert in_scripts >= 30


def test_equal_secrets_look_equal_across_scripts_and_properties() -> None:
    config = parse(
        "/ppp secret\nadd name=a password=hunter2\n/system script\n"
        'add name=s source="/tool fetch user=a password=hunter2"\n'
    )
    redacted, secrets = split_secrets(config, key=KEY)
    password = redacted.menus[0].commands[0].get("password") or ""
    source = redacted.menus[1].commands[0].get("source") or ""
    assert password.startswith(PREFIX) and source == f"/tool fetch user=a password={password}"
    assert secrets == {password: "hunter2"}


def test_text_that_already_holds_a_placeholder_is_redacted_whole() -> None:
    text = f":local p {PREFIX}0123456789abcdef01234567\n/tool fetch password=x"
    redacted, secrets = redact_script(text, key=KEY, where="/system script[0].source")
    assert redacted.startswith(PREFIX) and secrets == {redacted: text}
    assert restore_script(redacted, secrets, "here") == text


def test_a_missing_inline_secret_is_named() -> None:
    redacted, _ = redact_script(
        "/tool fetch password=x", key=None, where="/system script[4].source"
    )
    assert redacted == f"/tool fetch password={PREFIX}/system/script[4].source#1"
    with pytest.raises(MissingSecretError, match=r"/system script\[4\]\.source"):
        restore_script(redacted, {}, "/system script[4].source")


def test_diffs_hide_literal_credentials_but_show_placeholders() -> None:
    text = "/tool fetch password=hunter2 user=x"
    assert hide_script_secrets(text, "(hidden)") == "/tool fetch password=(hidden) user=x"
    redacted, _ = redact_script(text, key=KEY, where="w")
    assert hide_script_secrets(redacted, "(hidden)") == redacted


def test_snmp_communities_and_container_env_values_are_redacted() -> None:
    config = parse(
        "/snmp\nset enabled=yes trap-community=traps\n/snmp community\n"
        "set [ find default=yes ] name=n0tpublic\nadd addresses=192.0.2.0/24 name=monitor\n"
        "/container envs\nadd key=DB_PASSWORD list=app value=pg-secret\n"
    )
    redacted, secrets = split_secrets(config, key=KEY)
    text = serialise(redacted)
    for secret in ("traps", "n0tpublic", "monitor", "pg-secret"):
        assert secret not in text and secret in secrets.values()
    assert "DB_PASSWORD" in text
    assert merge_secrets(redacted, secrets).menus == config.menus
    # A renamed community pairs with its old self in a diff of redacted versions.
    renamed = parse(serialise(config).replace("name=monitor", "name=monitor2"))
    change = diff(redacted, split_secrets(renamed, key=KEY)[0])
    [menu] = [m for m in change.menus if m.path == "/snmp community"]
    assert [i.op for i in menu.items] == ["changed"] and menu.items[0].renamed_from
    assert "monitor" not in change.to_text()


_NAMES = st.sampled_from(["password", "secret", "passphrase", "wpa2-pre-shared-key", "token"])
_VALUE = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters='"\\$[(\n\r'),
    min_size=1,
    max_size=12,
).filter(lambda v: v.strip() == v and " " not in v and ";" not in v)
_NOISE = st.text(max_size=30)


@settings(max_examples=200, deadline=None)
@given(
    parts=st.lists(st.tuples(_NOISE, _NAMES, _VALUE, st.booleans()), min_size=1, max_size=4),
    tail=_NOISE,
    keyed=st.booleans(),
)
def test_any_script_round_trips_exactly(
    parts: list[tuple[str, str, str, bool]], tail: str, keyed: bool
) -> None:
    """Arbitrary text around credentials: split then merge gives the text back, byte for
    byte, and a literal credential never survives the split."""
    text = "".join(
        f"{noise} {name}={value!s}" if not quoted else f'{noise} {name}="{value}"'
        for noise, name, value, quoted in parts
    )
    text += tail
    config = Config(
        [Menu("/system script", [Command("add", (Prop("name", "s"), Prop("source", text)))])]
    )
    redacted, secrets = split_secrets(config, key=KEY if keyed else None)
    assert merge_secrets(redacted, secrets).menus == config.menus
    assert parse(serialise(redacted)).menus == redacted.menus
    source = redacted.menus[0].commands[0].get("source") or ""
    assert not found(source) or all(v.startswith(PREFIX) for v in found(source))


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=200), keyed=st.booleans())
def test_any_text_round_trips_exactly(text: str, keyed: bool) -> None:
    redacted, secrets = redact_script(
        text, key=KEY if keyed else None, where="/tool netwatch[0].up-script"
    )
    assert restore_script(redacted, secrets, "here") == text
