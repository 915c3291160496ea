"""``tikguard keys status|rotate`` end to end on the embedded default."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from tikguard.cli import app
from tikguard.settings import Settings
from tikguard.store.db import Database
from tikguard.store.devices import add_device, get_password
from tikguard.store.tenants import ensure_tenant
from tikguard.store.vault import read_key_file


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for var in ("TIKGUARD_MASTER_KEY", "TIKGUARD_MASTER_KEY_FILE", "TIKGUARD_DATABASE_URL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("TIKGUARD_DATA_DIR", str(tmp_path))
    db = Database.open(Settings(data_dir=tmp_path))
    with db.transaction() as s:
        t = ensure_tenant(s)
        add_device(s, t.id, name="r1", host="h", username="u", password="pw-123")
    db.dispose()
    return tmp_path


def _password(data_dir: Path) -> str | None:
    db = Database.open(Settings(data_dir=data_dir))
    try:
        with db.session() as s:
            t = ensure_tenant(s)
            return get_password(s, t.id, 1)
    finally:
        db.dispose()


def test_status_then_rotate_master_then_data_keys(data_dir: Path) -> None:
    runner = CliRunner()
    old_id = read_key_file(data_dir / "master.key").key_id
    out = runner.invoke(app, ["keys", "status", "--check"])
    assert out.exit_code == 0, out.output
    assert old_id in out.output and "1 encrypted values decrypt" in out.output
    key_text = (data_dir / "master.key").read_text().strip()
    assert key_text not in out.output

    out = runner.invoke(app, ["keys", "rotate"])
    assert out.exit_code == 0, out.output
    new_id = read_key_file(data_dir / "master.key").key_id
    assert new_id != old_id and new_id in out.output
    assert _password(data_dir) == "pw-123"

    out = runner.invoke(app, ["keys", "rotate", "--data-keys", "--tenant", "default"])
    assert out.exit_code == 0, out.output
    assert "v2" in out.output
    assert _password(data_dir) == "pw-123"


def test_world_readable_key_is_a_clear_cli_error(data_dir: Path) -> None:
    (data_dir / "master.key").chmod(0o644)
    out = CliRunner().invoke(app, ["keys", "status"])
    assert out.exit_code == 1
    assert "chmod 600" in out.output and "Traceback" not in out.output


def test_tenant_without_data_keys_flag_is_refused(data_dir: Path) -> None:
    out = CliRunner().invoke(app, ["keys", "rotate", "--tenant", "default"])
    assert out.exit_code == 1 and "--data-keys" in out.output


def test_mirror_sync_and_status(data_dir: Path) -> None:
    from tikguard.store.versions import record_backup

    db = Database.open(Settings(data_dir=data_dir))
    with db.transaction() as s:
        t = ensure_tenant(s)
        record_backup(
            s,
            t.id,
            1,
            normalised_redacted_text="/x\n",
            secrets={},
            ros_version="7",
            trigger="manual",
        )
    db.dispose()
    runner = CliRunner()
    out = runner.invoke(app, ["mirror", "status"])
    assert out.exit_code == 0 and "default" in out.output, out.output
    out = runner.invoke(app, ["mirror", "sync"])
    assert out.exit_code == 0, out.output
    assert (data_dir / "git" / "default.git").is_dir()
    out = runner.invoke(app, ["mirror", "sync", "--tenant", "nope"])
    assert out.exit_code == 1 and "does not exist" in out.output


def test_master_rotation_is_refused_while_a_server_runs_on_the_data_directory(
    data_dir: Path,
) -> None:
    from tikguard.ops import runtime

    old_id = read_key_file(data_dir / "master.key").key_id
    runner = CliRunner()
    # a worker's lock, as `tikguard serve` holds it for its whole life
    with runtime.no_worker(Settings(data_dir=data_dir)):
        out = runner.invoke(app, ["keys", "rotate"])
        assert out.exit_code == 1, out.output
        assert "server is running" in out.output and "stop `tikguard serve`" in out.output
        # a data key rotates beside it: the server reads the new key version from the store
        out = runner.invoke(app, ["keys", "rotate", "--data-keys"])
        assert out.exit_code == 0, out.output
    assert read_key_file(data_dir / "master.key").key_id == old_id
    out = runner.invoke(app, ["keys", "rotate"])  # the server stopped: it rotates
    assert out.exit_code == 0, out.output
