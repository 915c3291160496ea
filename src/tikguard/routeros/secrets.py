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
secret). Confidential values (:attr:`schema.MenuSchema.confidential`: SNMP community
names, container environment values) are redacted like sensitive ones.

Secrets inside script text
--------------------------

Script properties (:attr:`schema.MenuSchema.scripts`: ``/system script source``,
scheduler ``on-event``, netwatch ``up-script``/``down-script``, VRRP ``on-master``/
``on-backup``, DHCP ``lease-script``, PPP profile ``on-up``/``on-down``, ...) are
scanned, and the *literal* values below are replaced by placeholders inside the text
(:func:`script_secrets` finds them):

* an argument whose name is a credential: a sensitive property name, or one ending in
  ``password``, ``passwd``, ``passphrase``, ``secret``, ``token``, ``psk`` or ``-key``
  (``public-key`` aside): ``/tool fetch ... password=x``, ``?token=x`` in a URL,
  ``export-passphrase="x"``, also inside a nested string (``password=\"x\"``);
* a variable set to a literal whose name ends in ``pass``, ``password``, ``passwd``,
  ``passphrase``, ``pwd``, ``secret``, ``token``, ``psk`` or ``key``
  (``:local MailPass "x"``, ``:global TelegramToken "x"``);
* a Telegram bot token (``123456789:AA...``, 30+ characters after the colon) anywhere,
  and the password in a URL's ``user:password@``.

A value that is only a variable or an expression (``$FTPPass``, ``"$key"``, ``[...]``)
is left alone: it names the secret, it is not one. Inline placeholders have the same
form (``tikguard-secret:`` + 24 hex digits with a key; without one the place,
``/system/script[3].source#1``), so equal secrets look equal across scripts and
properties. The rule is checked, not trusted: the split keeps an inline redaction only
if putting the values back gives the text byte for byte; otherwise (or when the text
already contains ``tikguard-secret:``) the whole script value becomes one placeholder.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Final

from tikguard.routeros import defaults
from tikguard.routeros.model import Command, Config, Menu, Prop
from tikguard.routeros.parse import parse
from tikguard.routeros.schema import SENSITIVE_EVERYWHERE, lookup
from tikguard.routeros.serialise import serialise

PREFIX = "tikguard-secret:"
#: What screens, events and logs show instead of a secret value.
HIDDEN: Final = "(hidden)"

#: An inline placeholder in script text: keyed (24 hex digits) or keyless (a place
#: without spaces, ``/system/script[3].source#1``).
_INLINE: Final = re.compile(
    re.escape(PREFIX) + r"(?:[0-9a-f]{24}|/[A-Za-z0-9/._-]*\[[0-9]+\]\.[A-Za-z0-9._-]+#[0-9]+)"
)
_VALUE: Final = r"""(?:"(?:[^"\\\n]|\\.)*"|\\"(?:[^"\\\n]|\\[^"])*\\"|[^\s;\]\)}&"\\]+)"""
#: Zero-width, so an argument inside another's quoted value (``url="...?token=x"``) is
#: found too.
_ARG: Final = re.compile(r"(?<![\w.-])(?=(?P<name>[A-Za-z][\w.-]*)=(?P<value>" + _VALUE + "))")
_ARG_NAME: Final = re.compile(
    r"(?i)(?:password|passwd|passphrase|secret|token|psk|(?<!public)-key)$"
)
_VAR: Final = re.compile(
    r":(?:local|global|set)\s+(?P<name>[\w-]+)\s+(?P<value>"
    + r"""(?:"(?:[^"\\\n]|\\.)*"|\\"(?:[^"\\\n]|\\[^"])*\\"|[^\s;\]\)}"\\(\[${=]++(?![={]))"""
    + ")"
)
_VAR_NAME: Final = re.compile(
    r"(?i)(?:pass|password|passwd|passphrase|pwd|pw|secret|token|psk|key)$"
)
_TELEGRAM: Final = re.compile(r"(?:(?<=bot)|(?<![\w:]))[0-9]{6,}:[A-Za-z0-9_-]{30,}(?![\w-])")
_URL_PASSWORD: Final = re.compile(r"://[^\s:/@\"\\]+:(?P<value>[^\s@/\"\\]+)@")


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


def _content(match: re.Match[str], group: str) -> tuple[int, int]:
    """The span of a matched value without its quotes (plain or ``\\"``-escaped)."""
    start, end = match.span(group)
    value = match.group(group)
    if value.startswith('\\"'):
        return start + 2, end - 2
    if value.startswith('"'):
        return start + 1, end - 1
    return start, end


def _literal(text: str) -> bool:
    """A value worth hiding: not empty, not a variable or an expression."""
    return bool(text) and text[0] not in "$[(" and not text.startswith("\\$")


def script_secrets(text: str) -> list[tuple[int, int]]:
    """Where credentials are written literally in script ``text`` (see the module notes):
    sorted, non-overlapping ``(start, end)`` spans of the values."""
    spans: list[tuple[int, int]] = []
    for match in _ARG.finditer(text):
        name = match.group("name").lower()
        if name in SENSITIVE_EVERYWHERE or _ARG_NAME.search(name):
            spans.append(_content(match, "value"))
    for match in _VAR.finditer(text):
        if _VAR_NAME.search(match.group("name")):
            spans.append(_content(match, "value"))
    spans += [m.span() for m in _TELEGRAM.finditer(text)]
    spans += [m.span("value") for m in _URL_PASSWORD.finditer(text)]
    out: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if out and start < out[-1][1]:
            continue
        if _literal(text[start:end]):
            out.append((start, end))
    return out


def hide_script_secrets(text: str, shown: str) -> str:
    """``text`` with every literal credential (not already a placeholder) as ``shown``."""
    spans = script_secrets(text)
    if not spans:
        return text
    parts: list[str] = []
    at = 0
    for start, end in spans:
        value = text[start:end]
        parts += [text[at:start], value if is_placeholder(value) else shown]
        at = end
    parts.append(text[at:])
    return "".join(parts)


#: A line that names a menu (``/ppp secret``, ``/snmp community add ...``,
#: ``/ip/firewall/filter``), possibly behind an import's echo prefix.
_MENU_WORDS: Final = re.compile(
    r"^\s*(?:#line \d+:\s*)?/(?P<words>[^\s=\[\]\"]*(?:\s+[a-z][a-z0-9-]*)*)"
)
_VERBS: Final = frozenset(
    [
        "add",
        "set",
        "remove",
        "print",
        "enable",
        "disable",
        "move",
        "unset",
        "export",
        "edit",
        "find",
        "reset",
        "get",
        "comment",
    ]
)


def _menu_of(line: str, current: str) -> str:
    """The menu a line of RouterOS text is in: its own path, or the one before it."""
    match = _MENU_WORDS.match(line)
    if match is None:
        return current
    words = match.group("words").replace("/", " ").split()
    path: list[str] = []
    for word in words:
        if word in _VERBS:
            break
        path.append(word)
    return "/" + " ".join(path)


def redact_text(text: str, shown: str = HIDDEN) -> str:
    """Free text that may quote RouterOS lines (an import's verbose output, a script, a
    device's error message) with every secret value as ``shown``.

    The same rules as stored configs: sensitive properties of any menu and credentials
    written in script text (:func:`script_secrets`), plus the confidential properties
    (``/snmp community name``) of the menu each line is in. Placeholders stay.
    """
    if not text or ("=" not in text and ":" not in text):
        return text
    out: list[str] = []
    menu = ""
    for line in text.splitlines(keepends=True):
        menu = _menu_of(line, menu)
        line = hide_script_secrets(line, shown)
        confidential = lookup(menu).confidential if menu else frozenset()
        if confidential:
            line = _hide_args(line, confidential, shown)
        out.append(line)
    return "".join(out)


def _hide_args(line: str, names: frozenset[str], shown: str) -> str:
    spans = [_content(m, "value") for m in _ARG.finditer(line) if m.group("name").lower() in names]
    for start, end in reversed(spans):
        if _literal(line[start:end]) and not is_placeholder(line[start:end]):
            line = line[:start] + shown + line[end:]
    return line


def redact_data(value: object, shown: str = HIDDEN) -> object:
    """JSON-like data (event data, evidence, a step's recorded output) with every string
    passed through :func:`redact_text`; keys and other values unchanged."""
    if isinstance(value, str):
        return redact_text(value, shown)
    if isinstance(value, dict):
        return {k: redact_data(v, shown) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_data(v, shown) for v in value]
    return value


def redact_script(text: str, *, key: bytes | None, where: str) -> tuple[str, dict[str, str]]:
    """``(text with placeholders, {placeholder: secret})`` for one script value.

    Exact by construction: the inline redaction is kept only when
    :func:`restore_script` gives ``text`` back byte for byte; otherwise (and when the
    text already holds a placeholder-like string) the whole value is one secret.
    """
    if not text:
        return text, {}
    if PREFIX in text:
        tag = placeholder(text, key=key, where=where)
        return tag, {tag: text}
    spans = script_secrets(text)
    if not spans:
        return text, {}
    place = where.replace(" ", "/")
    found: dict[str, str] = {}
    parts: list[str] = []
    at = 0
    for n, (start, end) in enumerate(spans, 1):
        value = text[start:end]
        tag = placeholder(value, key=key, where=f"{place}#{n}")
        found[tag] = value
        parts += [text[at:start], tag]
        at = end
    parts.append(text[at:])
    redacted = "".join(parts)
    inline = [m.group(0) for m in _INLINE.finditer(redacted)]
    if len(inline) == len(spans) and restore_script(redacted, found, where) == text:
        return redacted, found
    tag = placeholder(text, key=key, where=where)
    return tag, {tag: text}


def restore_script(text: str, secrets: dict[str, str], where: str) -> str:
    """The inverse of :func:`redact_script` (raises :class:`MissingSecretError`)."""
    if is_placeholder(text) and text in secrets:
        return secrets[text]
    if PREFIX not in text:
        return text

    def value(match: re.Match[str]) -> str:
        secret = secrets.get(match.group(0))
        if secret is None:
            raise MissingSecretError(match.group(0), where)
        return secret

    restored = _INLINE.sub(value, text)
    if PREFIX in _INLINE.sub("", text):
        raise MissingSecretError(text[text.index(PREFIX) :][:60], where)
    return restored


def factory_values(path: str, command: Command, ros_version: str | None) -> Mapping[str, str]:
    """What the item a command configures has from the factory (:mod:`.defaults`)."""
    if command.verb == "add":
        return defaults.menu_factory(path, ros_version).every
    found = defaults.parts_of(command)
    name = command.get("name")
    return defaults.item_defaults(path, found[0], ros_version, name) if found else {}


def split_secrets(config: Config, *, key: bytes | None = None) -> tuple[Config, dict[str, str]]:
    """``(redacted config, {placeholder: secret})``; ``config`` is not changed."""
    secrets: dict[str, str] = {}
    menus: list[Menu] = []
    seen: dict[str, int] = {}
    for menu in config.menus:
        schema = lookup(menu.path)
        sensitive, scripts = schema.redacted, schema.scripts
        commands: list[Command] = []
        for index, command in enumerate(menu.commands, seen.get(menu.path, 0)):
            if not any((p.key in sensitive or p.key in scripts) and p.value for p in command.props):
                commands.append(command)
                continue
            props: list[Prop] = []
            factory = factory_values(menu.path, command, config.meta.ros_version)
            for prop in command.props:
                where = f"{menu.path}[{index}].{prop.key}"
                if prop.key in sensitive and prop.value and not prop.flag:
                    if factory.get(prop.key) == prop.value:
                        props.append(prop)  # a factory value (``public``) is no secret
                        continue
                    tag = placeholder(prop.value, key=key, where=where)
                    secrets[tag] = prop.value
                    props.append(replace(prop, value=tag))
                elif prop.key in scripts and prop.value and not prop.flag:
                    text, found = redact_script(prop.value, key=key, where=where)
                    secrets.update(found)
                    props.append(replace(prop, value=text) if found else prop)
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
        schema = lookup(menu.path)
        sensitive, scripts = schema.redacted, schema.scripts
        commands: list[Command] = []
        for index, command in enumerate(menu.commands, seen.get(menu.path, 0)):
            if not any(
                (p.key in sensitive and is_placeholder(p.value))
                or (p.key in scripts and p.value and PREFIX in p.value)
                for p in command.props
            ):
                commands.append(command)
                continue
            props: list[Prop] = []
            for prop in command.props:
                where = f"{menu.path}[{index}].{prop.key}"
                if prop.key in sensitive and prop.value is not None and is_placeholder(prop.value):
                    value = secrets.get(prop.value)
                    if value is None:
                        raise MissingSecretError(prop.value, where)
                    props.append(replace(prop, value=value))
                elif prop.key in scripts and prop.value and PREFIX in prop.value:
                    props.append(replace(prop, value=restore_script(prop.value, secrets, where)))
                else:
                    props.append(prop)
            commands.append(replace(command, props=tuple(props)))
        seen[menu.path] = seen.get(menu.path, 0) + len(menu.commands)
        menus.append(Menu(path=menu.path, commands=commands))
    return Config(menus=menus, meta=redacted.meta)


# --- the same on export text -------------------------------------------------------


def split_text_secrets(normalised: str) -> tuple[str, dict[str, str]]:
    """Redacted text and the secrets map of a normalised export (``ParseError`` if bad).

    Without secrets the normalised text is kept exactly as the router printed it;
    with secrets the redacted config is serialised the way RouterOS wraps exports.
    """
    redacted, secrets = split_secrets(parse(normalised))
    if not secrets:
        return normalised, {}
    return serialise(redacted, include_date=False), secrets


def merge_text_secrets(redacted: str, secrets: dict[str, str]) -> str:
    """Put a version's secrets back into its redacted text."""
    if not secrets:
        return redacted
    return serialise(merge_secrets(parse(redacted), secrets), include_date=False)
