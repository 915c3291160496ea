"""``/export`` as RouterOS prints it, built on the shared serialiser.

The router's database becomes a :class:`~tikguard.routeros.model.Config` (compact: only
values that differ from the factory ones; verbose: every known value) and
:func:`tikguard.routeros.serialise.serialise` lays it out, so the simulator and the
parser agree on wrapping and quoting by construction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tikguard.routeros import schema as schema_mod
from tikguard.routeros.lexer import split_words
from tikguard.routeros.model import Command, Config, ExportMeta, Menu, Prop, Selector
from tikguard.routeros.serialise import format_export_date, serialise
from tikguard.sim.configdb import ConfigDB, Item, MenuState, Value
from tikguard.sim.profiles import ModelProfile, Profile

#: Menus that hold state RouterOS never exports (users and their passwords).
NOT_EXPORTED = frozenset({"/user", "/file", "/system history"})


@dataclass(frozen=True)
class ExportOptions:
    style: str = "compact"  # compact | verbose | terse
    show_sensitive: bool = False
    scope: str | None = None  # "/ip address" for a scoped export
    width: int = 80


@dataclass(frozen=True)
class DeviceIds:
    software_id: str
    serial_number: str
    system_id: str


def selector_for(ref: str) -> Selector:
    """A built-in item's export reference as a parsed selector."""
    if ref.startswith("["):
        words = split_words(ref)
        props = tuple(Prop(w.key, w.value) for w in words if w.kind == "prop" and w.key)
        return Selector(find=props)
    return Selector(ref=ref)


def _props(values: dict[str, Value], sensitive: frozenset[str], show: bool) -> tuple[Prop, ...]:
    out = []
    for key in sorted(values):
        if not show and key in sensitive:
            continue
        out.append(Prop(key, values[key]))
    return tuple(out)


def _item_command(
    item: Item, verbose: bool, sensitive: frozenset[str], show: bool
) -> Command | None:
    if item.builtin:
        values: dict[str, Value] = dict(item.effective()) if verbose else item.changed()
        if verbose:
            values.update({k: None for k, v in item.values.items() if v is None})
        if item.ref is not None and "name" in item.values and item.ref == item.base.get("name"):
            values["name"] = item.values["name"]  # ``set zt1 name=zt1``: printed as set
        selector = selector_for(item.ref or "")
        implied = [p.key for p in selector.find or ()]
        if selector.ref is not None and item.base.get("name") == selector.ref:
            implied.append("name")
        for key in implied:
            if key not in item.values:
                values.pop(key, None)
        if not verbose and not values and not item.flags:
            return None
        return Command(
            "set",
            _props(values, sensitive, show),
            selector=selector,
            args=item.flags,
        )
    values = {k: v for k, v in item.values.items()}
    return Command("add", _props(values, sensitive, show), args=item.flags)


def _menu_commands(path: str, state: MenuState, opts: ExportOptions, show: bool) -> list[Command]:
    schema = schema_mod.lookup(path)
    sensitive = schema.sensitive
    verbose = opts.style == "verbose"
    commands: list[Command] = []
    if not state.items:
        if verbose:
            values: dict[str, Value] = dict(state.singleton_effective())
        else:
            values = {k: v for k, v in state.values.items() if state.base.get(k) != v}
        if values:
            commands.append(Command("set", _props(values, sensitive, show)))
        return commands
    for item in state.items:
        if item.dynamic:
            continue
        command = _item_command(item, verbose, sensitive, show)
        if command is not None:
            commands.append(command)
    return commands


def in_scope(path: str, scope: str | None) -> bool:
    return scope is None or path == scope or path.startswith(scope + " ")


def build_config(
    db: ConfigDB,
    opts: ExportOptions,
    *,
    profile: Profile,
    model: ModelProfile,
    ids: DeviceIds,
    now: datetime,
) -> Config:
    """The router's configuration as a Config, with the header RouterOS would print."""
    show = opts.show_sensitive
    menus: list[Menu] = []
    for path, state in db.menus():
        if path in NOT_EXPORTED or not in_scope(path, opts.scope):
            continue
        commands = _menu_commands(path, state, opts, show)
        if commands:
            menus.append(Menu(path, commands))
    return Config(menus=menus, meta=_meta(opts, profile, model, ids, now))


def _meta(
    opts: ExportOptions, profile: Profile, model: ModelProfile, ids: DeviceIds, now: datetime
) -> ExportMeta:
    chr_board = model.export_model is None
    system_id = ids.system_id if chr_board and profile.chr_system_id else None
    software_id = None if system_id is not None else ("" if chr_board else ids.software_id)
    return ExportMeta(
        ros_version=profile.version,
        exported_at=format_export_date(now, profile.version),
        model=model.export_model,
        serial_number=None if chr_board else ids.serial_number,
        software_id=software_id,
        system_id=system_id,
        style=opts.style,
    )


def export_date_line(now: datetime, profile: Profile) -> str:
    """The export's first line as :func:`render` prints it (``# <date> by RouterOS <v>``)."""
    return f"# {format_export_date(now, profile.version)} by RouterOS {profile.version}"


def render(config: Config, opts: ExportOptions, *, profile: Profile) -> str:
    """The export text (``\\n`` line ends) for a built config."""
    style = "terse" if opts.style == "terse" else "compact"
    return serialise(
        config,
        style=style,
        width=opts.width,
        dotted_shorthand=profile.is_v7,
    )
