"""Seed simulated routers with real configurations (``tikguard sim run --config-from``).

A fleet of blank routers exports a few hundred bytes each; real routers export tens of
kilobytes. Seeding makes a simulated fleet look like a real one: each export file (the
test corpus, or a user's own ``/export`` files) is imported once into a router of its
RouterOS version whose ports and built-in items match it (as the fidelity check does,
:func:`tikguard.sim.fidelity.matching_router`), and that configuration becomes the
shared, copy-on-write factory base of every fleet router seeded from it, so a thousand
seeded routers cost little more memory than a thousand blank ones.

A file is used only if the simulator can load it and can load what it exports again:

1. it parses, and its RouterOS version is one the simulator models;
2. ``/import`` of it ends with ``Script file loaded and executed successfully``;
3. the seeded router's own export (compact, secrets shown) imports into a fresh
   router the same way.

Any other file is skipped, with its reason in :attr:`SeedSet.skipped`.

Management access. The fleet reaches its routers on 127.0.0.0/8, which no real config
allows. As an operator onboarding a router would, the seed adds what management needs
and nothing else: ``/ip service ssh`` (and ``api``, ``api-ssl``) enabled and, where an
``address=`` list restricts it, 127.0.0.0/8 appended to it; an accept rule for
127.0.0.0/8 at the top of the ``input`` chain (``/ip firewall filter``) and of the
``prerouting`` chain (``/ip firewall raw``) where those menus hold rules. Each router's
management address is added by the fleet as for blank routers. The service ports stay
as the export has them (SSH on 3322 stays on 3322; the fleet's inventory says where
each router listens).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tikguard.routeros.errors import ParseError
from tikguard.routeros.parse import parse
from tikguard.sim.configdb import Item, MenuState
from tikguard.sim.defaults import Builtins
from tikguard.sim.fidelity import matching_router
from tikguard.sim.profiles import profile_for
from tikguard.sim.router import SimRouter

#: The networks the fleet's routers are managed from (every loopback address).
MANAGEMENT_NETWORK = "127.0.0.0/8"
#: The comment on what seeding adds for management access.
MANAGEMENT_COMMENT = "tikguard sim: management access"
#: The services management uses (SSH; the RouterOS API, plain and TLS).
MANAGEMENT_SERVICES = ("ssh", "api", "api-ssl")
_LOADED = "Script file loaded and executed successfully"


@dataclass(frozen=True)
class Seed:
    """One usable export: what a router seeded from it starts with."""

    source: str
    version: str
    interfaces: tuple[str, ...]
    builtins: Builtins
    #: The configuration after import and management access, as a factory base.
    base: Mapping[str, MenuState]
    #: Bytes of the seeded router's compact export (secrets shown).
    export_bytes: int


@dataclass(frozen=True)
class Skipped:
    source: str
    reason: str


@dataclass
class SeedSet:
    seeds: list[Seed] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)

    def for_index(self, index: int) -> Seed:
        """The seed of the fleet's ``index``-th router: the files in turn."""
        return self.seeds[index % len(self.seeds)]


def seed_files(spec: Path) -> list[Path]:
    """The export files ``spec`` names: the file itself, or a folder's ``*.rsc`` files."""
    if spec.is_dir():
        files = sorted(p for p in spec.iterdir() if p.suffix == ".rsc" and p.is_file())
        if not files:
            raise ValueError(f"{spec} holds no .rsc files")
        return files
    if not spec.is_file():
        raise ValueError(f"{spec} is neither an export file nor a folder of them")
    return [spec]


async def load_seeds(files: Sequence[Path]) -> SeedSet:
    """Every file that can seed a router, and every one that cannot, with its reason."""
    out = SeedSet()
    for path in files:
        try:
            text = path.read_bytes().decode("utf-8", "surrogateescape")
        except OSError as exc:
            out.skipped.append(Skipped(str(path), f"cannot read it: {exc.strerror or exc}"))
            continue
        result = await seed_from_text(text, source=str(path))
        if isinstance(result, Skipped):
            out.skipped.append(result)
        else:
            out.seeds.append(result)
    return out


async def seed_from_text(text: str, *, source: str) -> Seed | Skipped:
    """Load one export into a matching router (see the module notes for the checks)."""
    try:
        original = parse(text, source=source)
    except ParseError as exc:
        return Skipped(source, f"does not parse: {exc.describe()}")
    version = original.meta.ros_version
    if not version:
        return Skipped(source, "no RouterOS version in its header")
    try:
        profile = profile_for(version)
    except ValueError as exc:
        return Skipped(source, str(exc))
    router = matching_router(original)
    output = await _import(router, text)
    if output is not None:
        return Skipped(source, f"/import stops: {output}")
    open_management(router)
    show = "" if profile.sensitive_shown_by_default else " show-sensitive"
    exported = await router.execute(f"/export{show}", user="admin")
    again = matching_router(parse(exported, source=f"{source} (re-exported)"))
    output = await _import(again, exported)
    if output is not None:
        return Skipped(source, f"its export does not import again: {output}")
    ethers = router.interfaces or ()
    return Seed(
        source=source,
        version=version,
        interfaces=ethers,
        builtins=router.extra_builtins or {},
        base={path: state.copy() for path, state in router.db.menus()},
        export_bytes=len(exported.encode("utf-8", "surrogateescape")),
    )


async def _import(router: SimRouter, text: str) -> str | None:
    """None when ``/import`` of ``text`` succeeds, else the line that says why not."""
    router.files.write("seed.rsc", text.encode("utf-8", "surrogateescape"))
    output = await router.execute("/import file-name=seed.rsc", user="admin")
    router.files.remove("seed.rsc")
    if output.rstrip().endswith(_LOADED):
        return None
    lines = [line for line in output.splitlines() if line.strip()]
    return lines[-1] if lines else "no output"


def open_management(router: SimRouter) -> None:
    """Let 127.0.0.0/8 manage the router (see the module notes), changing nothing else."""
    db = router.db
    services = db.read("/ip service")
    for item in services.items if services is not None else []:
        if item.get("name") not in MANAGEMENT_SERVICES:
            continue
        allowed = item.get("address") or ""
        needs_address = bool(allowed) and MANAGEMENT_NETWORK not in allowed.split(",")
        if item.disabled or needs_address:
            state = db.write("/ip service")
            own = next(i for i in state.items if i.id == item.id)
            if own.disabled:
                own.values["disabled"] = "no"
            if needs_address:
                own.values["address"] = f"{allowed},{MANAGEMENT_NETWORK}"
    for path, chain in (("/ip firewall filter", "input"), ("/ip firewall raw", "prerouting")):
        rules = db.read(path)
        if rules is None or not rules.items:
            continue
        state = db.write(path)
        values: dict[str, str | None] = {
            "action": "accept",
            "chain": chain,
            "comment": MANAGEMENT_COMMENT,
            "src-address": MANAGEMENT_NETWORK,
        }
        state.items.insert(0, Item(id=state.new_id(), values=values))
