"""How the git mirror stores objects: new ones staged in memory and written as one pack
(or loose, for a small batch), and packs merged once too many piled up.

Why: writing each commit's root tree as a loose object costs a deflate and a file per
commit, and a tenant with N routers has an N-entry root tree; a first catch-up of
10,000 routers would leave gigabytes of loose trees. Packed, consecutive root trees
are deltas of each other (they differ in one entry). :mod:`tikguard.store.mirror`
decides what to commit; this module only keeps the objects.
"""

from __future__ import annotations

from pathlib import Path

import pygit2

#: Batches with at least this many new objects are packed instead of left loose.
PACK_MIN_OBJECTS = 200
#: ... or at least this many bytes (a big tenant's root tree alone can pass it).
PACK_MIN_BYTES = 256 * 1024
#: More packs than this are merged into one at the end of a run.
MAX_PACKS = 256


class Staging(pygit2.OdbBackend):
    """New objects, held in memory until the batch writes them as one pack (or loose).

    Writing each commit's root tree as a loose object costs a deflate and a file per
    commit, and a tenant with N routers has an N-entry root tree: a first catch-up of
    10,000 routers would leave gigabytes of loose trees. Staged objects are packed with
    deltas instead (consecutive root trees differ in one entry).
    """

    def __init__(self) -> None:
        super().__init__()
        self.objects: dict[str, tuple[int, bytes]] = {}
        self.size = 0

    def read_cb(self, oid: object) -> tuple[int, bytes]:
        return self.objects[str(oid)]

    def read_header_cb(self, oid: object) -> tuple[int, int]:
        kind, data = self.objects[str(oid)]
        return kind, len(data)

    def write_cb(self, oid: object, data: bytes, kind: int) -> None:
        self.objects[str(oid)] = (kind, bytes(data))
        self.size += len(data)

    def exists_cb(self, oid: object) -> bool:
        return str(oid) in self.objects

    def refresh_cb(self) -> None:
        return None

    def persist(self, repo: pygit2.Repository) -> None:
        """Write the staged objects into the repository for good, then forget them."""
        if not self.objects:
            return
        if len(self.objects) >= PACK_MIN_OBJECTS or self.size >= PACK_MIN_BYTES:
            builder = pygit2.PackBuilder(repo)
            for hexid in self.objects:
                builder.add(pygit2.Oid(hex=hexid))
            builder.write()
        else:
            loose = pygit2.Odb()
            loose.add_backend(pygit2.OdbBackendLoose(str(Path(repo.path) / "objects"), 1, False), 1)
            for kind, data in self.objects.values():
                loose.write(kind, data)
        self.objects.clear()
        self.size = 0


def consolidate(repo: pygit2.Repository, head: pygit2.Commit) -> bool:
    """Merge all packs and loose objects into one pack when there are too many packs.

    Every run that writes a big batch adds a pack; lookups slow down as they pile up.
    Writes the new pack first, then deletes what it replaces (only objects it holds).
    """
    objects = Path(repo.path) / "objects"
    pack_dir = objects / "pack"
    old_packs = sorted(pack_dir.glob("pack-*.pack"))
    if len(old_packs) <= MAX_PACKS:
        return False
    builder = pygit2.PackBuilder(repo)
    for commit in repo.walk(head.id, pygit2.enums.SortMode.TOPOLOGICAL):
        builder.add(commit.id)
        builder.add_recur(commit.tree_id)
    builder.write()
    keep = {p.name for p in pack_dir.glob("pack-*.pack")} - {p.name for p in old_packs}
    if len(keep) != 1:
        return False  # not what we expected: leave everything as it is
    for pack in old_packs:
        for suffix in (".pack", ".idx", ".rev", ".keep"):
            pack.with_suffix(suffix).unlink(missing_ok=True)
    packed = pygit2.Odb()
    packed.add_backend(pygit2.OdbBackendPack(str(objects)), 1)  # now only the new pack
    for fanout in objects.glob("[0-9a-f][0-9a-f]"):
        for loose in fanout.iterdir():
            if pygit2.Oid(hex=fanout.name + loose.name) in packed:
                loose.unlink()
    return True
