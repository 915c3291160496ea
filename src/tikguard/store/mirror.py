"""The git mirror: each tenant's config history as a bare git repository.

``data_dir/git/<tenant>.git`` gets one commit per config version, at
``<device-name>/config.rsc`` (the redacted text only: secrets never reach git), with
the version's time as commit time, so ``git log -p`` reads like Oxidized's history.

The database is the source of truth and the mirror follows it: a version is marked
with the commit that holds it; every commit carries a ``Tikguard-Version:`` trailer, so
a mirror that was deleted, restored from an old copy or interrupted between writing a
commit and marking it is repaired by reading its own history and replaying what is
missing, in version order. Mirroring runs after backups commit and never raises into
them: errors are recorded in ``mirror_state`` and retried on the next run.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pygit2
from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.orm import Session, undefer

from tikguard.store.db import Database
from tikguard.store.models import ConfigVersion, Device, MirrorState, Tenant, utcnow
from tikguard.store.versions import version_text

log = logging.getLogger(__name__)

BRANCH = "refs/heads/main"
AUTHOR_NAME = "tikguard"
AUTHOR_EMAIL = "tikguard@localhost"
BATCH = 500
_versions: Table = ConfigVersion.__table__  # type: ignore[assignment]
_MARK = (
    update(_versions)
    .where(_versions.c.id == bindparam("vid"))
    .values(mirror_commit=bindparam("commit"))
)
_TRAILER = re.compile(r"^Tikguard-Version: (\d+)$", re.MULTILINE)


@dataclass
class MirrorReport:
    """What one mirror run did for one tenant."""

    tenant: str
    committed: int = 0
    repaired: bool = False
    pushed: bool = False
    head: str | None = None
    error: str | None = None
    push_error: str | None = None
    skipped: str | None = None
    commits: list[str] = field(default_factory=list, repr=False)

    @property
    def ok(self) -> bool:
        return self.error is None and self.push_error is None


def repo_path(data_dir: Path, tenant_name: str) -> Path:
    return data_dir / "git" / f"{tenant_name}.git"


@contextlib.contextmanager
def _exclusive(path: Path) -> Iterator[bool]:
    """A per-tenant file lock: one mirror writer at a time on this machine."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with path.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _open_repo(path: Path) -> pygit2.Repository:
    if (path / "HEAD").exists():
        return pygit2.Repository(str(path))
    return pygit2.init_repository(str(path), bare=True, initial_head="main")


def _head(repo: pygit2.Repository) -> pygit2.Commit | None:
    try:
        ref = repo.references.get(BRANCH)
    except pygit2.GitError:
        return None
    if ref is None:
        return None
    commit = repo.get(ref.target)
    return commit if isinstance(commit, pygit2.Commit) else None


def _mirrored_ids(repo: pygit2.Repository, head: pygit2.Commit | None) -> dict[int, str]:
    """Version id -> commit for every commit reachable from ``head`` (from trailers)."""
    found: dict[int, str] = {}
    if head is None:
        return found
    for commit in repo.walk(head.id, pygit2.enums.SortMode.TOPOLOGICAL):
        match = _TRAILER.search(commit.message)
        if match:
            found.setdefault(int(match.group(1)), str(commit.id))
    return found


def _message(version: ConfigVersion, device: Device) -> str:
    ros = version.ros_version or "unknown"
    lines = [f"{version.trigger}: {device.name} ({device.host}) RouterOS {ros}", ""]
    if version.secrets_changed_only:
        lines += ["Only sensitive values changed; they are never stored in this repository.", ""]
    lines += [
        f"Tikguard-Version: {version.id}",
        f"Tikguard-Device-Version: {version.seq}",
        f"Tikguard-Sha256: {version.sha256}",
    ]
    return "\n".join(lines) + "\n"


def _commit_version(
    repo: pygit2.Repository,
    parent: pygit2.Commit | None,
    version: ConfigVersion,
    device: Device,
) -> pygit2.Commit:
    blob = repo.create_blob(version_text(version).encode("utf-8"))
    root = repo.TreeBuilder(parent.tree) if parent is not None else repo.TreeBuilder()
    existing = root.get(device.name)
    sub = (
        repo.TreeBuilder(existing.id)
        if existing is not None and existing.filemode == pygit2.enums.FileMode.TREE
        else repo.TreeBuilder()
    )
    sub.insert("config.rsc", blob, pygit2.enums.FileMode.BLOB)
    root.insert(device.name, sub.write(), pygit2.enums.FileMode.TREE)
    when = int(version.created_at.timestamp())
    sig = pygit2.Signature(AUTHOR_NAME, AUTHOR_EMAIL, when, 0)
    parents = [parent.id] if parent is not None else []
    oid = repo.create_commit(BRANCH, sig, sig, _message(version, device), root.write(), parents)
    commit = repo.get(oid)
    assert isinstance(commit, pygit2.Commit)
    return commit


def _state(session: Session, tenant_id: int) -> MirrorState:
    state = session.get(MirrorState, tenant_id)
    if state is None:
        state = MirrorState(tenant_id=tenant_id)
        session.add(state)
        session.flush()
    return state


def _repair(
    db: Database, tenant_id: int, repo: pygit2.Repository, head: pygit2.Commit | None
) -> None:
    """Make the versions' mirror marks agree with what the repository really holds."""
    in_repo = _mirrored_ids(repo, head)
    with db.transaction() as session:
        session.execute(
            update(ConfigVersion)
            .where(ConfigVersion.tenant_id == tenant_id, ConfigVersion.mirror_commit.is_not(None))
            .values(mirror_commit=None)
        )
        _mark(session, tenant_id, list(in_repo.items()))
        state = _state(session, tenant_id)
        state.head_commit = str(head.id) if head is not None else None


def _mark(session: Session, tenant_id: int, marks: list[tuple[int, str]]) -> None:
    """Record which commit holds which version (bulk, by primary key, in this tenant)."""
    for start in range(0, len(marks), BATCH):
        rows = [{"vid": vid, "commit": c} for vid, c in marks[start : start + BATCH]]
        session.connection().execute(_MARK.where(_versions.c.tenant_id == tenant_id), rows)


def _pending(session: Session, tenant_id: int) -> list[tuple[ConfigVersion, Device]]:
    rows = session.execute(
        select(ConfigVersion, Device)
        .join(Device, Device.id == ConfigVersion.device_id)
        .options(undefer(ConfigVersion.content))
        .where(ConfigVersion.tenant_id == tenant_id, ConfigVersion.mirror_commit.is_(None))
        .order_by(ConfigVersion.id)
        .limit(BATCH)
    ).all()
    return [(v, d) for v, d in rows]


def _record_error(db: Database, tenant_id: int, message: str, *, push: bool = False) -> None:
    try:
        with db.transaction() as session:
            state = _state(session, tenant_id)
            if push:
                state.push_error = message
            else:
                state.last_error = message
                state.last_error_at = utcnow()
    except Exception:  # the database itself is failing: the next run retries anyway
        log.exception("could not record the git mirror error of tenant %s", tenant_id)


def _push(repo: pygit2.Repository, url: str) -> None:
    remote = repo.remotes.create_anonymous(url)
    remote.push([f"{BRANCH}:{BRANCH}"])


def remote_url(template: str, tenant_name: str) -> str:
    """The remote for a tenant: ``{tenant}`` in the setting is replaced by its name."""
    return template.replace("{tenant}", tenant_name)


def sync_tenant(db: Database, tenant_id: int, *, push: bool = True) -> MirrorReport:
    """Mirror the tenant's unmirrored versions into git, then push if a remote is set.

    Never raises for git, file-system or push problems: they are in the report and in
    ``mirror_state``, and the next run retries. Safe to call after every backup batch.
    """
    with db.session() as session:
        tenant = session.get(Tenant, tenant_id)
        if tenant is None:
            return MirrorReport(tenant=str(tenant_id), error="tenant does not exist")
        name = tenant.name
    report = MirrorReport(tenant=name)
    path = repo_path(db.settings.data_dir, name)
    try:
        with _exclusive(path.parent / f"{name}.lock") as got_lock:
            if not got_lock:
                report.skipped = "another mirror run holds the lock"
                return report
            _sync_locked(db, tenant_id, path, report)
    except Exception as exc:
        report.error = f"{type(exc).__name__}: {exc}"
        log.warning("git mirror of tenant %s failed: %s", name, report.error)
        _record_error(db, tenant_id, report.error)
        return report
    template = db.settings.git_remote
    if push and template and report.head is not None:
        _push_tenant(db, tenant_id, path, remote_url(template, name), report)
    return report


def _sync_locked(db: Database, tenant_id: int, path: Path, report: MirrorReport) -> None:
    repo = _open_repo(path)
    head = _head(repo)
    with db.session() as session:
        state = session.get(MirrorState, tenant_id)
        known_head = state.head_commit if state is not None else None
    if (str(head.id) if head is not None else None) != known_head:
        # The repository is not where we left it (deleted, restored, or a run died
        # between committing and recording): trust what the repository holds.
        _repair(db, tenant_id, repo, head)
        report.repaired = True
    while True:
        with db.session() as session:
            batch = _pending(session, tenant_id)
        if not batch:
            break
        marks: list[tuple[int, str]] = []
        for version, device in batch:
            head = _commit_version(repo, head, version, device)
            marks.append((version.id, str(head.id)))
            report.commits.append(str(head.id))
        with db.transaction() as session:
            _mark(session, tenant_id, marks)
            state = _state(session, tenant_id)
            state.head_commit = marks[-1][1]
            state.last_version_id = max(vid for vid, _ in marks)
        report.committed += len(marks)
    with db.transaction() as session:
        state = _state(session, tenant_id)
        state.last_run_at = utcnow()
        state.last_error = None
        state.last_error_at = None
    report.head = str(head.id) if head is not None else None


def _push_tenant(db: Database, tenant_id: int, path: Path, url: str, report: MirrorReport) -> None:
    try:
        _push(pygit2.Repository(str(path)), url)
    except Exception as exc:
        report.push_error = f"push failed: {type(exc).__name__}: {exc}"
        log.warning("git mirror push of %s failed: %s", report.tenant, report.push_error)
        _record_error(db, tenant_id, report.push_error, push=True)
        return
    report.pushed = True
    with db.transaction() as session:
        state = _state(session, tenant_id)
        state.last_pushed_at = utcnow()
        state.push_error = None


def sync_all(db: Database, *, push: bool = True) -> list[MirrorReport]:
    """Mirror every tenant (one after the other)."""
    with db.session() as session:
        ids = list(session.scalars(select(Tenant.id).order_by(Tenant.id)))
    return [sync_tenant(db, tid, push=push) for tid in ids]


def mirror_status(session: Session, tenant_id: int) -> MirrorState | None:
    """The tenant's mirror state (head, last version, last error), if it ever ran."""
    return session.get(MirrorState, tenant_id)
