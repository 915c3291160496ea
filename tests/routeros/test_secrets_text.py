"""Redaction of free text (import echoes, device errors, log lines, preview items) and
of ``:local pw "..."``-style variables in scripts."""

from __future__ import annotations

import logging

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tikguard.logs import get_logger
from tikguard.routeros.secrets import HIDDEN, redact_data, redact_script, redact_text

#: Secret values: printable, no quote, backslash, bracket, ``&`` (ends a URL argument)
#: or whitespace (a bare RouterOS word).
SECRETS = st.text(
    st.characters(min_codepoint=33, max_codepoint=126, blacklist_characters='"\\;]})[{($&'),
    min_size=4,
    max_size=40,
)

LINES = [
    "/ppp secret\nadd name=u1 password={s} service=pppoe\n",
    "#line 3: /interface wireless security-profiles add name=p wpa2-pre-shared-key={s}\n",
    '/interface wifi security add name=s passphrase="{s}"\n',
    "/snmp community\nadd name={s} addresses=10.0.0.0/8\n",
    "/snmp community set [ find name={s} ] addresses=10.1.0.0/16\n",
    '/container envs add key=DB value="{s}" list=app\n',
    ':local pw "{s}"\n',
    ':global AdminPW "{s}"\n',
    '/system script add name=x source=":local pw \\"{s}\\"; :log info \\$pw"\n',
    "failure: line 2: bad value for ipsec-secret={s}\n",
]


@given(secret=SECRETS, template=st.sampled_from(LINES))
def test_no_secret_survives(secret: str, template: str) -> None:
    text = template.format(s=secret)
    out = redact_text(text)
    assert secret not in out
    assert HIDDEN in out


@pytest.mark.parametrize(
    "text",
    [
        "/ip address add address=192.0.2.1/24 interface=ether1\n",
        "Script file loaded and executed successfully\n",
        ":local pw $x\n:local key [/system identity get name]\n",
        "/snmp community add name=tikguard-secret:0123456789abcdef01234567\n",
        "",
    ],
)
def test_text_without_secrets_is_unchanged(text: str) -> None:
    assert redact_text(text) == text


def test_data_is_redacted_recursively() -> None:
    data = {"output": "add password=hunter22", "n": 3, "lines": ["secret=abc123", None]}
    assert redact_data(data) == {
        "output": f"add password={HIDDEN}",
        "n": 3,
        "lines": [f"secret={HIDDEN}", None],
    }


def test_short_variable_names_of_passwords_are_redacted_in_stored_scripts() -> None:
    text = ':local pw "Sup3r-s3cret"\n/tool e-mail send password=$pw\n'
    redacted, found = redact_script(text, key=None, where="/system script[0].source")
    assert "Sup3r-s3cret" not in redacted
    assert list(found.values()) == ["Sup3r-s3cret"]


def test_log_records_are_redacted(caplog: pytest.LogCaptureFixture) -> None:
    log = get_logger("tikguard.test")
    with caplog.at_level(logging.INFO, logger="tikguard.test"):
        log.info("import failed at %s", "add password=hunter22")
        try:
            raise RuntimeError("router said: bad wpa2-pre-shared-key=letmein99")
        except RuntimeError:
            log.exception("device error")
    assert "hunter22" not in caplog.text and "letmein99" not in caplog.text
    assert caplog.text.count(HIDDEN) >= 2
