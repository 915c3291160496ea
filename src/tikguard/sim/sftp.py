"""SFTP onto a simulated router's file store.

What a client sees is what ``/file print`` lists: files at the root and folders
implied by their names (``flash/`` on boards that have it). An upload becomes a
router file when the client closes it, so ``/import file-name=`` sees whole files;
it fails with "not enough space" when the storage cannot hold it (a full flash).
Folders cannot be made or removed over SFTP here (RouterOS makes them itself).
Access needs the ``ftp`` policy, as on RouterOS.
"""

from __future__ import annotations

import contextlib
import posixpath
import stat
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import asyncssh
from asyncssh import (
    FXF_APPEND,
    FXF_CREAT,
    FXF_EXCL,
    FXF_TRUNC,
    FXF_WRITE,
    SFTPAttrs,
    SFTPFailure,
    SFTPName,
    SFTPNoSuchFile,
    SFTPOpUnsupported,
    SFTPPermissionDenied,
    SFTPVFSAttrs,
)

from tikguard.sim.files import FileStore, FileStoreError
from tikguard.sim.login import parse_login

if TYPE_CHECKING:
    from tikguard.sim.router import SimRouter

_DIR_MODE = stat.S_IFDIR | 0o755
_FILE_MODE = stat.S_IFREG | 0o644


class _Handle:
    """An open file: reads serve a snapshot, writes collect until close."""

    __slots__ = ("data", "failed", "name", "writing")

    def __init__(self, name: str, data: bytes, writing: bool) -> None:
        self.name = name
        self.data = bytearray(data)
        self.writing = writing
        self.failed = False


def has_policy(policies: frozenset[str], name: str) -> bool:
    """Whether a user's policies include ``name`` (``full`` stands for all of them)."""
    return name in policies or "full" in policies


class RouterSFTPServer(asyncssh.SFTPServer):
    """One SFTP session on one router."""

    def __init__(self, chan: asyncssh.SSHServerChannel[bytes], router: SimRouter) -> None:
        super().__init__(chan)
        self._router = router
        user = parse_login(str(chan.get_extra_info("username") or "")).user
        self._allowed = has_policy(router.user_policies(user), "ftp")

    # -- paths ------------------------------------------------------------------
    @property
    def _files(self) -> FileStore:
        return self._router.files

    def _key(self, path: bytes) -> str:
        """Client path -> file store name ("" is the root)."""
        if not self._allowed:
            raise SFTPPermissionDenied("permission denied (the user needs the ftp policy)")
        text = path.decode("utf-8", "replace")
        return posixpath.normpath(posixpath.join("/", text)).lstrip("/")

    def _folders(self) -> set[str]:
        folders = {"flash"} if self._files.has_flash else set()
        for f in self._files.list():
            parts = f.name.split("/")[:-1]
            for i in range(1, len(parts) + 1):
                folders.add("/".join(parts[:i]))
        return folders

    def _is_dir(self, key: str) -> bool:
        return key == "" or key in self._folders()

    def _attrs(self, key: str) -> SFTPAttrs:
        if self._is_dir(key):
            return SFTPAttrs(type=asyncssh.FILEXFER_TYPE_DIRECTORY, permissions=_DIR_MODE)
        f = self._files.get(key)
        if f is None:
            raise SFTPNoSuchFile("no such file")
        mtime = int(f.created.timestamp())
        return SFTPAttrs(
            type=asyncssh.FILEXFER_TYPE_REGULAR,
            size=f.size,
            permissions=_FILE_MODE,
            atime=mtime,
            mtime=mtime,
        )

    # -- files ------------------------------------------------------------------
    def open(self, path: bytes, pflags: int, attrs: SFTPAttrs) -> object:
        key = self._key(path)
        if self._is_dir(key):
            raise SFTPFailure("is a directory")
        existing = self._files.get(key)
        if not pflags & (FXF_WRITE | FXF_APPEND):
            if existing is None:
                raise SFTPNoSuchFile("no such file")
            return _Handle(key, existing.data, writing=False)
        parent = posixpath.dirname(key)
        if parent and parent not in self._folders():
            raise SFTPNoSuchFile("no such directory")
        if existing is not None and pflags & FXF_EXCL:
            raise SFTPFailure("file already exists")
        if existing is None and not pflags & FXF_CREAT:
            raise SFTPNoSuchFile("no such file")
        keep = existing is not None and not pflags & FXF_TRUNC
        return _Handle(key, existing.data if keep and existing else b"", writing=True)

    def read(self, file_obj: object, offset: int, size: int) -> bytes:
        handle = _as_handle(file_obj)
        return bytes(handle.data[offset : offset + size])

    def write(self, file_obj: object, offset: int, data: bytes) -> int:
        handle = _as_handle(file_obj)
        end = offset + len(data)
        existing = self._files.get(handle.name)
        growth = max(end, len(handle.data)) - (existing.size if existing else 0)
        if growth > 0 and growth > self._files.free_space():
            handle.failed = True  # a failed upload leaves no file behind
            raise SFTPFailure("not enough space")
        if end > len(handle.data):
            handle.data.extend(b"\0" * (end - len(handle.data)))
        handle.data[offset:end] = data
        return len(data)

    def close(self, file_obj: object) -> None:
        handle = _as_handle(file_obj)
        if handle.writing and not handle.failed:
            try:
                self._files.write(handle.name, bytes(handle.data))
            except FileStoreError as exc:
                raise SFTPFailure(str(exc)) from None

    def fstat(self, file_obj: object) -> SFTPAttrs:
        handle = _as_handle(file_obj)
        return SFTPAttrs(
            type=asyncssh.FILEXFER_TYPE_REGULAR, size=len(handle.data), permissions=_FILE_MODE
        )

    def fsetstat(self, file_obj: object, attrs: SFTPAttrs) -> None:
        return None

    def setstat(self, path: bytes, attrs: SFTPAttrs) -> None:
        self._attrs(self._key(path))

    def lsetstat(self, path: bytes, attrs: SFTPAttrs) -> None:
        self._attrs(self._key(path))

    def fsync(self, file_obj: object) -> None:
        return None

    def stat(self, path: bytes) -> SFTPAttrs:
        return self._attrs(self._key(path))

    def lstat(self, path: bytes) -> SFTPAttrs:
        return self._attrs(self._key(path))

    async def scandir(self, path: bytes) -> AsyncIterator[SFTPName]:
        key = self._key(path)
        if not self._is_dir(key):
            raise SFTPNoSuchFile("not a directory")
        yield SFTPName(b".", attrs=self._attrs(key))
        yield SFTPName(b"..", attrs=self._attrs(posixpath.dirname(key)))
        prefix = f"{key}/" if key else ""
        children: set[str] = set()
        for name in sorted(self._folders()) + [f.name for f in self._files.list()]:
            if name.startswith(prefix) and name != key:
                children.add(name[len(prefix) :].split("/", 1)[0])
        for child in sorted(children):
            yield SFTPName(child.encode("utf-8"), attrs=self._attrs(prefix + child))

    def remove(self, path: bytes) -> None:
        key = self._key(path)
        try:
            self._files.remove(key)
        except FileStoreError:
            raise SFTPNoSuchFile("no such file") from None

    def rename(self, oldpath: bytes, newpath: bytes) -> None:
        old, new = self._key(oldpath), self._key(newpath)
        f = self._files.get(old)
        if f is None:
            raise SFTPNoSuchFile("no such file")
        if self._files.exists(new):
            raise SFTPFailure("file already exists")
        try:
            self._files.write(new, f.data)
        except FileStoreError as exc:
            raise SFTPFailure(str(exc)) from None
        self._files.remove(old)

    def posix_rename(self, oldpath: bytes, newpath: bytes) -> None:
        new = self._key(newpath)
        if self._files.exists(new):
            self._files.remove(new)
        self.rename(oldpath, newpath)

    def mkdir(self, path: bytes, attrs: SFTPAttrs) -> None:
        raise SFTPOpUnsupported("folders are not made over SFTP on this router")

    def rmdir(self, path: bytes) -> None:
        raise SFTPOpUnsupported("folders are not removed over SFTP on this router")

    def exit(self) -> None:
        """End the subsystem with exit status 0, as sshd does (``scp`` in SFTP mode checks)."""
        with contextlib.suppress(OSError, asyncssh.Error):
            self.channel.exit(0)

    def realpath(self, path: bytes) -> bytes:
        return ("/" + self._key(path)).encode("utf-8")

    def statvfs(self, path: bytes) -> SFTPVFSAttrs:
        self._key(path)
        block = 1024
        total = self._files.capacity // block
        free = self._files.free_space() // block
        return SFTPVFSAttrs(
            bsize=block,
            frsize=block,
            blocks=total,
            bfree=free,
            bavail=free,
            files=0,
            ffree=0,
            favail=0,
            fsid=0,
            flag=0,
            namemax=255,
        )


def _as_handle(file_obj: object) -> _Handle:
    if not isinstance(file_obj, _Handle):
        raise SFTPFailure("bad file handle")
    return file_obj
