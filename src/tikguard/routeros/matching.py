"""Which item of the old config is which item of the new one, menu by menu.

Items are matched by the identity :mod:`tikguard.routeros.items` gives them. On top
of exact identity, two pairings keep the result the way an engineer thinks of a change:

* an added item whose properties equal a removed item's except one part of its key
  (``name``, ``address``) is the same item renamed / re-addressed;
* in menus without natural keys (firewall rules), a removed and an added rule that
  sit in the same place and share at least half their properties are one rule changed
  (one that also moved must keep its comment to be recognised).

In ordered menus, equal items are matched by a longest common subsequence, and the
items that keep their relative order are the longest increasing run of matched
positions; every other matched item is moved, so the number of moves is minimal.

When an item's ``name`` changes, RouterOS updates every reference to it; the old side
of menus that depend on the renamed menu is rewritten the same way before they are
compared, so a renamed interface does not show every address and rule using it.

The diff (:mod:`tikguard.routeros.diff`), the patch (:mod:`tikguard.routeros.patch`)
and the push's convergence check all work from this one matching.
"""

from __future__ import annotations

import bisect
import itertools
from dataclasses import dataclass, field
from typing import Final

from tikguard.routeros import defaults as defaults_mod
from tikguard.routeros.items import (
    Item,
    MenuItems,
    collect,
    default_of,
    depends,
    name_of,
    rekey,
    rewrite_refs,
    version_fill,
)
from tikguard.routeros.model import Command, Config
from tikguard.routeros.schema import MenuSchema

#: Two keyless items are one item changed when at least this share of properties agree.
_SIMILARITY: Final = 0.5
#: Above this many candidate pairs in one gap, similar rules are not paired (too costly).
_MAX_PAIRING_WORK: Final = 40_000
#: Above this many equal-identity pairs (thousands of identical rules), equal items are
#: paired in order instead of by longest common subsequence.
_MAX_LCS_WORK: Final = 2_000_000


@dataclass(frozen=True, slots=True)
class PropChange:
    """One property's old and new value; None means not set (its default applies)."""

    prop: str
    old: str | None
    new: str | None
    #: The schema default when the property is not set on one side, if known.
    default: str | None = None


@dataclass(slots=True)
class MenuMatch:
    """How the items of one menu correspond between the old and the new config.

    ``old`` is the old side after reference rewriting (what the device shows after the
    renames earlier in the patch); ``old_raw`` is the old side as exported. Indexes in
    ``pairs``/``removed`` point into both (they are parallel lists).
    """

    path: str
    schema: MenuSchema
    old: list[Item]
    old_raw: list[Item]
    new: list[Item]
    pairs: list[tuple[int, int]] = field(default_factory=list)
    removed: list[int] = field(default_factory=list)
    added: list[int] = field(default_factory=list)
    #: Pairs (old index, new index) whose relative order is kept (ordered menus).
    stayers: set[tuple[int, int]] = field(default_factory=set)
    #: ``name`` changes in this menu, old -> new, which RouterOS propagates.
    renames: dict[str, str] = field(default_factory=dict)
    #: Menu-level commands that are not item configuration, per side.
    opaque_old: list[Command] = field(default_factory=list)
    opaque_new: list[Command] = field(default_factory=list)
    #: Pairs matched by similarity or key change rather than exact identity.
    loose: set[tuple[int, int]] = field(default_factory=set)
    #: What an ``add`` gets on the old side's RouterOS version where that differs from
    #: the canonical default (:func:`items.version_fill`; 6.x adds a DHCP client
    #: disabled), so a patch for that device spells such values out.
    add_fill: dict[str, str] = field(default_factory=dict)


def menu_order(old: dict[str, MenuItems], new: dict[str, MenuItems]) -> list[str]:
    """Every menu path of both sides: the new side's order, old-only menus after the
    menu that preceded them, then stably sorted so a menu follows those it depends on."""
    order = list(new)
    seen = set(order)
    previous: str | None = None
    for path in old:
        if path not in seen:
            at = order.index(previous) + 1 if previous is not None else 0
            order.insert(at, path)
            seen.add(path)
        previous = path
    return topo_sort(order)


def topo_sort(paths: list[str]) -> list[str]:
    """Stable topological sort by schema ``depends_on``; cycles keep the given order."""
    remaining = list(paths)
    result: list[str] = []
    while remaining:
        for i, path in enumerate(remaining):
            if not any(depends(path, other) for other in remaining if other != path):
                result.append(remaining.pop(i))
                break
        else:
            result.append(remaining.pop(0))
    return result


def match(old_config: Config, new_config: Config) -> list[MenuMatch]:
    """Pair the items of both configs menu by menu, in dependency order."""
    old = collect(old_config)
    new = collect(new_config)
    order = menu_order(old, new)
    renamed: list[tuple[str, dict[str, str]]] = []
    matches: list[MenuMatch] = []
    for path in order:
        old_menu = old.get(path)
        new_menu = new.get(path)
        schema = (new_menu or old_menu).schema  # type: ignore[union-attr]
        raw = old_menu.items if old_menu else []
        rewritten = _rewritten(old_menu, renamed) if old_menu else []
        m = MenuMatch(
            path,
            schema,
            rewritten,
            raw,
            new_menu.items if new_menu else [],
            opaque_old=old_menu.opaque if old_menu else [],
            opaque_new=new_menu.opaque if new_menu else [],
            add_fill=version_fill(schema, old_config.meta.ros_version),
        )
        _pair(m)
        if m.renames:
            renamed.append((path, m.renames))
        matches.append(m)
    return matches


def _rewritten(menu: MenuItems, renamed: list[tuple[str, dict[str, str]]]) -> list[Item]:
    renames: dict[str, str] = {}
    for path, names in renamed:
        if depends(menu.path, path):
            renames.update(names)
    if not renames:
        return menu.items
    copy = MenuItems(menu.path, menu.schema)
    for item in menu.items:
        copy.items.append(
            Item(
                item.menu,
                item.key,
                rewrite_refs(item.props, renames),
                item.unset,
                item.selector,
                item.ref,
                item.block,
                item.position,
                rewrite_refs(item.shown, renames),
            )
        )
    rekey(copy)
    return copy.items


def _pair(m: MenuMatch) -> None:
    # Group positions by identity (occurrence aside), each identity hashed once.
    ids: dict[tuple[str, tuple[tuple[str, str], ...]], int] = {}
    old_groups: dict[int, list[int]] = {}
    for i, item in enumerate(m.old):
        gid = ids.setdefault((item.key.kind, item.key.parts), len(ids))
        old_groups.setdefault(gid, []).append(i)
    new_groups: dict[int, list[int]] = {}
    for j, item in enumerate(m.new):
        gid = ids.setdefault((item.key.kind, item.key.parts), len(ids))
        new_groups.setdefault(gid, []).append(j)
    kept: set[tuple[int, int]] = set()
    work = sum(len(olds) * len(new_groups.get(ident, ())) for ident, olds in old_groups.items())
    if m.schema.ordered and work <= _MAX_LCS_WORK:
        # Equal items are interchangeable: the longest common subsequence over
        # identities (Hunt-Szymanski: every equal pair, then the longest run
        # increasing on both sides) says which of them keep their place.
        candidates = [
            (i, j)
            for ident, olds in old_groups.items()
            for i in olds
            for j in new_groups.get(ident, ())
        ]
        kept = set(_lis(candidates))
    used_old = {i for i, _ in kept}
    used_new = {j for _, j in kept}
    m.pairs.extend(kept)
    for ident, news in new_groups.items():
        olds = [i for i in old_groups.get(ident, ()) if i not in used_old]
        rest = [j for j in news if j not in used_new]
        for i, j in zip(olds, rest, strict=False):
            m.pairs.append((i, j))
            used_old.add(i)
            used_new.add(j)
    added: list[int] = []
    for j, item in enumerate(m.new):
        if j in used_new:
            continue
        if item.builtin:
            m.pairs.append((-1, j))  # built-in item all defaults on the old side
        else:
            added.append(j)
    m.pairs.sort(key=lambda p: p[1])
    removed = [i for i in range(len(m.old)) if i not in used_old]
    for i in removed:
        if m.old[i].builtin:
            m.pairs.append((i, -1))  # built-in item back to all defaults
    removed = [i for i in removed if not m.old[i].builtin]
    if m.schema.ordered:
        anchors = _lis([(i, j) for i, j in m.pairs if i >= 0 and j >= 0])
        m.stayers = set(anchors)
        removed, added = _pair_in_gaps(m, anchors, removed, added)
        # A rule both edited and moved lies in different gaps on the two sides; that
        # far apart, only its comment (how engineers name rules) says it is the same.
        removed, added = _pair_loose(m, removed, added, same_comment=True)
    else:
        removed, added = _pair_loose(m, removed, added)
    if m.schema.ordered:
        m.stayers = set(_lis([(i, j) for i, j in m.pairs if i >= 0 and j >= 0]))
    m.removed = removed
    m.added = added
    for i, j in m.pairs:
        if (
            i >= 0
            and j >= 0
            and m.old[i].props.get("name") == m.new[j].props.get("name")
            and m.old[i].selector == m.new[j].selector
        ):
            continue  # same name, same built-in selector: no rename
        old_name = name_of(m.old[i], m.schema) if i >= 0 else default_of(m.schema, m.new[j], "name")
        new_name = name_of(m.new[j], m.schema) if j >= 0 else None
        if old_name is not None and new_name is not None and old_name != new_name:
            m.renames[old_name] = new_name
        elif i >= 0 and j < 0 and "name" in m.old[i].props:
            default = default_of(m.schema, m.old[i], "name")
            if default is not None:
                m.renames[m.old[i].props["name"]] = default


def _lis(pairs: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The longest run of pairs strictly increasing on both sides (O(n log n)).

    Pairs sharing an old position are taken in falling new position, so at most one
    of them can be in the run.
    """
    pairs = sorted(pairs, key=lambda p: (p[0], -p[1]))
    tails: list[int] = []  # new index at the end of the best run of each length
    tail_at: list[int] = []  # which pair that is
    back: list[int] = [-1] * len(pairs)
    for n, (_, j) in enumerate(pairs):
        k = bisect.bisect_left(tails, j)
        if k == len(tails):
            tails.append(j)
            tail_at.append(n)
        else:
            tails[k] = j
            tail_at[k] = n
        back[n] = tail_at[k - 1] if k > 0 else -1
    run: list[tuple[int, int]] = []
    n = tail_at[-1] if tail_at else -1
    while n >= 0:
        run.append(pairs[n])
        n = back[n]
    run.reverse()
    return run


def _pair_in_gaps(
    m: MenuMatch, anchors: list[tuple[int, int]], removed: list[int], added: list[int]
) -> tuple[list[int], list[int]]:
    """Pair leftover old and new items lying between the same two anchors."""
    bounds = [(-1, -1), *anchors, (len(m.old), len(m.new))]
    left_removed: list[int] = []
    left_added: list[int] = []
    r = a = 0
    for (lo_i, lo_j), (hi_i, hi_j) in itertools.pairwise(bounds):
        gap_old = []
        while r < len(removed) and removed[r] < hi_i:
            if removed[r] > lo_i:
                gap_old.append(removed[r])
            r += 1
        gap_new = []
        while a < len(added) and added[a] < hi_j:
            if added[a] > lo_j:
                gap_new.append(added[a])
            a += 1
        rest_old, rest_new = _pair_loose(m, gap_old, gap_new)
        left_removed += rest_old
        left_added += rest_new
    left_removed += removed[r:]
    left_added += added[a:]
    m.pairs.sort(key=lambda p: (p[1] if p[1] >= 0 else 1 << 60, p[0]))
    return sorted(left_removed), sorted(left_added)


def _pair_loose(
    m: MenuMatch, removed: list[int], added: list[int], *, same_comment: bool = False
) -> tuple[list[int], list[int]]:
    """Pair key changes (same properties otherwise) and, in keyless menus, similar items."""
    if not removed or not added:
        return removed, added
    taken_old: set[int] = set()
    taken_new: set[int] = set()
    # Same item, new key: every property except the key's is equal, unambiguously, and
    # either something besides the key is set or only one part of the key changed.
    signatures: dict[tuple[tuple[str, str], ...], list[int]] = {}
    for i in removed:
        signatures.setdefault(_rest(m.old[i]), []).append(i)
    new_sigs: dict[tuple[tuple[str, str], ...], list[int]] = {}
    for j in added:
        new_sigs.setdefault(_rest(m.new[j]), []).append(j)
    for sig, olds in signatures.items():
        news = new_sigs.get(sig, [])
        if (
            len(olds) == 1
            and len(news) == 1
            and m.old[olds[0]].key.kind == "natural"
            and m.new[news[0]].key.kind == "natural"
            and (sig or _key_distance(m.old[olds[0]], m.new[news[0]]) == 1)
        ):
            taken_old.add(olds[0])
            taken_new.add(news[0])
            m.pairs.append((olds[0], news[0]))
            m.loose.add((olds[0], news[0]))
    # Keyless items: the most similar unpaired item, if similar enough.
    rest_old = [i for i in removed if i not in taken_old and m.old[i].key.kind == "content"]
    rest_new = [j for j in added if j not in taken_new and m.new[j].key.kind == "content"]
    if rest_old and rest_new and len(rest_old) * len(rest_new) <= _MAX_PAIRING_WORK:
        for j in rest_new:
            best, best_score = -1, _SIMILARITY - 1e-9
            new_props = m.new[j].props
            comment = new_props.get("comment")
            if same_comment and not comment:
                continue
            for i in rest_old:
                if i in taken_old or (same_comment and m.old[i].props.get("comment") != comment):
                    continue
                score = _similarity(m.old[i].props, new_props)
                if score > best_score:
                    best, best_score = i, score
            if best >= 0:
                taken_old.add(best)
                taken_new.add(j)
                m.pairs.append((best, j))
                m.loose.add((best, j))
    return (
        [i for i in removed if i not in taken_old],
        [j for j in added if j not in taken_new],
    )


def _key_distance(a: Item, b: Item) -> int:
    """How many parts of the natural key differ (a different key shape counts as many)."""
    if [k for k, _ in a.key.parts] != [k for k, _ in b.key.parts]:
        return len(a.key.parts) + len(b.key.parts)
    return sum(1 for x, y in zip(a.key.parts, b.key.parts, strict=True) if x != y)


def _rest(item: Item) -> tuple[tuple[str, str], ...]:
    keys = {k for k, _ in item.key.parts}
    return tuple(sorted((k, v) for k, v in item.props.items() if k not in keys))


def _similarity(a: dict[str, str], b: dict[str, str]) -> float:
    if not a or not b:
        return 0.0
    same = sum(1 for k, v in a.items() if b.get(k) == v)
    return same / max(len(a), len(b))


def prop_changes(m: MenuMatch, i: int, j: int) -> list[PropChange]:
    """What differs between old item ``i`` and new item ``j`` (-1: built-in at defaults)."""
    old_item = m.old[i] if i >= 0 else None
    new_item = m.new[j] if j >= 0 else None
    old = old_item.props if old_item else {}
    new = new_item.props if new_item else {}
    if old == new:
        return []
    item = new_item or old_item
    # A hardware-reported value (a port's MAC address) that only one side shows is that
    # port's factory value as far as anyone can tell (see defaults.REPORTED).
    reported = defaults_mod.reported(m.path) if item is not None and item.builtin else None
    changes: list[PropChange] = []
    for key, value in new.items():
        if old.get(key) != value:
            before = old.get(key)
            if before is None and reported and key in reported:
                continue
            default = default_of(m.schema, item, key) if before is None else None
            if before is None and default == value:
                continue
            changes.append(PropChange(key, before, value, default))
    for key, value in old.items():
        if key not in new:
            if reported and key in reported:
                continue
            default = default_of(m.schema, item, key)
            if default == value:
                continue
            changes.append(PropChange(key, value, None, default))
    return changes
