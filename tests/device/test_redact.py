"""Secrets never reach an error message: sensitive arguments and given values are masked."""

from __future__ import annotations

from tikguard.device.session import redact
from tikguard.routeros.quoting import quote


def test_sensitive_arguments_are_masked() -> None:
    command = (
        '/ppp secret add name=alice password="a b\\"c" '
        "/interface wireless security-profiles set 0 wpa2-pre-shared-key=hunter2"
    )
    shown = redact(command)
    assert "hunter2" not in shown and "a b" not in shown
    assert "name=alice" in shown
    assert shown.count("***") == 2


def test_given_secrets_are_masked_bare_and_quoted() -> None:
    secret = 'p$w "x"'
    command = f"/system script add source={quote(secret)} comment=ok"
    shown = redact(command, [secret, ""])
    assert "p$w" not in shown and "p\\$w" not in shown
    assert "comment=ok" in shown
