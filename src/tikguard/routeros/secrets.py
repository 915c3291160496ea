"""Split sensitive values out of a Config, and put them back.

Versions kept for diffing carry placeholders instead of secrets; the secrets map is
stored encrypted beside the version (``store``) and merged back when that version is
pushed. Which properties are sensitive is :mod:`tikguard.routeros.schema`'s call.

Placeholders, ``tikguard-secret:<tag>``:

* with a caller-provided ``key`` (the tenant's secret-tagging key from the store):
  ``<tag>`` is the first 24 hex digits of HMAC-SHA256(key, value). Equal secrets get
  equal placeholders, across items and versions, so a diff shows exactly when a secret
  changed and nothing more; without the key the tag cannot be checked against guesses.
* without a key: ``<tag>`` is the secret's place (``/ppp secret[2].password``, the
  index counting every command on that path, across repeated menu blocks). It
  reveals nothing, but a diff cannot tell that a secret changed.

Empty values stay empty (an empty password is configuration worth seeing, not a
secret). Out of scope: secrets written inside script text (``/system script
source=``, scheduler ``on-event=``), which are opaque strings to this layer.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import replace

from tikguard.routeros.model import Command, Config, Menu, Prop
from tikguard.routeros.schema import lookup

PREFIX = "tikguard-secret:"


class MissingSecretError(KeyError):
    """A redacted config names a placeholder the secrets map does not hold."""

    def __init__(self, placeholder: str, where: str) -> None:
        self.placeholder = placeholder
        self.where = where
        super().__init__(
            f"{where}: no stored secret for {placeholder!r}; the secrets kept with this "
            "version are incomplete, so it cannot be pushed as it is"
        )


def is_placeholder(value: str | None) -> bool:
    return value is not None and value.startswith(PREFIX)


def placeholder(value: str, *, key: bytes | None, where: str) -> str:
    """The placeholder for one secret value (see the module notes)."""
    if key is None:
        return PREFIX + where
    digest = hmac.new(key, value.encode("utf-8", "surrogateescape"), hashlib.sha256)
    return PREFIX + digest.hexdigest()[:24]


def split_secrets(config: Config, *, key: bytes | None = None) -> tuple[Config, dict[str, str]]:
    """``(redacted config, {placeholder: secret})``; ``config`` is not changed."""
    secrets: dict[str, str] = {}
    menus: list[Menu] = []
    seen: dict[str, int] = {}
    for menu in config.menus:
        sensitive = lookup(menu.path).sensitive
        commands: list[Command] = []
        for index, command in enumerate(menu.commands, seen.get(menu.path, 0)):
            if not any(p.key in sensitive and p.value for p in command.props):
                commands.append(command)
                continue
            props: list[Prop] = []
            for prop in command.props:
                if prop.key in sensitive and prop.value and not prop.flag:
                    where = f"{menu.path}[{index}].{prop.key}"
                    tag = placeholder(prop.value, key=key, where=where)
                    secrets[tag] = prop.value
                    props.append(replace(prop, value=tag))
                else:
                    props.append(prop)
            commands.append(replace(command, props=tuple(props)))
        seen[menu.path] = seen.get(menu.path, 0) + len(menu.commands)
        menus.append(Menu(path=menu.path, commands=commands))
    return Config(menus=menus, meta=config.meta), secrets


def merge_secrets(redacted: Config, secrets: dict[str, str]) -> Config:
    """Put the secrets back: the exact inverse of :func:`split_secrets`.

    Raises :class:`MissingSecretError` when a placeholder has no value in ``secrets``.
    """
    menus: list[Menu] = []
    seen: dict[str, int] = {}
    for menu in redacted.menus:
        sensitive = lookup(menu.path).sensitive
        commands: list[Command] = []
        for index, command in enumerate(menu.commands, seen.get(menu.path, 0)):
            if not any(p.key in sensitive and is_placeholder(p.value) for p in command.props):
                commands.append(command)
                continue
            props: list[Prop] = []
            for prop in command.props:
                if prop.key in sensitive and prop.value is not None and is_placeholder(prop.value):
                    value = secrets.get(prop.value)
                    if value is None:
                        raise MissingSecretError(prop.value, f"{menu.path}[{index}].{prop.key}")
                    props.append(replace(prop, value=value))
                else:
                    props.append(prop)
            commands.append(replace(command, props=tuple(props)))
        seen[menu.path] = seen.get(menu.path, 0) + len(menu.commands)
        menus.append(Menu(path=menu.path, commands=commands))
    return Config(menus=menus, meta=redacted.meta)
