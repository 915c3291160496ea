"""``tikguard notify ...`` in-process: add, list, test against a real SMTP server
(STARTTLS + AUTH, password from stdin), attempts, remove; errors are one clear line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.ops.receivers import smtp_receiver
from typer.testing import CliRunner

from tikguard.cli import app


def run(env: dict[str, str], *args: str, stdin: str | None = None) -> Any:
    return CliRunner().invoke(app, list(args), input=stdin, env={"COLUMNS": None, **env})


def test_notify_commands_end_to_end(tmp_path: Path) -> None:
    # the SMTP server is on loopback: a lab allows it, as docs/notifications.md says
    env = {"TIKGUARD_DATA_DIR": str(tmp_path / "data"), "TIKGUARD_OUTBOUND_ALLOW": "127.0.0.1/32"}
    with smtp_receiver() as smtp:
        ca = tmp_path / "ca.pem"
        ca.write_text(smtp.ca_pem)
        out = run(
            env,
            "notify",
            "add",
            "email",
            "noc",
            "--host",
            smtp.host,
            "--port",
            str(smtp.port),
            "--from",
            "tikguard@example.net",
            "--to",
            "noc@example.net",
            "--user",
            smtp.user,
            "--password-stdin",
            "--ca-file",
            str(ca),
            stdin=smtp.password + "\n",
        )
        assert out.exit_code == 0, out.output
        assert "channel noc added: smtp 127.0.0.1" in out.output
        out = run(
            env,
            "notify",
            "add",
            "rule",
            "core-down",
            "--channel",
            "noc",
            "--event",
            "backup-failing",
            "--tag",
            "core",
            "--backup-failures",
            "2",
        )
        assert out.exit_code == 0, out.output
        out = run(env, "notify", "test", "core-down")
        assert out.exit_code == 0, out.output
        assert "delivered to noc: SMTP 250" in out.output
        assert smtp.logins == [smtp.user] and len(smtp.messages) == 1
        assert smtp.password.encode() not in smtp.raw[0]

    listed = json.loads(run(env, "notify", "list", "--json").output)
    assert listed["rules"][0]["tags"] == ["core"] and listed["rules"][0]["backup_failures"] == 2
    assert smtp.password not in json.dumps(listed)
    tried = json.loads(run(env, "notify", "attempts", "--json").output)
    assert [(t["channel"], t["ok"]) for t in tried] == [("noc", True)]
    out = run(env, "notify", "test", "noc")  # the server is gone now: exit 1, the reason
    assert out.exit_code == 1 and "not delivered to noc: SMTP" in out.output
    out = run(env, "notify", "add", "rule", "x", "--channel", "nope")
    assert out.exit_code == 1 and "no notification channel named 'nope'" in out.output
    out = run(env, "notify", "remove", "channel", "noc")
    assert out.exit_code == 0 and "with 1 rule(s)" in out.output
    assert "no notification channel" in run(env, "notify", "list").output


def test_a_forbidden_target_is_one_clear_line(tmp_path: Path) -> None:
    env = {"TIKGUARD_DATA_DIR": str(tmp_path / "data")}
    out = run(env, "notify", "add", "webhook", "meta", "http://169.254.169.254/latest/meta-data")
    assert out.exit_code == 1
    assert "169.254.169.254 is a link-local address" in out.output
    assert "TIKGUARD_OUTBOUND_ALLOW" in out.output and "Traceback" not in out.output
    args = ("inventory", "source", "add", "nb", "--kind", "http", "--url", "http://127.0.0.1/")
    out = run(env, *args)
    assert out.exit_code == 1 and "127.0.0.1 is a loopback address" in out.output
    env["TIKGUARD_OUTBOUND_ALLOW"] = "169.254.169.254/32"
    out = run(env, "notify", "add", "webhook", "meta", "http://169.254.169.254/latest/meta-data")
    assert out.exit_code == 0, out.output
