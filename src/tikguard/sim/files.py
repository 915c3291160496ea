"""A router's file store: what ``/file print`` lists and SFTP reads and writes.

On boards with ``flash/`` only files under ``flash/`` survive a reboot (the rest lives
in RAM, like RouterOS on small-flash RouterBOARDs); on CHR every file is on disk.
Free space is the board's storage minus the bytes held, and a fault can make it zero.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from tikguard.sim.faults import Faults

#: What RouterOS occupies of the storage itself (so free space is plausible).
SYSTEM_BYTES = 14 * 1024 * 1024


class FileStoreError(Exception):
    """A file operation RouterOS would refuse (the message is RouterOS's text)."""


@dataclass(slots=True)
class SimFile:
    name: str
    data: bytes
    created: datetime

    @property
    def size(self) -> int:
        return len(self.data)

    @property
    def kind(self) -> str:
        """The ``type`` column of ``/file print``."""
        if self.name.endswith(".backup"):
            return "backup"
        if self.name.endswith(".rsc"):
            return "script"
        if self.name.endswith(".npk"):
            return "package"
        return ".txt file" if self.name.endswith(".txt") else "file"


class FileStore:
    """Files by name (``flash/x.backup``); folders are implied by names."""

    __slots__ = ("_faults", "_files", "_now", "capacity", "has_flash")

    def __init__(
        self,
        *,
        has_flash: bool,
        capacity: int,
        now: Callable[[], datetime],
        faults: Faults | None = None,
    ) -> None:
        self.has_flash = has_flash
        self.capacity = capacity
        self._now = now
        self._faults = faults or Faults()
        self._files: dict[str, SimFile] = {}

    # -- queries -----------------------------------------------------------------
    def list(self) -> builtins.list[SimFile]:
        return sorted(self._files.values(), key=lambda f: f.name)

    def exists(self, name: str) -> bool:
        return _clean(name) in self._files

    def get(self, name: str) -> SimFile | None:
        return self._files.get(_clean(name))

    def read(self, name: str) -> bytes:
        f = self._files.get(_clean(name))
        if f is None:
            raise FileStoreError("no such file")
        return f.data

    def size(self, name: str) -> int:
        return len(self.read(name))

    def used(self) -> int:
        return sum(f.size for f in self._files.values())

    def free_space(self) -> int:
        if self._faults.full_flash:
            return 0
        return max(0, self.capacity - SYSTEM_BYTES - self.used())

    def folders(self) -> builtins.list[str]:
        names = {n.rsplit("/", 1)[0] for n in self._files if "/" in n}
        if self.has_flash:
            names.add("flash")
        return sorted(names)

    def is_persistent(self, name: str) -> bool:
        """Whether a file survives a reboot on this board."""
        return not self.has_flash or _clean(name).startswith("flash/")

    # -- changes -----------------------------------------------------------------
    def write(self, name: str, data: bytes) -> SimFile:
        """Create or replace a file; refuses when the storage is full."""
        key = _clean(name)
        if not key or key.endswith("/"):
            raise FileStoreError("invalid file name")
        old = self._files.get(key)
        growth = len(data) - (old.size if old else 0)
        if growth > 0 and growth > self.free_space():
            raise FileStoreError("not enough space")
        f = SimFile(key, bytes(data), self._now())
        self._files[key] = f
        return f

    def remove(self, name: str) -> None:
        key = _clean(name)
        if key not in self._files:
            raise FileStoreError("no such item")
        del self._files[key]

    def on_reboot(self) -> None:
        """Drop the files that lived in RAM."""
        self._files = {k: f for k, f in self._files.items() if self.is_persistent(k)}

    def snapshot(self) -> dict[str, SimFile]:
        return dict(self._files)


def _clean(name: str) -> str:
    return name.strip().lstrip("/")
