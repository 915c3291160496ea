"""Patch convergence on the simulator: load A, import patch(A, B), export, compare with B.

Also a small mutator that turns a real export into a plausible edited version of
itself (comments, rule order, rules added and removed, leaf items removed, identity),
so the corpus gives many realistic pairs.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace

from tikguard.routeros.commands import command_tree
from tikguard.routeros.diff import Diff, diff
from tikguard.routeros.items import depends
from tikguard.routeros.model import Command, Config, Menu, Prop
from tikguard.routeros.parse import parse
from tikguard.routeros.patch import Patch, make_patch
from tikguard.routeros.schema import lookup
from tikguard.routeros.serialise import serialise

try:
    from tikguard.sim.clock import SimClock
    from tikguard.sim.defaults import builtins_for_export
    from tikguard.sim.router import SimRouter

    SIM_ERROR: str | None = None
except ImportError as exc:  # the simulator is optional for the pure tests
    SIM_ERROR = f"simulator not available: {exc}"

_OK = "Script file loaded and executed successfully"


@dataclass
class Outcome:
    patch: Patch
    #: What the import of the patch printed (errors included).
    output: str
    #: What still differs between the router's export and the target.
    remaining: Diff

    @property
    def converged(self) -> bool:
        return self.output.rstrip().endswith(_OK) and not _config_differences(self.remaining)


def _config_differences(remaining: Diff) -> list[str]:
    """Item differences; console commands (``:delay``) are not configuration."""
    out = []
    for menu in remaining.menus:
        out += [f"{menu.path} {i.op} {i.item}" for i in menu.items]
        out += [
            f"{menu.path} {c}"
            for c in (*menu.commands_added, *menu.commands_removed)
            if not c.startswith(":")
        ]
    return out


def describe(outcome: Outcome) -> str:
    return (
        f"script:\n{outcome.patch.script}\nimport said:\n{outcome.output}\n"
        f"still differs:\n{outcome.remaining.to_text()}"
    )


async def converge(a: Config, b: Config, ports: tuple[str, ...] | None = None) -> Outcome:
    """Run patch(a, b) on a simulated router loaded with ``a``.

    ``ports``: the board's ethernet ports. When given, the router refuses references to
    interfaces that do not exist (as RouterOS does); an export alone does not list the
    ports it leaves unconfigured, so without them that check is off.
    """
    builtins = builtins_for_export(a)
    for path, entries in builtins_for_export(b).items():
        have = builtins.setdefault(path, [])
        have.extend(entry for entry in entries if entry not in have)
    ethers = tuple(
        values["default-name"]
        for _, values in builtins.pop("/interface ethernet", [])
        if "default-name" in values
    )
    if ports is not None:
        ethers = tuple(dict.fromkeys((*ports, *ethers)))
    router = SimRouter(
        name="MikroTik",
        version=a.meta.ros_version or "7.16",
        clock=SimClock(time_scale=1000.0),
        interfaces=ethers or None,
        extra_builtins=builtins,
        check_references=ports is not None,
    )
    router.files.capacity = 1 << 30
    router.files.write("a.rsc", serialise(a).encode("utf-8", "surrogateescape"))
    loaded = await router.execute("/import file-name=a.rsc", user="admin")
    assert loaded.rstrip().endswith(_OK), f"the simulator did not load A:\n{loaded}"
    patch = make_patch(a, b)
    router.files.write("patch.rsc", patch.script.encode("utf-8", "surrogateescape"))
    output = await router.execute("/import file-name=patch.rsc verbose=yes", user="admin")
    style = " verbose" if b.meta.style == "verbose" else ""
    # 7.x hides secrets unless asked; 6.x shows them by default and refuses the word.
    sensitive = " show-sensitive" if router.profile.is_v7 else ""
    exported = await router.execute(f"/export{sensitive}{style}", user="admin")
    return Outcome(patch, output, diff(parse(exported), b))


_RENAME = (
    "/interface bridge\nadd name=br1\n/ip address\nadd address=192.0.2.1/24 interface=br1\n",
    "/interface bridge\nadd name=br2\n/ip address\nadd address=192.0.2.1/24 interface=br2\n",
)
_PLACE = (
    "/ip firewall filter\nadd chain=input comment=a\nadd chain=input comment=b\n",
    "/ip firewall filter\nadd chain=input comment=c\nadd chain=input comment=a\n"
    "add chain=input comment=b\n",
)
_PICK = (
    "/ip firewall filter\nadd action=drop chain=input\nadd action=drop chain=input protocol=tcp\n",
    "/ip firewall filter\nadd action=drop chain=input protocol=tcp\n",
)


async def _works(pair: tuple[str, str]) -> bool:
    return (await converge(parse(pair[0]), parse(pair[1]))).converged


async def simulator_gaps() -> dict[str, str]:
    """RouterOS behaviour patches rely on that the simulator does not have yet.

    Keyed by a marker of the patch text that needs it; the value says what is missing.
    """
    gaps: dict[str, str] = {}
    if not await _works(_RENAME):
        gaps["rename"] = "update references to a renamed item (RouterOS refers by object)"
    if not await _works(_PLACE):
        gaps["=["] = (
            "take a [ find ... ] substitution as a property value (place-before=, destination=)"
        )
    if not await _works(_PICK):
        gaps[":pick"] = "evaluate [ :pick [ find dynamic=no ] N ]"
    return gaps


def needs(patch: Patch, marker: str) -> bool:
    if marker == "rename":
        return any(
            line.startswith("set ") and " name=" in line.rsplit("]", 1)[-1] for line in patch.lines
        )
    return marker in patch.script


# -- edits of real exports ---------------------------------------------------------


def _leaf_menus(config: Config) -> set[str]:
    """Menus no other menu of this config refers to: removing their items is safe."""
    paths = config.menu_paths()
    return {p for p in paths if not any(depends(other, p) for other in paths)}


def mutate(config: Config, rng: random.Random, edits: int = 4) -> Config:
    """An edited copy of ``config``: the kinds of change engineers make every day."""
    menus = [Menu(m.path, list(m.commands)) for m in config.menus]
    leaves = _leaf_menus(config)
    for _ in range(edits):
        candidates = [m for m in menus if any(c.verb in ("add", "set") for c in m.commands)]
        if not candidates:
            break
        menu = rng.choice(candidates)
        schema = lookup(menu.path)
        adds = [n for n, c in enumerate(menu.commands) if c.verb == "add"]
        kind = rng.choice(["comment", "comment", "move", "remove", "copy"])
        if kind == "move" and schema.ordered and len(adds) > 1:
            command = menu.commands.pop(rng.choice(adds))
            menu.commands.insert(rng.choice(adds[:-1]), command)
        elif kind == "remove" and adds and (schema.ordered or menu.path in leaves):
            menu.commands.pop(rng.choice(adds))
        elif kind == "copy" and adds and schema.ordered and not schema.keys:
            source = menu.commands[rng.choice(adds)]
            copy = _with(source, "comment", f"copy {rng.randrange(1000)}")
            menu.commands.insert(rng.choice(adds), copy)
        else:
            n = rng.randrange(len(menu.commands))
            command = menu.commands[n]
            plain_set = command.verb == "set" and command.selector is None and not command.args
            if command.verb not in ("add", "set") or plain_set or schema.singleton:
                continue
            if not _takes_comment(menu.path):
                continue  # RouterOS refuses ``comment=`` there (``/queue type``, ``/port``)
            value = rng.choice([None, f"edited {rng.randrange(1000)}", 'odd "$[;]" ü'])
            menu.commands[n] = _with(command, "comment", value)
    return Config([m for m in menus if m.commands], config.meta)


def _takes_comment(path: str) -> bool:
    """Whether RouterOS's ``set`` in ``path`` has a ``comment`` argument (or is not known)."""
    node = command_tree().menu(path)
    args = node.arguments("set") if node is not None else None
    return args is None or "comment" in args


def _with(command: Command, key: str, value: str | None) -> Command:
    props = tuple(p for p in command.props if p.key != key)
    if value is not None:
        props = (*props, Prop(key, value))
    return replace(command, props=props)
