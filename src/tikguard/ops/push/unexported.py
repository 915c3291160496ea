"""Verifying what RouterOS never exports (issue: ``/user add ... password=...``).

An export has no ``/user`` menu at all, and no command shows a user's password, so a
push that adds or changes a user can never converge by comparing exports. Instead:
the convergence check leaves those menus out (:data:`schema.NEVER_EXPORTED`), this
module reads each named item back with ``print detail`` and compares every property
a print shows, and what nothing shows (:data:`schema.NEVER_SHOWN`) is recorded in the
evidence as "not verifiable from the router" -- never as a failed convergence.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tikguard.device.errors import DeviceError
from tikguard.device.session import DeviceSession
from tikguard.ops.push.results import UnexportedJson
from tikguard.routeros.model import Command, Config
from tikguard.routeros.output import parse_detail
from tikguard.routeros.quoting import quote
from tikguard.routeros.schema import NEVER_EXPORTED, NEVER_SHOWN


@dataclass
class Unexported:
    """What the push sends into menus that are never exported, and what was read."""

    checked: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    not_verifiable: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.missing

    def as_json(self) -> UnexportedJson:
        return UnexportedJson(
            checked=self.checked, missing=self.missing, not_verifiable=self.not_verifiable
        )


def unexported_commands(config: Config) -> list[tuple[str, Command]]:
    """The ``add``/``set`` commands of ``config`` in menus an export never has."""
    return [
        (menu.path, cmd)
        for menu in config.menus
        if menu.path in NEVER_EXPORTED
        for cmd in menu.commands
        if cmd.verb in ("add", "set")
    ]


def _item_name(cmd: Command) -> str | None:
    if cmd.get("name"):
        return cmd.get("name")
    if cmd.selector is not None:
        for prop in cmd.selector.find or ():
            if prop.key == "name" and not prop.flag:
                return prop.value
        ref = cmd.selector.ref
        if ref is not None and not ref.startswith("*") and not ref.isdigit():
            return ref  # a name (``set admin ...``); ids and numbers say nothing to read
    if cmd.args:
        return cmd.args[0]
    return None


async def verify_unexported(session: DeviceSession, config: Config) -> Unexported:
    """Read back, with ``print detail``, every named item the push adds or sets in a
    menu that is never exported; compare what a print shows (the last value the script
    gives each property); name what it cannot."""
    result = Unexported()
    wanted: dict[tuple[str, str], dict[str, str | None]] = {}
    for path, cmd in unexported_commands(config):
        name = _item_name(cmd)
        hidden = NEVER_SHOWN.get(path, frozenset())
        what = f"{path} {name or '(unnamed)'}"
        for prop in cmd.props:
            if prop.key in hidden:
                result.not_verifiable.append(f"{what}: {prop.key} (never shown by RouterOS)")
        if name is None:
            result.not_verifiable.append(f"{what}: no name to read it back by")
            continue
        props = wanted.setdefault((path, name), {})
        props.update({p.key: p.value for p in cmd.props if p.key not in hidden})
        if "name" in props:  # a rename: read it back by its new name
            wanted[(path, str(props["name"]))] = wanted.pop((path, name))
    for (path, name), props in wanted.items():
        what = f"{path} {name}"
        try:
            text = await session.run(f"{path} print detail where name={quote(name)}")
        except DeviceError as exc:
            result.missing.append(f"{what}: cannot be read back ({exc})")
            continue
        items = [i for i in parse_detail(text) if i.props.get("name") == name]
        if not items:
            result.missing.append(f"{what}: not on the router")
            continue
        shown = items[0].props
        wrong = [
            f"{key}={shown.get(key)!r}, not {value!r}"
            for key, value in props.items()
            if key in shown and shown[key] != value
        ]
        if wrong:
            result.missing.append(f"{what}: " + "; ".join(wrong))
        else:
            result.checked.append(what)
    return result
