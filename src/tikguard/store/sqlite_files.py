"""SQLite database files on disk: created owner-only, checked at start, never disturbed.

Two rules keep a database shared by ``tikguard serve`` and any number of CLI commands
intact:

* **No descriptor of a live database is ever closed outside SQLite.** SQLite's locks
  are POSIX advisory locks, and a process loses *all* its locks on a file the moment
  it closes *any* descriptor of that file. A server that loses them looks, to the next
  CLI command that exits, like no connection at all: that command checkpoints and
  deletes ``-wal`` and ``-shm`` from under the server, which goes on writing into the
  unlinked files until ``disk I/O error``, and whatever it wrote meanwhile is gone.
  So a missing file is created under a temporary name and *linked* into place (the
  descriptor we close belongs to a file nobody has opened yet), and modes are changed
  by path (``chmod``), which touches no descriptor.
* **Every database file is owner-only** (0600): they hold recorded step outputs and
  ciphertexts. SQLite gives ``-wal``, ``-shm`` and ``-journal`` the mode of the main
  file, so creating that one 0600 is enough; files left wider by an older tikguard are
  tightened at start, and a file we may not tighten stops the start.
"""

from __future__ import annotations

import contextlib
import os
import stat
import threading
from pathlib import Path

from sqlalchemy.engine import make_url

from tikguard.logs import get_logger
from tikguard.store.errors import StoreError

log = get_logger(__name__)

#: The files SQLite keeps beside a database (WAL mode, then the rollback journal).
SIDE_SUFFIXES = ("-wal", "-shm", "-journal")
OWNER_ONLY = 0o600


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL, or None (another database, or in memory)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return None
    if parsed.database == ":memory:" or parsed.database.startswith("file:"):
        return None
    return Path(os.path.abspath(parsed.database))


def database_files(path: Path) -> list[Path]:
    """The database file and the side files SQLite may keep beside it."""
    return [path, *(path.with_name(path.name + suffix) for suffix in SIDE_SUFFIXES)]


def _create_private(path: Path) -> None:
    """Create an empty ``path`` with mode 0600 unless it exists, closing no live descriptor.

    The file is made under a name of its own and hard-linked into place: the only
    descriptor closed is that of an inode no connection can have opened yet, and the
    link fails (harmlessly) when another process created the database meanwhile.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.new")
    os.close(os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, OWNER_ONLY))
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass
    except OSError:
        # A file system without hard links: create it in place. Nothing in this
        # process has opened a file that did not exist a moment ago.
        with contextlib.suppress(FileExistsError):
            os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, OWNER_ONLY))
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def secure_files(path: Path) -> list[Path]:
    """Make every existing file of the database owner-only; return those it changed.

    By path, so a live connection's locks are untouched. Raises :class:`StoreError`
    when a file is not ours to tighten.
    """
    changed: list[Path] = []
    for f in database_files(path):
        try:
            mode = stat.S_IMODE(f.stat().st_mode)
        except FileNotFoundError:
            continue
        if mode & 0o077 == 0:
            continue
        try:
            os.chmod(f, mode & OWNER_ONLY)
        except OSError as exc:
            raise StoreError(
                f"{f} can be read by other users (mode {mode:o}) and tikguard may not "
                f"change that ({exc.strerror}); run `chmod 600 {f}` as its owner"
            ) from None
        log.warning("%s was readable by other users (mode %o); now owner-only", f, mode)
        changed.append(f)
    return changed


def prepare(url: str) -> Path | None:
    """Before the first connection to a SQLite ``url``: its folder (0700 when made),
    the file (0600 when made), every file of it owner-only. Other URLs: nothing, None."""
    path = sqlite_path(url)
    if path is None:
        return None
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not path.exists():
        _create_private(path)
    secure_files(path)
    return path
