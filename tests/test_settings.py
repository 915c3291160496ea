from pathlib import Path

import pytest

from tikguard.settings import Settings


def test_settings_read_environment_with_types(tmp_path: Path) -> None:
    env = {
        "TIKGUARD_DATA_DIR": str(tmp_path),
        "TIKGUARD_TIME_SCALE": "20",
        "TIKGUARD_BACKUP_CONCURRENCY": "7",
    }
    s = Settings.from_env(env)
    assert s.data_dir == tmp_path
    assert s.time_scale == 20.0
    assert s.backup_concurrency == 7
    assert s.seconds(120) == 6.0
    assert s.app_database_url() == f"sqlite:///{tmp_path / 'tikguard.sqlite'}"


@pytest.mark.parametrize("bad", ["0", "-1", "fast"])
def test_bad_time_scale_is_a_clear_error(bad: str) -> None:
    with pytest.raises(ValueError, match="TIME_SCALE"):
        Settings.from_env({"TIKGUARD_TIME_SCALE": bad})


def test_database_urls_are_hidden_from_repr() -> None:
    s = Settings(database_url="postgresql+psycopg://tikguard:hunter2@db/tikguard")
    assert "hunter2" not in repr(s)


def test_numbers_and_words_are_read_as_their_field_type() -> None:
    s = Settings.from_env({"TIKGUARD_BIND_PORT": "9000", "TIKGUARD_GIT_MIRROR": "off"})
    assert s.bind_port == 9000
    assert s.git_mirror == "off"
    with pytest.raises(ValueError, match="TIKGUARD_BIND_PORT"):
        Settings.from_env({"TIKGUARD_BIND_PORT": "eighty"})


def test_outbound_networks_are_checked_when_read() -> None:
    s = Settings.from_env({"TIKGUARD_OUTBOUND_ALLOW": "127.0.0.1/32, 10.20.0.0/16"})
    assert [str(n) for n in s.outbound_networks()] == ["127.0.0.1/32", "10.20.0.0/16"]
    with pytest.raises(ValueError, match="TIKGUARD_OUTBOUND_ALLOW"):
        Settings.from_env({"TIKGUARD_OUTBOUND_ALLOW": "10.0.0.0/33"})
