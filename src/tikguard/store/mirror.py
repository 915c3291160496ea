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
import re
import socket
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pygit2
from sqlalchemy import Table, bindparam, func, select, update
from sqlalchemy.orm import Session

from tikguard.logs import get_logger
from tikguard.store import workers as store_workers
from tikguard.store.db import Database
from tikguard.store.gitpack import Staging, consolidate
from tikguard.store.models import (
    AuditEntry,
    ConfigVersion,
    Device,
    MirrorState,
    Operation,
    Tenant,
    utcnow,
)

log = get_logger(__name__)

BRANCH = "refs/heads/main"
AUTHOR_NAME = "tikguard"
AUTHOR_EMAIL = "tikguard@localhost"
BATCH = 500
#: Seconds a run waits for another run of the same tenant before giving up (skipped).
LOCK_WAIT = 120.0
#: Staged objects are written out (as a pack) once they hold this many bytes.
STAGING_MAX_BYTES = 32 * 1024 * 1024
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
    #: Device directories removed because the device left the inventory.
    removed: int = 0
    repaired: bool = False
    #: The run merged the repository's packs into one.
    repacked: bool = False
    pushed: bool = False
    head: str | None = None
    error: str | None = None
    push_error: str | None = None
    skipped: str | None = None
    #: Not an error, but the operator should act (e.g. two machines keep the mirror).
    warning: str | None = None
    commits: list[str] = field(default_factory=list, repr=False)

    @property
    def ok(self) -> bool:
        return self.error is None and self.push_error is None


def repo_path(data_dir: Path, tenant_name: str) -> Path:
    return data_dir / "git" / f"{tenant_name}.git"


@contextlib.contextmanager
def _exclusive(path: Path, wait: float) -> Iterator[bool]:
    """A per-tenant file lock: one mirror writer at a time on this machine.

    Waits up to ``wait`` seconds: a run that starts while another is writing then
    mirrors what the other one missed, instead of leaving it for the next backup.
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    deadline = time.monotonic() + wait
    with path.open("a") as handle:
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    yield False
                    return
                time.sleep(0.05)
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


def _message(version: _Pending) -> str:
    ros = version.ros_version or "unknown"
    lines = [f"{version.trigger}: {version.device} ({version.host}) RouterOS {ros}", ""]
    if version.secrets_changed_only:
        lines += ["Only sensitive values changed; they are never stored in this repository.", ""]
    lines += [
        f"Tikguard-Version: {version.id}",
        f"Tikguard-Device-Version: {version.seq}",
        f"Tikguard-Sha256: {version.sha256}",
    ]
    if version.operation_id:
        lines.append(f"Tikguard-Operation: {version.operation_id}")
    if version.requested_by:
        lines.append(f"Tikguard-Requested-By: {_one_line(version.requested_by)}")
    return "\n".join(lines) + "\n"


def _one_line(text: str) -> str:
    """A trailer value: one line, no control characters (a requester is an actor
    string such as ``user:alice`` or ``cli:root@host``, but a trailer must stay one)."""
    return "".join(c if c.isprintable() else " " for c in text)[:200]


@dataclass(frozen=True)
class _Pending:
    id: int
    seq: int
    sha256: str
    trigger: str
    ros_version: str | None
    secrets_changed_only: bool
    created_at: datetime
    content: bytes
    device: str
    host: str
    #: The operation that stored the version (a push, an API or scheduled backup) and
    #: who asked for it: commit trailers, so ``git log`` says who changed what.
    operation_id: str | None = None
    requested_by: str | None = None


class _BatchWriter:
    """Writes a run of commits: one root tree builder kept across them, objects staged in
    memory and persisted together, the branch moved once at the end."""

    def __init__(
        self, repo: pygit2.Repository, staging: Staging, head: pygit2.Commit | None
    ) -> None:
        self.repo = repo
        self.staging = staging
        self.start = head.id if head is not None else None
        self.head_id = self.start
        self.root = repo.TreeBuilder(head.tree) if head is not None else repo.TreeBuilder()

    def commit(self, version: _Pending) -> str:
        repo = self.repo
        blob = repo.create_blob(zlib.decompress(version.content))
        existing = self.root.get(version.device)
        sub = (
            repo.TreeBuilder(existing.id)
            if existing is not None and existing.filemode == pygit2.enums.FileMode.TREE
            else repo.TreeBuilder()
        )
        sub.insert("config.rsc", blob, pygit2.enums.FileMode.BLOB)
        self.root.insert(version.device, sub.write(), pygit2.enums.FileMode.TREE)
        tree_id = self.root.write()
        sig = pygit2.Signature(AUTHOR_NAME, AUTHOR_EMAIL, int(version.created_at.timestamp()), 0)
        parents = [self.head_id] if self.head_id is not None else []
        self.head_id = repo.create_commit(None, sig, sig, _message(version), tree_id, parents)
        if self.staging.size > STAGING_MAX_BYTES:
            self.staging.persist(repo)  # bound memory; the branch still moves only at the end
        return str(self.head_id)

    def remove(self, name: str, when: datetime, by: str | None) -> None:
        """Commit the removal of a device's directory (the device left the inventory),
        with who removed it when the audit log says."""
        self.root.remove(name)
        sig = pygit2.Signature(AUTHOR_NAME, AUTHOR_EMAIL, int(when.timestamp()), 0)
        message = f"removed: {name}\n\n{name} is no longer in the inventory (removed or renamed).\n"
        if by:
            message += f"\nTikguard-Requested-By: {_one_line(by)}\n"
        parents = [self.head_id] if self.head_id is not None else []
        self.head_id = self.repo.create_commit(None, sig, sig, message, self.root.write(), parents)

    def finish(self) -> None:
        """Persist the new objects, then move the branch to the last commit."""
        self.staging.persist(self.repo)
        if self.head_id is None or self.head_id == self.start:
            return
        current = _head(self.repo)
        if (current.id if current is not None else None) != self.start:
            raise RuntimeError("the mirror branch moved while tikguard was writing to it")
        self.repo.references.create(BRANCH, self.head_id, force=True)


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


def _pending(session: Session, tenant_id: int) -> list[_Pending]:
    rows = session.execute(
        select(
            ConfigVersion.id,
            ConfigVersion.seq,
            ConfigVersion.sha256,
            ConfigVersion.trigger,
            ConfigVersion.ros_version,
            ConfigVersion.secrets_changed_only,
            ConfigVersion.created_at,
            ConfigVersion.content,
            Device.name.label("device"),
            Device.host.label("host"),
            ConfigVersion.operation_id,
            # a version knows who asked; older ones (and a push's) through their operation
            func.coalesce(ConfigVersion.requested_by, Operation.requested_by).label("requested_by"),
        )
        .join(Device, Device.id == ConfigVersion.device_id)
        .outerjoin(
            Operation,
            (Operation.id == ConfigVersion.operation_id)
            & (Operation.tenant_id == ConfigVersion.tenant_id),
        )
        .where(ConfigVersion.tenant_id == tenant_id, ConfigVersion.mirror_commit.is_(None))
        .order_by(ConfigVersion.id)
        .limit(BATCH)
    ).all()
    return [_Pending(**row._asdict()) for row in rows]


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


class _Credentials(pygit2.RemoteCallbacks):
    """Credentials for the push: user:password from an https URL, else the SSH agent."""

    def __init__(self, url: str) -> None:
        super().__init__()
        parts = urlsplit(url)
        self._user, self._password = parts.username, parts.password

    def credentials(
        self, url: str, username_from_url: str | None, allowed_types: int
    ) -> pygit2.UserPass | pygit2.Keypair:
        kinds = pygit2.enums.CredentialType
        if allowed_types & kinds.USERPASS_PLAINTEXT and self._password is not None:
            return pygit2.UserPass(unquote(self._user or ""), unquote(self._password))
        if allowed_types & kinds.SSH_KEY:
            return pygit2.KeypairFromAgent(username_from_url or "git")
        raise pygit2.GitError("no credentials for this remote")


def _push(repo: pygit2.Repository, url: str) -> None:
    remote = repo.remotes.create_anonymous(url)
    remote.push([f"{BRANCH}:{BRANCH}"], callbacks=_Credentials(url))


def redact_url(text: str, url: str) -> str:
    """``text`` with the password of ``url`` (if it has one) replaced by ``***``."""
    password = urlsplit(url).password
    for secret in {password, unquote(password)} if password else set():
        text = text.replace(secret, "***")
    return text


def remote_url(template: str, tenant_name: str) -> str:
    """The remote for a tenant: ``{tenant}`` in the setting is replaced by its name."""
    return template.replace("{tenant}", tenant_name)


def cluster_writer(db: Database) -> str | None:
    """The worker that keeps the mirror when that is not this process, else None.

    On PostgreSQL with ``auto``, one writer per cluster: the live worker that has run
    longest (it changes only when that worker stops). With no live worker (no cluster
    running), whoever syncs writes.
    """
    settings = db.settings
    if not store_workers.shared(settings):
        return None
    lease = timedelta(seconds=settings.seconds(settings.worker_lease))
    with db.session() as session:
        leader = store_workers.oldest_alive(session, lease)
    if leader is None or leader == store_workers.executor_id(settings):
        return None
    return leader


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
    switch = db.settings.git_mirror.strip().lower()
    if switch == "off":
        report.skipped = "the git mirror is off in this process (TIKGUARD_GIT_MIRROR=off)"
        return report
    if switch == "auto":
        writer = cluster_writer(db)
        if writer is not None:
            report.skipped = f"the git mirror is kept by worker {writer} (TIKGUARD_GIT_MIRROR=auto)"
            return report
    elif switch != "on":
        report.error = (
            f"TIKGUARD_GIT_MIRROR must be on, off or auto, not {db.settings.git_mirror!r}"
        )
        return report
    path = repo_path(db.settings.data_dir, name)
    try:
        with _exclusive(path.parent / f"{name}.lock", LOCK_WAIT) as got_lock:
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
    staging = Staging()
    repo.odb.add_backend(staging, 1000)  # above the loose and pack backends: new objects
    head = _head(repo)
    me = f"{socket.gethostname()}:{path.resolve()}"
    with db.session() as session:
        state = session.get(MirrorState, tenant_id)
        known_head = state.head_commit if state is not None else None
        last_writer = state.writer if state is not None else None
    if last_writer not in (None, me) and known_head is not None:
        report.warning = (
            f"the mirror of tenant {report.tenant} was last written by {last_writer}, now by "
            f"{me}: keep the mirror on one machine (TIKGUARD_GIT_MIRROR=off on the others)"
        )
        log.warning("%s", report.warning)
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
        writer = _BatchWriter(repo, staging, head)
        marks = [(version.id, writer.commit(version)) for version in batch]
        writer.finish()
        head = _head(repo)
        report.commits += [commit for _, commit in marks]
        with db.transaction() as session:
            _mark(session, tenant_id, marks)
            state = _state(session, tenant_id)
            state.head_commit = marks[-1][1]
            state.last_version_id = max(vid for vid, _ in marks)
        report.committed += len(marks)
    head = _remove_departed(db, tenant_id, repo, staging, head, report)
    if head is not None and consolidate(repo, head):
        report.repacked = True
    with db.transaction() as session:
        state = _state(session, tenant_id)
        state.last_run_at = utcnow()
        state.writer = me
        state.last_error = report.warning
        state.last_error_at = utcnow() if report.warning else None
    report.head = str(head.id) if head is not None else None


def _remove_departed(
    db: Database,
    tenant_id: int,
    repo: pygit2.Repository,
    staging: Staging,
    head: pygit2.Commit | None,
    report: MirrorReport,
) -> pygit2.Commit | None:
    """Remove directories of devices that are no longer in the inventory, one commit each."""
    if head is None:
        return head
    with db.session() as session:
        names = set(session.scalars(select(Device.name).where(Device.tenant_id == tenant_id)))
    departed = sorted(
        e.name
        for e in head.tree
        if e.filemode == pygit2.enums.FileMode.TREE and e.name is not None and e.name not in names
    )
    if not departed:
        return head
    with db.session() as session:
        removers = _removed_by(session, tenant_id, departed)
    writer = _BatchWriter(repo, staging, head)
    now = utcnow()
    for name in departed:
        writer.remove(name, now, removers.get(name))
    writer.finish()
    new_head = _head(repo)
    with db.transaction() as session:
        _state(session, tenant_id).head_commit = str(new_head.id) if new_head else None
    report.removed += len(departed)
    return new_head


def _removed_by(session: Session, tenant_id: int, names: list[str]) -> dict[str, str]:
    """Who last changed each departed device (its ``device.*`` audit rows: a removal,
    a rename, an inventory sync), by name."""
    rows = session.execute(
        select(AuditEntry.target, AuditEntry.actor)
        .where(
            AuditEntry.tenant_id == tenant_id,
            AuditEntry.target.in_(names),
            AuditEntry.action.startswith("device."),
        )
        .order_by(AuditEntry.id)
    )
    return {str(target): actor for target, actor in rows}  # the newest wins


def _push_tenant(db: Database, tenant_id: int, path: Path, url: str, report: MirrorReport) -> None:
    try:
        _push(pygit2.Repository(str(path)), url)
    except Exception as exc:
        report.push_error = redact_url(f"push failed: {type(exc).__name__}: {exc}", url)
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
