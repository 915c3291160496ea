"""The git mirror: one commit per version, readable with git, no secrets, self-repairing."""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pygit2
import pytest

from tikguard.store import gitpack
from tikguard.store.db import Database
from tikguard.store.devices import add_device
from tikguard.store.mirror import mirror_status, repo_path, sync_tenant
from tikguard.store.models import Device, Tenant
from tikguard.store.operations import create_operation
from tikguard.store.versions import record_backup

SECRET = "Zebra-Horse-Battery-42"
BASE = "/ip address\nadd address=10.0.0.1/24 interface=ether1\n/user\nset admin password=***\n"
T0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.fixture
def devices(db: Database, tenant: Tenant) -> list[Device]:
    with db.transaction() as s:
        return [
            add_device(s, tenant.id, name=f"r{i}", host=f"10.9.0.{i}", username="admin")
            for i in (1, 2)
        ]


def _backup(db: Database, tenant: Tenant, device: Device, text: str, n: int, **kw: object) -> None:
    with db.transaction() as s:
        record_backup(
            s,
            tenant.id,
            device.id,
            normalised_redacted_text=text,
            secrets=kw.pop("secrets", {"/user admin password": SECRET}),  # type: ignore[arg-type]
            ros_version="7.16.2",
            trigger=kw.pop("trigger", "manual"),  # type: ignore[arg-type]
            operation_id=kw.pop("operation_id", None),  # type: ignore[arg-type]
            now=T0 + timedelta(minutes=n),
        )


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "--git-dir", str(repo), *args], check=True, capture_output=True, text=True
    ).stdout


def _all_bytes(path: Path) -> bytes:
    return b"".join(p.read_bytes() for p in path.rglob("*") if p.is_file())


def test_git_log_shows_the_real_diff_and_no_secret(
    db: Database, tenant: Tenant, devices: list[Device]
) -> None:
    r1, r2 = devices
    _backup(db, tenant, r1, BASE, 0)
    _backup(db, tenant, r2, BASE, 1, trigger="scheduled")
    _backup(db, tenant, r1, BASE.replace("10.0.0.1/24", "10.0.0.2/24"), 2, trigger="pre-push")
    _backup(db, tenant, r1, BASE.replace("10.0.0.1/24", "10.0.0.2/24"), 3)  # unchanged
    _backup(db, tenant, r1, BASE.replace("10.0.0.1/24", "10.0.0.2/24"), 4, secrets={"k": "v2"})
    report = sync_tenant(db, tenant.id)
    assert report.ok and report.committed == 4
    repo = repo_path(db.settings.data_dir, tenant.name)
    log = _git(repo, "log", "-p", "--format=%an|%at|%s", "main")
    subjects = _git(repo, "log", "--format=%s", "main").splitlines()
    assert subjects == [
        "manual: r1 (10.9.0.1) RouterOS 7.16.2",
        "pre-push: r1 (10.9.0.1) RouterOS 7.16.2",
        "scheduled: r2 (10.9.0.2) RouterOS 7.16.2",
        "manual: r1 (10.9.0.1) RouterOS 7.16.2",
    ]
    assert "-add address=10.0.0.1/24 interface=ether1" in log
    assert "+add address=10.0.0.2/24 interface=ether1" in log
    assert f"tikguard|{int((T0 + timedelta(minutes=2)).timestamp())}|pre-push" in log
    assert _git(repo, "show", "main:r2/config.rsc") == BASE
    assert SECRET not in log and SECRET.encode() not in _all_bytes(repo)
    with db.session() as s:
        state = mirror_status(s, tenant.id)
        assert state is not None and state.head_commit == report.head and state.last_error is None


def test_second_run_commits_only_new_versions(
    db: Database, tenant: Tenant, devices: list[Device]
) -> None:
    _backup(db, tenant, devices[0], BASE, 0)
    assert sync_tenant(db, tenant.id).committed == 1
    assert sync_tenant(db, tenant.id).committed == 0
    _backup(db, tenant, devices[0], BASE + "# change\n", 1)
    report = sync_tenant(db, tenant.id)
    assert report.committed == 1 and not report.repaired


def test_a_version_of_an_operation_names_it_and_its_requester(
    db: Database, tenant: Tenant, devices: list[Device]
) -> None:
    """``git log`` says who changed what: the operation and the requester as trailers
    (a requester's line break cannot forge another trailer)."""
    with db.transaction() as s:
        op, _ = create_operation(
            s, tenant.id, kind="push", device_id=devices[0].id, requested_by="user:alice\nX: y"
        )
        op_id = op.id
    _backup(db, tenant, devices[0], BASE, 0)  # no operation: no trailers
    _backup(db, tenant, devices[0], BASE + "# pushed\n", 1, trigger="post-push", operation_id=op_id)
    sync_tenant(db, tenant.id)
    log = _git(repo_path(db.settings.data_dir, tenant.name), "log", "--format=%B%x00")
    newest, oldest = log.split("\x00")[:2]
    assert f"Tikguard-Operation: {op_id}\n" in newest
    assert "Tikguard-Requested-By: user:alice X: y\n" in newest
    assert "Tikguard-Operation" not in oldest and "Requested-By" not in oldest


def test_deleted_mirror_is_rebuilt_identically(
    db: Database, tenant: Tenant, devices: list[Device]
) -> None:
    for n in range(3):
        _backup(db, tenant, devices[n % 2], BASE + f"# v{n}\n", n)
    first = sync_tenant(db, tenant.id)
    shutil.rmtree(repo_path(db.settings.data_dir, tenant.name))
    again = sync_tenant(db, tenant.id)
    assert again.repaired and again.committed == 3
    assert again.head == first.head  # same versions, same times: the same commits


def test_commit_that_was_not_recorded_is_not_duplicated(
    db: Database, tenant: Tenant, devices: list[Device]
) -> None:
    _backup(db, tenant, devices[0], BASE, 0)
    sync_tenant(db, tenant.id)
    _backup(db, tenant, devices[0], BASE + "# two\n", 1)
    _backup(db, tenant, devices[1], BASE + "# three\n", 2)
    sync_tenant(db, tenant.id)
    # Simulate a run that wrote commits but died before recording them in the database.
    with db.transaction() as s:
        from sqlalchemy import update

        from tikguard.store.models import ConfigVersion, MirrorState

        s.execute(update(ConfigVersion).values(mirror_commit=None))
        s.execute(update(MirrorState).values(head_commit=None))
    report = sync_tenant(db, tenant.id)
    assert report.repaired and report.committed == 0
    repo = repo_path(db.settings.data_dir, tenant.name)
    assert len(_git(repo, "log", "--format=%H", "main").split()) == 3


def test_failed_mirror_never_loses_a_backup_and_catches_up(
    db: Database, tenant: Tenant, devices: list[Device]
) -> None:
    git_dir = db.settings.data_dir / "git"
    git_dir.parent.mkdir(parents=True, exist_ok=True)
    git_dir.write_text("not a directory")  # the mirror cannot be created
    _backup(db, tenant, devices[0], BASE, 0)
    report = sync_tenant(db, tenant.id)
    assert report.error is not None and report.committed == 0
    with db.session() as s:
        state = mirror_status(s, tenant.id)
        assert state is not None and state.last_error
    _backup(db, tenant, devices[0], BASE + "# more\n", 1)  # backups go on
    git_dir.unlink()
    report = sync_tenant(db, tenant.id)
    assert report.ok and report.committed == 2
    with db.session() as s:
        state = mirror_status(s, tenant.id)
        assert state is not None and state.last_error is None


def test_push_to_a_remote(
    db: Database, tenant: Tenant, devices: list[Device], tmp_path: Path
) -> None:
    remote = tmp_path / "remotes" / f"{tenant.name}.git"
    pygit2.init_repository(str(remote), bare=True, initial_head="main")
    db.settings = db.settings.with_(git_remote=str(tmp_path / "remotes" / "{tenant}.git"))
    _backup(db, tenant, devices[0], BASE, 0)
    report = sync_tenant(db, tenant.id)
    assert report.pushed and report.ok
    assert _git(remote, "rev-parse", "main").strip() == report.head
    assert SECRET.encode() not in _all_bytes(remote)


def test_push_failure_is_recorded_and_retried(
    db: Database, tenant: Tenant, devices: list[Device], tmp_path: Path
) -> None:
    db.settings = db.settings.with_(git_remote=str(tmp_path / "nowhere" / "{tenant}.git"))
    _backup(db, tenant, devices[0], BASE, 0)
    report = sync_tenant(db, tenant.id)
    assert report.committed == 1 and not report.pushed and report.push_error
    with db.session() as s:
        state = mirror_status(s, tenant.id)
        assert state is not None and state.push_error
    pygit2.init_repository(str(tmp_path / "nowhere" / f"{tenant.name}.git"), bare=True)
    report = sync_tenant(db, tenant.id)
    assert report.pushed and report.committed == 0


def test_tenants_have_separate_mirrors(
    db: Database, tenant: Tenant, other_tenant: Tenant, devices: list[Device]
) -> None:
    with db.transaction() as s:
        theirs = add_device(s, other_tenant.id, name="secret-site", host="h", username="u")
    _backup(db, tenant, devices[0], BASE, 0)
    _backup(db, other_tenant, theirs, "/system identity\nset name=theirs\n", 1)
    sync_tenant(db, tenant.id)
    sync_tenant(db, other_tenant.id)
    ours = _git(
        repo_path(db.settings.data_dir, tenant.name), "ls-tree", "-r", "--name-only", "main"
    )
    assert ours.split() == ["r1/config.rsc"]


def test_big_catch_up_is_packed_and_equals_the_loose_path(
    db: Database, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    with db.transaction() as s:
        many = [add_device(s, tenant.id, name=f"m{i}", host="h", username="u") for i in range(70)]
    for n, device in enumerate(many):
        _backup(db, tenant, device, BASE + f"# {n}\n", n)
    packed = sync_tenant(db, tenant.id)
    repo = repo_path(db.settings.data_dir, tenant.name)
    assert packed.committed == 70 and list((repo / "objects" / "pack").glob("*.pack"))
    _git(repo, "fsck", "--strict", "--no-dangling")
    shutil.rmtree(repo)
    monkeypatch.setattr(gitpack, "PACK_MIN_OBJECTS", 10**9)
    loose = sync_tenant(db, tenant.id)
    assert loose.head == packed.head
    assert not list((repo / "objects" / "pack").glob("*.pack"))
    _git(repo, "fsck", "--strict", "--no-dangling")


def test_removed_or_renamed_device_leaves_the_tree_but_not_the_history(
    db: Database, tenant: Tenant, devices: list[Device]
) -> None:
    from tikguard.store.devices import remove_device, update_device

    r1, r2 = devices
    _backup(db, tenant, r1, BASE, 0)
    _backup(db, tenant, r2, BASE, 1)
    sync_tenant(db, tenant.id)
    with db.transaction() as s:
        remove_device(s, tenant.id, r2.id)
        update_device(s, tenant.id, r1.id, name="r1-renamed")
    _backup(db, tenant, r1, BASE + "# after rename\n", 2)
    report = sync_tenant(db, tenant.id)
    assert report.ok and (report.committed, report.removed) == (1, 2)
    repo = repo_path(db.settings.data_dir, tenant.name)
    tree = _git(repo, "ls-tree", "-r", "--name-only", "main").split()
    assert tree == ["r1-renamed/config.rsc"]
    assert _git(repo, "log", "--format=%s", "-1", "main") == "removed: r2\n"
    assert _git(repo, "show", "main~3:r2/config.rsc") == BASE  # history keeps it
    assert sync_tenant(db, tenant.id).removed == 0


def test_many_packs_are_merged_into_one(
    db: Database, tenant: Tenant, devices: list[Device], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gitpack, "PACK_MIN_OBJECTS", 1)  # every run writes a pack
    monkeypatch.setattr(gitpack, "MAX_PACKS", 3)
    repo = repo_path(db.settings.data_dir, tenant.name)
    for n in range(4):
        _backup(db, tenant, devices[n % 2], BASE + f"# {n}\n", n)
        report = sync_tenant(db, tenant.id)
        assert report.ok
    assert report.repacked
    assert len(list((repo / "objects" / "pack").glob("*.pack"))) == 1
    _git(repo, "fsck", "--strict", "--no-dangling")
    assert len(_git(repo, "log", "--format=%H", "main").split()) == 4
    assert "+# 3" in _git(repo, "log", "-p", "-1", "main")


def test_concurrent_runs_mirror_everything_once(
    db: Database, tenant: Tenant, devices: list[Device]
) -> None:
    import threading

    for n in range(6):
        _backup(db, tenant, devices[n % 2], BASE + f"# {n}\n", n)
    reports: list[object] = []
    threads = [
        threading.Thread(target=lambda: reports.append(sync_tenant(db, tenant.id)))
        for _ in range(3)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(r.committed for r in reports) == 6  # type: ignore[attr-defined]
    repo = repo_path(db.settings.data_dir, tenant.name)
    assert len(_git(repo, "log", "--format=%H", "main").split()) == 6


def test_mirror_keeps_the_routers_own_bytes(
    db: Database, tenant: Tenant, devices: list[Device]
) -> None:
    raw = b"/system identity\nset name=" + "Київ".encode("cp1251") + b"\n"
    _backup(db, tenant, devices[0], raw.decode("utf-8", "surrogateescape"), 0)
    sync_tenant(db, tenant.id)
    repo = repo_path(db.settings.data_dir, tenant.name)
    shown = subprocess.run(
        ["git", "--git-dir", str(repo), "show", "main:r1/config.rsc"],
        check=True,
        capture_output=True,
    ).stdout
    assert shown == raw


def test_mirror_can_be_off_in_a_process(
    db: Database, tenant: Tenant, devices: list[Device]
) -> None:
    _backup(db, tenant, devices[0], BASE, 0)
    db.settings = db.settings.with_(git_mirror="off")
    report = sync_tenant(db, tenant.id)
    assert report.skipped and report.committed == 0
    assert not repo_path(db.settings.data_dir, tenant.name).exists()
    db.settings = db.settings.with_(git_mirror="maybe")
    assert "on, off or auto" in (sync_tenant(db, tenant.id).error or "")


def test_a_second_mirroring_machine_is_reported(
    db: Database, tenant: Tenant, devices: list[Device], tmp_path: Path
) -> None:
    _backup(db, tenant, devices[0], BASE, 0)
    assert sync_tenant(db, tenant.id).warning is None
    db.settings = db.settings.with_(data_dir=tmp_path / "elsewhere")  # another machine's disk
    _backup(db, tenant, devices[0], BASE + "# more\n", 1)
    report = sync_tenant(db, tenant.id)
    assert report.ok and report.repaired and report.committed == 2  # it catches up fully
    assert report.warning and "TIKGUARD_GIT_MIRROR=off" in report.warning
    with db.session() as s:
        state = mirror_status(s, tenant.id)
        assert state is not None and state.last_error == report.warning


def test_push_errors_never_show_the_remote_password() -> None:
    from tikguard.store.mirror import redact_url

    url = "https://mirror:t0k%2Fen@git.example.net/{tenant}.git"
    text = "push failed: could not reach https://mirror:t0k%2Fen@git.example.net (t0k/en)"
    shown = redact_url(text, url)
    assert "t0k" not in shown and "***" in shown
    assert redact_url("plain", "/srv/git/x.git") == "plain"
