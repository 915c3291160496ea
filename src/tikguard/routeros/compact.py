"""The compact form of an export: what RouterOS's ``/export`` (compact) prints for the
configuration a verbose export shows.

A verbose export prints every property, ``!key`` for the ones without a value; the
compact one leaves out what equals the factory value on that RouterOS version. This
module does the same from tikguard's knowledge (:mod:`tikguard.routeros.defaults` and
the schema's defaults): ``!key`` goes, a value equal to its default goes, a built-in
item or singleton with nothing left goes, and a menu with no command left goes.
Hardware-reported values of built-in items (:data:`defaults.REPORTED`) go as well,
except a MAC address that differs from the port's own and the values a verbose export
cannot tell from the hardware's (:data:`defaults.UNKNOWN_IN_VERBOSE`), which stay.

Checked against the one router of the corpus exported both ways (RouterOS 6.49.7):
the compact form of its verbose export is its compact export, line for line within
each menu (``tests/routeros/test_defaults.py``); RouterOS orders a few menus
differently in its compact export (``/interface wireless`` before ``/interface vlan``),
an order this form does not reproduce. RouterOS 7 prints some
defaults in compact exports too (``disabled=no``); the corpus has no 7.x verbose
export to check them against.
"""

from __future__ import annotations

from tikguard.routeros import defaults as defaults_mod
from tikguard.routeros import schema as schema_mod
from tikguard.routeros.model import Command, Config, Menu


def compact_form(config: Config) -> Config:
    """``config`` as a compact export of the same router would show it."""
    version = config.meta.ros_version
    menus: list[Menu] = []
    for menu in config.menus:
        commands = [
            c for c in (_compact(menu.path, command, version) for command in menu.commands) if c
        ]
        if commands:
            menus.append(Menu(menu.path, commands))
    return Config(menus=menus, meta=config.meta)


def _compact(path: str, command: Command, version: str | None) -> Command | None:
    if command.verb not in ("add", "set"):
        return command
    schema = schema_mod.lookup(path)
    kept = {p.key for p in command.props if p.value is not None}
    values = {p.key: p.value for p in command.props if p.value is not None}
    keep = defaults_mod.always_printed(path, version)
    derived = schema_mod.derived_values(path, values)
    if command.verb == "add":
        if command.selector is not None:
            return command
        defaults = {**schema_mod.defaults_for(schema, version)}
        defaults.update(defaults_mod.menu_factory(path, version).every)
        defaults.setdefault("comment", "")
        defaults.setdefault("disabled", "no")
        if defaults_mod.major(version) < 7:
            defaults.update(defaults_mod.IMPLIED.get(path, {}))
        drop = {k for k, v in values.items() if defaults.get(k) == v and k not in keep}
    else:
        found = defaults_mod.parts_of(command)
        if found is None:
            return command
        parts, _ = found
        defaults = {**schema.defaults, "comment": ""}
        defaults.update(defaults_mod.item_defaults(path, parts, version, values.get("name")))
        for key, value in parts:
            if key in ("name", "default-name"):
                defaults["name"] = value
        reported = defaults_mod.reported(path) - defaults_mod.UNKNOWN_IN_VERBOSE.get(path, set())
        drop = {
            k
            for k, v in values.items()
            if k not in keep
            and (
                defaults.get(k) == v
                or derived.get(k) == v
                or (k in reported and k not in derived)
                or any(k == key for key, _ in parts)
            )
        }
    props = tuple(p for p in command.props if p.key in kept - drop)
    if command.verb == "set" and not props and not _flags(command):
        return None
    return Command(
        command.verb, props, selector=command.selector, args=command.args, notes=command.notes
    )


def _flags(command: Command) -> tuple[str, ...]:
    """Positional words other than a bare item reference (``set telnet``)."""
    if command.selector is None and command.args:
        return command.args[1:]
    return command.args
