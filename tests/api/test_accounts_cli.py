"""``tikguard user`` and ``tikguard token``: accounts from the command line, secrets
shown once and never stored in clear; ``tikguard serve``'s first admin."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from tikguard.cli import app
from tikguard.ops import accounts
from tikguard.settings import Settings
from tikguard.store.db import Database


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TIKGUARD_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


def test_user_and_token_commands(env: Path) -> None:
    runner = CliRunner()
    r = runner.invoke(app, ["user", "add", "alice", "--role", "operator", "--generate"])
    assert r.exit_code == 0, r.output
    password = r.output.split("password (shown once):")[1].split()[0]
    r = runner.invoke(app, ["user", "add", "alice", "--generate"])
    assert r.exit_code == 1 and "is not available" in r.output
    r = runner.invoke(app, ["user", "add", "bob", "--role", "root", "--generate"])
    assert r.exit_code == 1 and "unknown role" in r.output
    r = runner.invoke(app, ["token", "create", "ci", "--role", "viewer", "--days", "30"])
    assert r.exit_code == 0, r.output
    token = r.output.strip().splitlines()[-1]
    assert token.startswith(accounts.TOKEN_PREFIX)
    r = runner.invoke(app, ["token", "list"])
    assert "ci" in r.output and token not in r.output

    db = Database.open(Settings(data_dir=env))
    try:
        who = accounts.authenticate(db, "alice", password)
        assert who.role == "operator"
        assert accounts.principal_for_token(db, token).role == "viewer"
        with db.session() as s:
            stored = [t.token_hash for t in accounts.list_tokens(s, who.tenant_id)]
            users = accounts.list_users(s, who.tenant_id)
        assert token not in stored and all(password not in u.password_hash for u in users)
        token_id = accounts.principal_for_token(db, token).token_id
    finally:
        db.dispose()
    r = runner.invoke(app, ["token", "revoke", str(token_id)])
    assert r.exit_code == 0
    db = Database.open(Settings(data_dir=env))
    try:
        with pytest.raises(accounts.AuthError):
            accounts.principal_for_token(db, token)
    finally:
        db.dispose()


def test_first_admin_once_and_no_default_password(env: Path) -> None:
    db = Database.open(Settings(data_dir=env))
    try:
        first = accounts.ensure_first_admin(db)
        assert first is not None and len(first.password) >= 16
        assert accounts.ensure_first_admin(db) is None  # never a second time
        assert accounts.authenticate(db, "admin", first.password).role == "admin"
        for guess in ("admin", "password", ""):
            with pytest.raises(accounts.AuthError):
                accounts.authenticate(db, "admin", guess)
    finally:
        db.dispose()


def test_serve_refuses_half_a_tls_setup(env: Path) -> None:
    r = CliRunner().invoke(app, ["serve", "--tls-cert", "/nonexistent.pem"])
    assert r.exit_code == 1 and "both a certificate and a key" in r.output


def test_tenants_from_the_command_line(env: Path) -> None:
    runner = CliRunner()
    r = runner.invoke(app, ["user", "add", "x", "--tenant", "acme", "--generate"])
    assert r.exit_code == 1 and "tikguard tenant add acme" in r.output
    assert (
        runner.invoke(app, ["tenant", "add", "acme", "--display-name", "ACME ISP"]).exit_code == 0
    )
    assert runner.invoke(app, ["tenant", "add", "acme"]).exit_code == 1
    r = runner.invoke(
        app, ["user", "add", "acme-admin", "--tenant", "acme", "--role", "admin", "--generate"]
    )
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["token", "create", "acme-ci", "--tenant", "acme", "--role", "operator"])
    token = r.output.strip().splitlines()[-1]
    r = runner.invoke(app, ["tenant", "list"])
    assert "acme" in r.output and "ACME ISP" in r.output
    assert "acme-admin" not in runner.invoke(app, ["user", "list"]).output
    assert "acme-admin" in runner.invoke(app, ["user", "list", "--tenant", "acme"]).output
    db = Database.open(Settings(data_dir=env))
    try:
        who = accounts.principal_for_token(db, token)
        assert who.tenant_id == accounts.tenant_id(db, "acme") and who.role == "operator"
    finally:
        db.dispose()


def test_user_passwd_and_remove_end_sessions(env: Path) -> None:
    runner = CliRunner()
    r = runner.invoke(app, ["user", "add", "carol", "--generate"])
    assert r.exit_code == 0, r.output
    db = Database.open(Settings(data_dir=env))
    try:
        who = accounts.authenticate(db, "carol", r.output.split("(shown once):")[1].split()[0])
        assert who.user_id is not None
        session_id = accounts.open_session(db, who.user_id, 3600)
        assert accounts.principal_for_session(db, who.user_id, session_id).actor == "user:carol"
        r = runner.invoke(app, ["user", "passwd", "carol", "--generate"])
        assert r.exit_code == 0 and "sessions ended" in r.output, r.output
        new_password = r.output.split("(shown once):")[1].split()[0]
        with pytest.raises(accounts.AuthError):
            accounts.principal_for_session(db, who.user_id, session_id)
        session_id = accounts.open_session(db, who.user_id, 3600)
        assert accounts.authenticate(db, "carol", new_password).user_id == who.user_id
        r = runner.invoke(app, ["user", "remove", "carol"])
        assert r.exit_code == 0, r.output
        with pytest.raises(accounts.AuthError):
            accounts.principal_for_session(db, who.user_id, session_id)
        r = runner.invoke(app, ["user", "remove", "carol"])
        assert r.exit_code == 1 and "does not exist" in r.output
        assert "tikguard user list" in r.output
    finally:
        db.dispose()
