"""The menu schema: the one place that knows how each RouterOS menu behaves.

For every menu path: how an item is identified (its natural key), whether item order
matters, whether the menu is a singleton (``/ip dns``: one set of properties, no
items), which items exist by default (addressed with ``set [ find default-name=... ]``),
which properties are sensitive, which menus must be configured before it, and the
default values that compact exports omit. The parser, diff/patch, secrets splitting
and the simulator all ask this module; nothing else hard-codes menu knowledge.

Unknown menus get :data:`FALLBACK`: not a singleton, unordered, identified by ``name``
when items have one and by their full property set otherwise (see :func:`lookup`).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class MenuSchema:
    path: str
    #: Natural-key alternatives, most specific first; an item is identified by the first
    #: alternative whose properties it carries (``("name",)``, ``("address", "interface")``).
    keys: tuple[tuple[str, ...], ...] = (("name",),)
    #: Item order is significant (firewall rules, routing filters): diff tracks moves.
    ordered: bool = False
    #: One set of properties, no items (``/ip dns``, ``/system identity``).
    singleton: bool = False
    #: Property that marks built-in items addressed by ``set [ find <prop>=<value> ]``
    #: (``default-name`` for interfaces, ``default`` for default profiles).
    default_key: str | None = None
    #: Property names whose values are secrets.
    sensitive: frozenset[str] = frozenset()
    #: Menus whose items this menu's items may reference, so they must come first.
    depends_on: tuple[str, ...] = ()
    #: Property defaults that compact exports omit (used for ``unset`` and by the simulator).
    defaults: dict[str, str] = field(default_factory=dict)


#: Sensitive property names anywhere (passwords, secrets, pre-shared keys, private keys).
SENSITIVE_EVERYWHERE: frozenset[str] = frozenset(
    {
        "password",
        "secret",
        "passphrase",
        "wpa-pre-shared-key",
        "wpa2-pre-shared-key",
        "pre-shared-key",
        "private-key",
        "auth-key",
        "authentication-key",
        "md5-key",
        "preshared-key",
        "security.passphrase",
    }
)

FALLBACK = MenuSchema(path="", sensitive=SENSITIVE_EVERYWHERE)

_MENUS: dict[str, MenuSchema] = {}


def _menu(path: str, **kwargs: object) -> None:
    schema = MenuSchema(path=path, **kwargs)  # type: ignore[arg-type]
    _MENUS[path] = schema


# The table is filled in below, menu by menu.
_menu("/system identity", singleton=True, defaults={"name": "MikroTik"})
_menu("/ip dns", singleton=True)
_menu("/ip firewall filter", ordered=True, keys=())
_menu("/ip firewall nat", ordered=True, keys=())
_menu("/ip firewall mangle", ordered=True, keys=())
_menu("/ip firewall raw", ordered=True, keys=())
_menu("/ip address", keys=(("address", "interface"),), depends_on=("/interface",))
_menu("/ip firewall address-list", keys=(("list", "address"),))
_menu("/interface ethernet", default_key="default-name")


def lookup(path: str) -> MenuSchema:
    """The schema for a menu path (``/ip firewall filter``), or the conservative fallback."""
    return _MENUS.get(path) or MenuSchema(path=path, sensitive=SENSITIVE_EVERYWHERE)


def known_paths() -> list[str]:
    return sorted(_MENUS)
