"""Backups against simulated routers over real SSH, stored in a real database.

Change-only history, secrets that come back exactly, and a fleet where dead, slow,
misconfigured and re-keyed routers each get their own outcome while the rest complete.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from tests.conftest import SIM_TIME_SCALE
from tests.pgtemp import fresh_database

from tikguard.ops import backup as backup_ops
from tikguard.ops import devices as device_ops
from tikguard.ops import history
from tikguard.ops.backup import BackupStatus
from tikguard.ops.backup.snapshot import ExportUnreadable, prepare
from tikguard.settings import Settings
from tikguard.sim.fleet import SimDevice, SimFleet
from tikguard.store import devices as store_devices
from tikguard.store import versions as store_versions
from tikguard.store.db import Database

PG_ENV = "TIKGUARD_TEST_POSTGRES_URL"
FleetFactory = Callable[..., Awaitable[SimFleet]]


def _settings(tmp_path: Path, **kw: object) -> Settings:
    base = Settings(
        data_dir=tmp_path,
        time_scale=SIM_TIME_SCALE,
        connect_timeout=100.0,
        command_timeout=100.0,
        backup_timeout=150.0,
    )
    return base.with_(**kw)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A migrated database: SQLite in tmp_path, or a private PostgreSQL database."""
    if request.param == "sqlite":
        database = Database.open(_settings(tmp_path))
        yield database
        backup_ops.wait_for_mirror(60)
        database.dispose()
        return
    url = os.environ.get(PG_ENV, "")
    if not url:
        pytest.skip(f"PostgreSQL not configured: set {PG_ENV}")
    with fresh_database("tg_backup", url) as own:
        database = Database.open(_settings(tmp_path, database_url=own))
        try:
            yield database
        finally:
            backup_ops.wait_for_mirror(60)
            database.dispose()


@pytest.fixture
def tenant_id(db: Database) -> int:
    return device_ops.default_tenant_id(db)


def add_fleet(db: Database, tenant_id: int, fleet: SimFleet) -> None:
    rows = device_ops.parse_inventory(fleet.inventory_csv())
    device_ops.import_rows(db, tenant_id, rows, actor="test")


async def test_unchanged_twice_is_one_version_and_a_change_is_two(
    db: Database, tenant_id: int, sim_fleet_factory: FleetFactory, tmp_path: Path
) -> None:
    fleet = await sim_fleet_factory(1)
    add_fleet(db, tenant_id, fleet)
    settings = _settings(tmp_path)
    name = fleet[0].name

    (first,) = await backup_ops.backup(db, settings, tenant_id, names=[name])
    assert first.status is BackupStatus.CHANGED and first.version == 1, first
    (second,) = await backup_ops.backup(db, settings, tenant_id, names=[name])
    assert second.status is BackupStatus.UNCHANGED and second.version == 1, second

    versions = history.list_history(db, tenant_id, name)
    assert len(versions) == 1
    assert versions[0].last_checked_at >= versions[0].created_at

    await fleet[0].router.execute("/system identity set name=edge-gw-1", user="admin")
    (third,) = await backup_ops.backup(db, settings, tenant_id, names=[name])
    assert third.status is BackupStatus.CHANGED and third.version == 2, third

    versions = history.list_history(db, tenant_id, name)
    assert [v.seq for v in versions] == [2, 1]
    assert versions[0].lines_added >= 1

    d = await history.diff_versions(db, settings, tenant_id, name, "1", "2")
    assert "+set name=edge-gw-1" in d.unified
    assert d.semantic is not None and not d.semantic.empty

    # Drift: the live router against the newest version, then against the first.
    same = await history.diff_versions(db, settings, tenant_id, name, "-1", "live")
    assert same.empty
    drift = await history.diff_versions(db, settings, tenant_id, name, "1", "live")
    assert "edge-gw-1" in drift.unified

    view = device_ops.get(db, tenant_id, device_ops.id_of(db, tenant_id, name))
    assert view.last_backup_status == "changed"
    assert view.ros_version == "7.16"
    assert view.host_key_fingerprint == fleet[0].host_key_fingerprint


async def test_secrets_come_back_exactly_and_never_in_the_text(
    db: Database, tenant_id: int, sim_fleet_factory: FleetFactory, tmp_path: Path
) -> None:
    fleet = await sim_fleet_factory(1)
    dev = fleet[0]
    secret = 'p"w$1 \\ zürich'
    await dev.router.execute(
        '/ppp secret add name=alice password="p\\"w\\$1 \\\\ z\\C3\\BCrich"', user="admin"
    )
    add_fleet(db, tenant_id, fleet)
    settings = _settings(tmp_path)
    (result,) = await backup_ops.backup(db, settings, tenant_id, names=[dev.name])
    assert result.status is BackupStatus.CHANGED, result

    shown = history.show_version(db, tenant_id, dev.name)
    assert "alice" in shown.text
    assert "zürich" not in shown.text and "z\\C3\\BCrich" not in shown.text

    with db.session() as session:
        version = store_versions.get_version(session, tenant_id, result.version_id or 0)
        secrets = store_versions.get_secrets(session, tenant_id, version)
    assert list(secrets.values()) == [secret]

    full = history.show_version(db, tenant_id, dev.name, with_secrets=True)
    live = await dev.router.execute("/export show-sensitive", user="admin")
    assert 'password="p\\"w\\$1 \\\\ z\\C3\\BCrich"' in full.text
    assert 'password="p\\"w\\$1 \\\\ z\\C3\\BCrich"' in live

    # Only the secret changes: a new version, flagged as such, same redacted text.
    await dev.router.execute("/ppp secret set [ find name=alice ] password=other", user="admin")
    (again,) = await backup_ops.backup(db, settings, tenant_id, names=[dev.name])
    assert again.status is BackupStatus.CHANGED and again.version == 2, again


async def test_fleet_reports_every_outcome_and_completes_the_rest(
    db: Database, tenant_id: int, sim_fleet_factory: FleetFactory, tmp_path: Path
) -> None:
    fleet = await sim_fleet_factory(7)
    add_fleet(db, tenant_id, fleet)
    settings = _settings(tmp_path, backup_concurrency=3)

    first = await backup_ops.backup(db, settings, tenant_id)
    assert {r.status for r in first} == {BackupStatus.CHANGED}, first

    ok: list[SimDevice] = [fleet[0], fleet[1], fleet[2]]
    down, wrong, rekeyed, slow = fleet[3], fleet[4], fleet[5], fleet[6]
    await down.power_loss()
    with db.transaction() as session:
        device = store_devices.get_device_by_name(session, tenant_id, wrong.name)
        store_devices.set_password(session, tenant_id, device.id, "wrong-password")
    rekeyed.change_host_key()
    # The slow router lets the login in, then goes silent on its first command.
    slow.inject("power-loss-after-commands", count=1)

    seen: list[str] = []
    results = await backup_ops.backup(
        db, settings, tenant_id, on_result=lambda r: seen.append(r.device)
    )
    by_name = {r.device: r for r in results}
    assert sorted(seen) == sorted(by_name)
    for dev in ok:
        assert by_name[dev.name].status is BackupStatus.UNCHANGED, by_name[dev.name]
    assert by_name[down.name].reason == "unreachable"
    assert by_name[wrong.name].reason == "auth-failed"
    assert by_name[rekeyed.name].reason == "host-key-changed"
    assert by_name[slow.name].reason == "timeout"
    for dev in (down, wrong, rekeyed, slow):
        result = by_name[dev.name]
        assert result.status is BackupStatus.FAILED and result.hint, result
        assert "wrong-password" not in (result.message or "")

    # The rows say so, the changed key waits for an operator, nothing was lost.
    rekeyed_view = device_ops.get(db, tenant_id, device_ops.id_of(db, tenant_id, rekeyed.name))
    assert rekeyed_view.last_backup_status == "failed"
    assert rekeyed_view.pending_host_key_fingerprint == rekeyed.host_key_fingerprint
    for dev in fleet:
        assert len(history.list_history(db, tenant_id, dev.name)) == 1

    rekeyed_id = device_ops.id_of(db, tenant_id, rekeyed.name)
    offer = await device_ops.host_key_offer(db, settings, tenant_id, rekeyed_id)
    assert offer.recorded and offer.new_fingerprint == rekeyed.host_key_fingerprint
    await device_ops.accept_host_key(
        db, settings, tenant_id, rekeyed_id, offer.new_fingerprint, actor="test"
    )
    (after,) = await backup_ops.backup(db, settings, tenant_id, names=[rekeyed.name])
    assert after.status is BackupStatus.UNCHANGED, after


async def test_binary_backup_is_kept_encrypted_and_removed_from_the_router(
    db: Database, tenant_id: int, sim_fleet_factory: FleetFactory, tmp_path: Path
) -> None:
    fleet = await sim_fleet_factory(1)
    dev = fleet[0]
    add_fleet(db, tenant_id, fleet)
    settings = _settings(tmp_path)
    (result,) = await backup_ops.backup(db, settings, tenant_id, binary=True)
    assert result.status is BackupStatus.CHANGED, result
    with db.session() as session:
        version = store_versions.get_version(session, tenant_id, result.version_id or 0)
        data = store_versions.get_binary_backup(session, tenant_id, version)
    assert data and len(data) == version.binary_backup_size
    files = await dev.router.execute("/file print", user="admin")
    assert "tikguard-" not in files


def test_malformed_exports_are_refused() -> None:
    good = "# 2024-02-09 08:47:35 by RouterOS 7.16\n/system identity\nset name=gw\n"
    redacted, secrets, version, _ = prepare(good)
    assert version == "7.16" and "set name=gw" in redacted and secrets == {}
    for bad in ("", "\r\n", "/system identity\nset name=gw\n", good + 'add name="unterminated\n'):
        with pytest.raises(ExportUnreadable):
            prepare(bad)


async def test_unknown_names_fail_before_anything_starts(
    db: Database, tenant_id: int, tmp_path: Path
) -> None:
    from tikguard.store.errors import NotFound

    with pytest.raises(NotFound, match="nope"):
        await backup_ops.backup(db, _settings(tmp_path), tenant_id, names=["nope"])


async def test_git_mirror_shows_the_line_diff_and_no_secret(
    db: Database, tenant_id: int, sim_fleet_factory: FleetFactory, tmp_path: Path
) -> None:
    from tikguard.store.mirror import repo_path

    fleet = await sim_fleet_factory(1)
    dev = fleet[0]
    await dev.router.execute("/ppp secret add name=bob password=Tr0ub4dor-3", user="admin")
    add_fleet(db, tenant_id, fleet)
    settings = _settings(tmp_path)
    await backup_ops.backup(db, settings, tenant_id)
    await dev.router.execute("/system identity set name=mirror-check", user="admin")
    (result,) = await backup_ops.backup(db, settings, tenant_id)
    assert result.status is BackupStatus.CHANGED, result
    # The mirror follows in the background, after the results are recorded.
    assert await asyncio.to_thread(backup_ops.wait_for_mirror, 60)

    repo = repo_path(settings.data_dir, "default")
    git = await asyncio.create_subprocess_exec(
        "git", "--git-dir", str(repo), "log", "-p", "--format=%s", stdout=asyncio.subprocess.PIPE
    )
    out, _ = await git.communicate()
    log = out.decode()
    assert f"manual: {dev.name} ({dev.host}) RouterOS 7.16" in log
    assert "+set name=mirror-check" in log
    assert "Tr0ub4dor-3" not in log
    assert "name=bob" in log


@pytest.mark.parametrize(
    ("actual", "recorded"), [("6.49", None), ("6.49", "7.16"), ("7.16", "6.49")]
)
async def test_export_form_follows_the_router_version(
    db: Database,
    tenant_id: int,
    sim_fleet_factory: FleetFactory,
    tmp_path: Path,
    actual: str,
    recorded: str | None,
) -> None:
    """6.x exports secrets with plain /export, 7.x needs show-sensitive; a router
    upgraded or downgraded since its last backup is exported the right way."""
    fleet = await sim_fleet_factory(1, version=actual)
    dev = fleet[0]
    await dev.router.execute("/ppp secret add name=carol password=Sesame-42", user="admin")
    add_fleet(db, tenant_id, fleet)
    with db.transaction() as session:
        store_devices.get_device_by_name(session, tenant_id, dev.name).ros_version = recorded
    (result,) = await backup_ops.backup(db, _settings(tmp_path), tenant_id)
    assert result.status is BackupStatus.CHANGED, result
    with db.session() as session:
        version = store_versions.get_version(session, tenant_id, result.version_id or 0)
        assert version.ros_version == actual
        assert store_versions.get_secrets(session, tenant_id, version) != {}
    assert (
        device_ops.get(db, tenant_id, device_ops.id_of(db, tenant_id, dev.name)).ros_version
        == actual
    )
    assert "Sesame-42" in history.show_version(db, tenant_id, dev.name, with_secrets=True).text


async def test_connection_lost_mid_export_is_reported_and_stores_nothing(
    db: Database, tenant_id: int, sim_fleet_factory: FleetFactory, tmp_path: Path
) -> None:
    fleet = await sim_fleet_factory(2)
    add_fleet(db, tenant_id, fleet)
    settings = _settings(tmp_path)
    await backup_ops.backup(db, settings, tenant_id)
    await fleet[0].router.execute("/system identity set name=half-way", user="admin")
    # Seed 15 at probability 0.5: the connection is let in, then reset before the
    # export's output is written (RandomDisconnects rolls at both moments).
    fleet[0].inject("random-disconnects", probability=0.5, seed=15)
    lost, other = await backup_ops.backup(db, settings, tenant_id)
    assert lost.status is BackupStatus.FAILED and lost.reason == "connection-lost", lost
    assert other.status is BackupStatus.UNCHANGED, other
    assert len(history.list_history(db, tenant_id, fleet[0].name)) == 1
    fleet[0].inject("clear")
    (again,) = await backup_ops.backup(db, settings, tenant_id, names=[fleet[0].name])
    assert again.status is BackupStatus.CHANGED and again.version == 2, again
