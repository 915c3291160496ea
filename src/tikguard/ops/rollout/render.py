"""The change for each router: a script as given, or a Jinja2 template rendered per router.

Templates run in Jinja2's sandbox with undefined names as errors (never empty strings).
What a template sees:

* ``device.name``, ``device.host``, ``device.site``, ``device.tags``;
* ``vars.KEY``: the router's variables (``tikguard device set NAME --var KEY=VALUE``, or
  extra columns of ``device import``);
* ``facts.identity``, ``facts.version`` (RouterOS), ``facts.interfaces`` (interface names
  in the latest stored configuration).

Every ``{{ value }}`` is quoted by :func:`tikguard.routeros.quoting.quote` (bare when
RouterOS would print it bare), so a variable can never break out of its argument;
``{{ value | raw }}`` opts out for a value that is RouterOS syntax itself. A rendering
error names the router, the template line and the variable.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from tikguard.routeros.errors import ParseError
from tikguard.routeros.parse import parse
from tikguard.routeros.quoting import quote
from tikguard.store.errors import InvalidInput

#: Largest script or template accepted, and largest rendered change.
MAX_SOURCE = 256 * 1024
_TEMPLATE_NAME = "<template>"
#: Interface menus whose items are not interfaces.
_NOT_INTERFACES = frozenset(
    {
        "/interface list",
        "/interface list member",
        "/interface bridge port",
        "/interface bridge vlan",
        "/interface bridge settings",
        "/interface ethernet switch",
        "/interface wireless security-profiles",
        "/interface wifi security",
        "/interface wifi configuration",
    }
)


class RenderError(Exception):
    """A template could not be rendered for one router."""

    def __init__(self, device: str, line: int | None, message: str) -> None:
        self.device = device
        self.line = line
        self.message = message
        where = f"template line {line}: " if line else ""
        super().__init__(f"{device}: {where}{message}")


class Raw(str):
    """A value the template marked ``| raw``: inserted without quoting."""

    __slots__ = ()


class _Fields(dict[str, Any]):
    """A namespace the template reads (``device``, ``vars``, ``facts``), named in errors."""

    def __init__(self, label: str, values: dict[str, Any]) -> None:
        super().__init__({k: v for k, v in values.items() if v is not None})
        self.label = label


class _Undefined(jinja2.StrictUndefined):
    """StrictUndefined whose message names ``device.site``-style paths."""

    __slots__ = ()

    @property
    def _undefined_message(self) -> str:
        obj = self._undefined_obj
        if isinstance(obj, _Fields):
            return f"{obj.label}.{self._undefined_name} is not defined for this router"
        return str(super()._undefined_message)


def _finalize(value: Any) -> str:
    if isinstance(value, Raw):
        return str(value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return quote(",".join(str(v) for v in value))
    return quote(str(value))


def _environment() -> SandboxedEnvironment:
    env = SandboxedEnvironment(
        undefined=_Undefined,
        finalize=_finalize,
        autoescape=False,
        keep_trailing_newline=True,
    )
    env.filters["raw"] = lambda value: Raw(str(value))
    return env


_ENV = _environment()


def check_source(source: str) -> None:
    if len(source.encode("utf-8", "surrogateescape")) > MAX_SOURCE:
        raise InvalidInput(f"the change is larger than {MAX_SOURCE // 1024} KiB")


def compile_template(source: str) -> jinja2.Template:
    """Parse a template once (syntax errors name the line) for rendering per router."""
    check_source(source)
    try:
        return _ENV.from_string(source)
    except jinja2.TemplateSyntaxError as exc:
        raise InvalidInput(f"template line {exc.lineno}: {exc.message}") from None


@dataclass(frozen=True)
class RouterFacts:
    """What a template may use about one router."""

    name: str
    host: str
    site: str | None
    tags: tuple[str, ...]
    vars: dict[str, str]
    identity: str | None
    version: str | None
    interfaces: tuple[str, ...]

    def context(self) -> dict[str, Any]:
        return {
            "device": _Fields(
                "device",
                {"name": self.name, "host": self.host, "site": self.site, "tags": list(self.tags)},
            ),
            "vars": _Fields("vars", dict(self.vars)),
            "facts": _Fields(
                "facts",
                {
                    "identity": self.identity,
                    "version": self.version,
                    "interfaces": list(self.interfaces) if self.interfaces else None,
                },
            ),
        }


def config_facts(config_text: str | None) -> tuple[str | None, tuple[str, ...]]:
    """(identity, interface names) from a stored configuration; (None, ()) when unknown."""
    if not config_text:
        return None, ()
    try:
        config = parse(config_text)
    except ParseError:
        return None, ()
    identity: str | None = None
    for cmd in config.commands_in("/system identity"):
        identity = cmd.get("name") or identity
    names: list[str] = []
    for menu in config.menus:
        if not menu.path.startswith("/interface") or menu.path in _NOT_INTERFACES:
            continue
        for cmd in menu.commands:
            name = cmd.get("name")
            if name is None and cmd.selector is not None and cmd.selector.find:
                name = next((p.value for p in cmd.selector.find if p.key == "default-name"), None)
            if name and name not in names:
                names.append(name)
    return identity, tuple(names)


def render(template: jinja2.Template, facts: RouterFacts) -> str:
    """The template rendered for one router; :class:`RenderError` names line and variable."""
    try:
        text = template.render(facts.context())
    except jinja2.UndefinedError as exc:
        raise RenderError(facts.name, _template_line(exc), exc.message or str(exc)) from None
    except jinja2.TemplateError as exc:
        raise RenderError(facts.name, _template_line(exc), str(exc)) from None
    except (TypeError, ValueError, ArithmeticError, LookupError) as exc:
        raise RenderError(facts.name, _template_line(exc), f"{type(exc).__name__}: {exc}") from None
    if len(text.encode("utf-8", "surrogateescape")) > MAX_SOURCE:
        raise RenderError(facts.name, None, f"the rendered change is larger than {MAX_SOURCE} B")
    return text


def _template_line(exc: BaseException) -> int | None:
    line = getattr(exc, "lineno", None)
    if isinstance(line, int):
        return line
    found: int | None = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename == _TEMPLATE_NAME and frame.lineno:
            found = frame.lineno
    return found


def is_empty(change: str) -> bool:
    """A change with nothing but blank lines and comments: nothing to push."""
    return all(not line.strip() or line.lstrip().startswith("#") for line in change.splitlines())
