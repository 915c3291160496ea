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
        "authentication-password",
        "encryption-password",
        "md5-key",
        "tcp-md5-key",
        "preshared-key",
        "ipsec-secret",
        "security.passphrase",
        "security.sae-password",
        "management-protection-key",
        "mschapv2-password",
        "static-key-0",
        "static-key-1",
        "static-key-2",
        "static-key-3",
        "static-sta-private-key",
        "wps-pin",
    }
)

FALLBACK = MenuSchema(path="", sensitive=SENSITIVE_EVERYWHERE)

_MENUS: dict[str, MenuSchema] = {}


def _menu(path: str, **kwargs: object) -> None:
    extra = kwargs.pop("sensitive", frozenset())
    assert isinstance(extra, frozenset | set | tuple)
    schema = MenuSchema(
        path=path,
        sensitive=SENSITIVE_EVERYWHERE | frozenset(extra),
        **kwargs,  # type: ignore[arg-type]
    )
    _MENUS[path] = schema


def _singletons(*paths: str, **kwargs: object) -> None:
    for path in paths:
        _menu(path, singleton=True, keys=(), **kwargs)


#: Menus that create interfaces: everything that names an interface depends on them.
INTERFACE_MENUS: tuple[str, ...] = (
    "/interface ethernet",
    "/interface wireless",
    "/interface wifi",
    "/interface lte",
    "/interface bridge",
    "/interface bonding",
    "/interface vlan",
    "/interface veth",
    "/interface vxlan",
    "/interface vpls",
    "/interface eoip",
    "/interface eoipv6",
    "/interface gre",
    "/interface gre6",
    "/interface ipip",
    "/interface 6to4",
    "/interface vrrp",
    "/interface wireguard",
    "/interface l2tp-client",
    "/interface l2tp-server",
    "/interface pppoe-client",
    "/interface pptp-client",
    "/interface pptp-server",
    "/interface sstp-client",
    "/interface sstp-server",
    "/interface ovpn-client",
    "/interface ovpn-server",
    "/interface macvlan",
    "/interface mesh",
    "/interface zerotier",
    "/zerotier interface",
    "/caps-man interface",
)
_IF = INTERFACE_MENUS
_IF_LISTS = ("/interface list", "/interface list member")
_ADDRESS_LISTS = ("/ip firewall address-list", "/ipv6 firewall address-list")

# --- interfaces -----------------------------------------------------------------
_BUILTIN_IF = {"default_key": "default-name"}
_menu(
    "/interface ethernet",
    **_BUILTIN_IF,
    defaults={"arp": "enabled", "disabled": "no", "mtu": "1500", "loop-protect": "default"},
)
_menu("/interface wireless", **_BUILTIN_IF, depends_on=("/interface wireless security-profiles",))
_menu("/interface wifi", **_BUILTIN_IF, depends_on=("/interface wifi security",))
_menu("/interface lte", **_BUILTIN_IF)
_menu("/interface lte apn", default_key="default")
_menu(
    "/interface bridge",
    defaults={
        "arp": "enabled",
        "auto-mac": "yes",
        "disabled": "no",
        "fast-forward": "yes",
        "igmp-snooping": "no",
        "mtu": "auto",
        "protocol-mode": "rstp",
        "vlan-filtering": "no",
        "priority": "0x8000",
        "ageing-time": "5m",
    },
)
_menu(
    "/interface bridge port",
    keys=(("interface",),),
    depends_on=_IF,
    defaults={
        "disabled": "no",
        "edge": "auto",
        "frame-types": "admit-all",
        "horizon": "none",
        "hw": "yes",
        "ingress-filtering": "yes",
        "path-cost": "10",
        "point-to-point": "auto",
        "priority": "0x80",
        "pvid": "1",
    },
)
_menu(
    "/interface bridge vlan",
    keys=(("bridge", "vlan-ids"),),
    depends_on=(*_IF, "/interface bridge port"),
    defaults={"disabled": "no", "tagged": "", "untagged": ""},
)
_menu("/interface bridge filter", ordered=True, keys=(), depends_on=(*_IF, *_IF_LISTS))
_menu("/interface bridge nat", ordered=True, keys=(), depends_on=(*_IF, *_IF_LISTS))
_menu("/interface bridge host", keys=(("mac-address", "bridge"),), depends_on=_IF)
_menu("/interface bridge mdb", keys=(("group", "bridge", "ports"),), depends_on=_IF)
for _path in (
    "/interface bonding",
    "/interface vlan",
    "/interface veth",
    "/interface vxlan",
    "/interface vpls",
    "/interface eoip",
    "/interface eoipv6",
    "/interface gre",
    "/interface gre6",
    "/interface ipip",
    "/interface 6to4",
    "/interface vrrp",
    "/interface macvlan",
    "/interface wireguard",
):
    _menu(_path, depends_on=("/interface ethernet", "/interface bridge", "/interface bonding"))
for _path in (
    "/interface l2tp-client",
    "/interface pppoe-client",
    "/interface pptp-client",
    "/interface sstp-client",
    "/interface ovpn-client",
):
    _menu(_path, depends_on=(*_IF[:7], "/ppp profile", "/certificate"))
for _path in ("/interface l2tp-server", "/interface pptp-server", "/interface sstp-server"):
    _menu(_path, depends_on=("/ppp secret",))
_menu(
    "/interface pppoe-server server", keys=(("service-name",),), depends_on=(*_IF, "/ppp profile")
)
_menu("/interface ovpn-server server", depends_on=("/ppp profile", "/certificate"))
_menu(
    "/interface wireguard peers",
    keys=(("name",), ("interface", "public-key")),
    depends_on=("/interface wireguard",),
)
_menu("/interface list")
_menu(
    "/interface list member",
    keys=(("list", "interface"),),
    depends_on=(*_IF, "/interface list"),
    defaults={"disabled": "no"},
)
_menu("/interface ethernet switch", keys=(("name",),))
_menu("/interface ethernet switch port", keys=(("name",),), depends_on=("/interface ethernet",))
_menu("/interface ethernet switch vlan", keys=(("vlan-id", "switch"), ("vlan-id",)), depends_on=_IF)
_menu("/interface ethernet switch egress-vlan-tag", keys=(("vlan-id",),), depends_on=_IF)
_menu("/interface ethernet switch ingress-vlan-translation", ordered=True, keys=(), depends_on=_IF)
_menu("/interface ethernet switch rule", ordered=True, keys=(), depends_on=_IF)
_menu("/interface wireless security-profiles", default_key="default")
_menu("/interface wireless access-list", ordered=True, keys=(), depends_on=_IF)
_menu("/interface wireless connect-list", ordered=True, keys=(), depends_on=_IF)
_menu("/interface wireless manual-tx-power-table", keys=(("name",),), depends_on=_IF)
_menu("/interface wireless nstreme", keys=(("name",),), depends_on=_IF)
_menu("/interface wifi security")
_menu("/interface wifi configuration", depends_on=("/interface wifi security",))
_menu(
    "/interface wifi provisioning",
    ordered=True,
    keys=(),
    depends_on=("/interface wifi configuration",),
)
_singletons(
    "/interface bridge settings",
    "/interface bridge port-controller",
    "/interface bridge port-extender",
    "/interface detect-internet",
    "/interface l2tp-server server",
    "/interface pptp-server server",
    "/interface sstp-server server",
    "/interface wireless align",
    "/interface wireless cap",
    "/interface wireless sniffer",
    "/interface wireless snooper",
    "/interface wifi cap",
    "/interface wifi capsman",
)

# --- CAPsMAN v1 -------------------------------------------------------------------
for _path in ("/caps-man channel", "/caps-man rates", "/caps-man security"):
    _menu(_path)
_menu("/caps-man datapath", depends_on=("/interface bridge",))
_menu(
    "/caps-man configuration",
    depends_on=("/caps-man channel", "/caps-man datapath", "/caps-man security", "/caps-man rates"),
)
_menu("/caps-man interface", depends_on=("/caps-man configuration",))
_menu("/caps-man provisioning", ordered=True, keys=(), depends_on=("/caps-man configuration",))
_menu("/caps-man access-list", ordered=True, keys=(), depends_on=("/caps-man interface",))
_menu("/caps-man manager interface", keys=(("interface",),), default_key="default", depends_on=_IF)
_singletons("/caps-man aaa", "/caps-man manager")

# --- IP -------------------------------------------------------------------------
_menu(
    "/ip address",
    keys=(("address", "interface"),),
    depends_on=_IF,
    defaults={"disabled": "no"},
)
_menu("/ipv6 address", keys=(("address", "interface"),), depends_on=(*_IF, "/ipv6 pool"))
_menu("/ip arp", keys=(("address", "interface"),), depends_on=_IF)
_menu(
    "/ip dhcp-client",
    keys=(("interface",),),
    depends_on=(*_IF, "/ip dhcp-client option"),
    defaults={
        "add-default-route": "yes",
        "use-peer-dns": "yes",
        "use-peer-ntp": "yes",
        "disabled": "no",
    },
)
_menu(
    "/ipv6 dhcp-client",
    keys=(("interface", "request"), ("interface",)),
    depends_on=(*_IF, "/ipv6 pool"),
)
_menu("/ip dhcp-client option")
_menu("/ip pool")
_menu("/ipv6 pool")
_menu(
    "/ip dhcp-server",
    depends_on=(*_IF, "/ip pool", "/ip dhcp-server option sets"),
    defaults={"disabled": "no"},
)
_menu(
    "/ip dhcp-server lease",
    keys=(("mac-address", "server"), ("mac-address",), ("client-id",), ("address",)),
    depends_on=("/ip dhcp-server", "/ip dhcp-server option sets"),
)
_menu("/ip dhcp-server network", keys=(("address",),), depends_on=("/ip dhcp-server option sets",))
_menu("/ip dhcp-server option")
_menu("/ip dhcp-server option sets", depends_on=("/ip dhcp-server option",))
_menu("/ip dhcp-server matcher", depends_on=("/ip dhcp-server",))
_menu("/ipv6 dhcp-server", depends_on=(*_IF, "/ipv6 pool"))
_menu(
    "/ip dns static",
    keys=(("name", "address"), ("name", "type"), ("regexp", "address"), ("regexp",), ("name",)),
)
_menu("/ip dns adlist", keys=(("url",), ("file",)))
_menu("/ip dns forwarders")
_menu("/ip firewall address-list", keys=(("list", "address"),), defaults={"disabled": "no"})
_menu("/ipv6 firewall address-list", keys=(("list", "address"),), defaults={"disabled": "no"})
_FIREWALL_DEPS = (
    *_ADDRESS_LISTS,
    *_IF_LISTS,
    *_IF,
    "/ip firewall layer7-protocol",
    "/ip ipsec policy",
)
_RULE_DEFAULTS = {"disabled": "no", "log": "no", "log-prefix": "", "action": "accept"}
for _path in ("/ip firewall filter", "/ip firewall mangle", "/ip firewall raw", "/ip firewall nat"):
    _menu(_path, ordered=True, keys=(), depends_on=_FIREWALL_DEPS, defaults=dict(_RULE_DEFAULTS))
for _path in (
    "/ipv6 firewall filter",
    "/ipv6 firewall mangle",
    "/ipv6 firewall raw",
    "/ipv6 firewall nat",
):
    _menu(_path, ordered=True, keys=(), depends_on=_FIREWALL_DEPS, defaults=dict(_RULE_DEFAULTS))
_menu("/ip firewall layer7-protocol")
_menu("/ip firewall service-port")
_menu("/ip hotspot", depends_on=(*_IF, "/ip hotspot profile", "/ip pool"))
_menu("/ip hotspot profile", default_key="default")
_menu("/ip hotspot user profile", default_key="default", depends_on=("/ip pool",))
_menu("/ip hotspot user", default_key="default", depends_on=("/ip hotspot user profile",))
_menu("/ip hotspot ip-binding", ordered=True, keys=())
_menu("/ip hotspot walled-garden", ordered=True, keys=())
_menu("/ip hotspot walled-garden ip", ordered=True, keys=())
_menu("/ip hotspot service-port")
_menu("/ip ipsec profile", default_key="default")
_menu("/ip ipsec peer profile", default_key="default")
_menu("/ip ipsec proposal", default_key="default")
_menu("/ip ipsec policy group", default_key="default")
_menu("/ip ipsec mode-config", default_key="default", depends_on=("/ip pool",))
_menu(
    "/ip ipsec peer",
    keys=(("name",), ("address",)),
    depends_on=("/ip ipsec profile", "/ip ipsec peer profile"),
)
_menu(
    "/ip ipsec identity",
    keys=(("peer",),),
    depends_on=(
        "/ip ipsec peer",
        "/ip ipsec policy group",
        "/ip ipsec mode-config",
        "/certificate",
    ),
)
_menu(
    "/ip ipsec policy",
    ordered=True,
    keys=(),
    depends_on=("/ip ipsec peer", "/ip ipsec proposal", "/ip ipsec policy group"),
)
_menu("/ip kid-control")
_menu("/ip kid-control device", keys=(("mac-address",), ("name",)), depends_on=("/ip kid-control",))
_menu("/ip neighbor discovery", depends_on=_IF)
_menu("/ip proxy access", ordered=True, keys=())
_ROUTE_KEYS = (
    ("dst-address", "gateway", "routing-table"),
    ("dst-address", "gateway", "routing-mark"),
    ("dst-address", "gateway"),
    ("dst-address", "type"),
    ("dst-address",),
    ("gateway",),
)
_menu("/ip route", keys=_ROUTE_KEYS, depends_on=(*_IF, "/ip address", "/routing table", "/ip vrf"))
_menu("/ipv6 route", keys=_ROUTE_KEYS, depends_on=(*_IF, "/ipv6 address", "/routing table"))
_menu("/ip route vrf", keys=(("routing-mark",),), depends_on=_IF)
_menu("/ip route rule", ordered=True, keys=(), depends_on=("/ip route vrf",))
_menu("/ip vrf", depends_on=_IF)
_menu("/ip service")
_menu("/ip smb shares", default_key="default")
_menu("/ip smb users", default_key="default")
_menu("/ip socks access", ordered=True, keys=())
_menu("/ip tftp", ordered=True, keys=())
_menu("/ip traffic-flow target", keys=(("dst-address", "port"),))
_menu("/ip upnp interfaces", keys=(("interface",),), depends_on=_IF)
_menu("/ipv6 nd", keys=(("interface",),), default_key="default", depends_on=_IF)
_singletons(
    "/ip settings",
    "/ip cloud",
    "/ip cloud advanced",
    "/ip proxy",
    "/ip socks",
    "/ip ssh",
    "/ip smb",
    "/ip upnp",
    "/ip traffic-flow",
    "/ip traffic-flow ipfix",
    "/ip tftp settings",
    "/ip accounting",
    "/ip accounting web-access",
    "/ip neighbor discovery-settings",
    "/ip firewall connection tracking",
    "/ip dhcp-server config",
    "/ip ipsec settings",
    "/ip ipsec user settings",
    "/ip media settings",
    "/ip hotspot service-port",
    "/ipv6 settings",
    "/ipv6 nd prefix default",
)
_menu(
    "/ip dns",
    singleton=True,
    keys=(),
    defaults={"allow-remote-requests": "no", "servers": "", "cache-size": "2048KiB"},
)

# --- PPP, queues, RADIUS --------------------------------------------------------
_menu(
    "/ppp profile",
    default_key="default",
    depends_on=("/ip pool", "/interface bridge", "/interface list"),
)
_menu("/ppp secret", depends_on=("/ppp profile",))
_singletons("/ppp aaa", "/radius incoming")
_menu("/queue type")
_menu("/queue interface", depends_on=(*_IF, "/queue type"))
_menu("/queue simple", ordered=True, depends_on=(*_IF, "/queue type"))
_menu("/queue tree", depends_on=(*_IF, "/queue type", "/ip firewall mangle"))
_menu("/radius", ordered=True, keys=(("address", "service"),))

# --- routing, MPLS ---------------------------------------------------------------
_menu("/routing table")
_menu("/routing id")
_menu("/routing rule", ordered=True, keys=(), depends_on=("/routing table",))
_menu("/routing filter", ordered=True, keys=())
_menu("/routing filter rule", ordered=True, keys=())
_menu("/routing filter num-list", keys=(("list", "range"),))
_menu("/routing filter community-list", keys=(("list", "communities"),))
_menu("/routing bfd interface", keys=(("interfaces",), ("interface",)), default_key="default")
_menu("/routing bfd configuration", ordered=True, keys=())
_menu(
    "/routing bgp template",
    default_key="default",
    depends_on=("/routing filter rule", "/routing id"),
)
_menu(
    "/routing bgp connection",
    depends_on=("/routing bgp template", "/routing filter rule", "/ip vrf", "/routing id"),
)
_menu("/routing bgp vpn", depends_on=("/ip vrf", "/routing bgp connection"))
_menu("/routing bgp instance", default_key="default")
_menu("/routing bgp peer", depends_on=("/routing bgp instance", "/routing filter"))
_menu("/routing bgp network", keys=(("network",),))
_menu(
    "/routing ospf instance",
    default_key="default",
    depends_on=("/routing id", "/routing filter rule"),
)
_menu("/routing ospf area", default_key="default", depends_on=("/routing ospf instance",))
_menu(
    "/routing ospf interface-template",
    ordered=True,
    keys=(),
    depends_on=(*_IF, "/routing ospf area"),
)
_menu("/routing ospf interface", keys=(("interface",),), depends_on=_IF)
_menu("/routing ospf network", keys=(("network",),), depends_on=("/routing ospf area",))
_menu("/routing ospf static-neighbor", keys=(("address",),))
_menu("/routing isis instance")
_menu(
    "/routing isis interface-template",
    ordered=True,
    keys=(),
    depends_on=(*_IF, "/routing isis instance"),
)
_menu("/routing igmp-proxy interface", keys=(("interface",),), depends_on=_IF)
_menu("/routing pim sm interface-template", ordered=True, keys=(), depends_on=_IF)
_singletons("/routing igmp-proxy", "/routing rip", "/routing mme", "/routing settings")
_menu("/mpls", singleton=True, keys=())
_menu("/mpls settings", singleton=True, keys=())
_menu("/mpls ldp", keys=(("vrf",),))
_menu("/mpls interface", keys=(("interface",),), default_key="default", depends_on=_IF)
_menu("/mpls ldp interface", keys=(("interface",),), depends_on=(*_IF, "/mpls ldp"))
_menu("/mpls ldp accept-filter", ordered=True, keys=())
_menu("/mpls ldp advertise-filter", ordered=True, keys=())

# --- system, tools, users ---------------------------------------------------------
_menu("/system identity", singleton=True, keys=(), defaults={"name": "MikroTik"})
_menu(
    "/system clock",
    singleton=True,
    keys=(),
    defaults={"time-zone-autodetect": "yes", "time-zone-name": "manual"},
)
_singletons(
    "/system clock manual",
    "/system health",
    "/system lcd",
    "/system leds settings",
    "/system note",
    "/system ntp client",
    "/system ntp server",
    "/system routerboard settings",
    "/system routerboard mode-button",
    "/system routerboard reset-button",
    "/system routerboard wps-button",
    "/system upgrade mirror",
    "/system watchdog",
    "/system logging",
    "/system device-mode",
    "/tool bandwidth-server",
    "/tool e-mail",
    "/tool graphing",
    "/tool mac-server ping",
    "/tool romon",
    "/tool sms",
    "/tool sniffer",
    "/tool traffic-generator",
    "/tool user-manager database",
    "/user aaa",
    "/user settings",
    "/snmp",
    "/lcd",
    "/port firmware",
    "/certificate settings",
    "/container config",
    "/disk settings",
    "/app settings",
    "/iot lora traffic options",
)
# /system logging: rules are items (``add topics=... action=...``) beside the built-in
# ones addressed ``set 0``; not a singleton, identified by content.
_MENUS.pop("/system logging")
_menu("/system logging", keys=(), depends_on=("/system logging action",))
_menu("/system logging action")
_menu("/system console", keys=(("port",),))
_menu("/system ntp client servers", keys=(("address",),))
_menu("/system resource irq", keys=(("irq",),))
_menu("/system resource irq rps", keys=(("name",),))
_menu("/system script")
_menu("/system scheduler", depends_on=("/system script",))
_menu("/system lcd page", keys=(("name",),))
_menu("/system leds", keys=(("leds", "type"),), depends_on=_IF)
_menu(
    "/tool mac-server", keys=(("interface",),), default_key="default", depends_on=(*_IF, *_IF_LISTS)
)
_menu(
    "/tool mac-server mac-winbox",
    keys=(("interface",),),
    default_key="default",
    depends_on=(*_IF, *_IF_LISTS),
)
_menu("/tool netwatch", keys=(("name",), ("host",)))
_menu("/tool romon port", keys=(("interface",),), default_key="default", depends_on=_IF)
_menu("/tool graphing interface", ordered=True, keys=(), depends_on=_IF)
_menu("/tool graphing resource", ordered=True, keys=())
_menu("/tool graphing queue", ordered=True, keys=())
_menu("/tool user-manager customer")
_menu("/user group")
_menu("/user", depends_on=("/user group",))
_menu("/snmp community", default_key="default")
_menu("/lcd interface", keys=(("interface",),))
_menu("/lcd screen")
_menu("/port")
_menu("/zerotier")
_menu("/zerotier interface", depends_on=("/zerotier",))
_menu("/certificate", keys=(("name",), ("common-name",)))
_menu(
    "/container",
    keys=(("name",), ("interface",)),
    depends_on=("/interface veth", "/container envs", "/container mounts"),
)
_menu("/container envs", keys=(("list", "key"), ("name", "key")))
_menu("/container mounts", keys=(("name",), ("list", "dst")))
_menu("/disk", keys=(("slot",),))
_menu("/app")
_menu("/store")
_menu("/iot lora servers", keys=(("name",), ("address",)))


def lookup(path: str) -> MenuSchema:
    """The schema for a menu path (``/ip firewall filter``), or the conservative fallback.

    Fallback for a menu this table does not know: not a singleton, unordered, items
    identified by ``name`` when they have one and by their whole property set
    otherwise, every property named in :data:`SENSITIVE_EVERYWHERE` sensitive, no
    known defaults and no dependencies. A path is matched exactly; RouterOS menu paths
    are written with single spaces (``/ip firewall filter``).
    """
    found = _MENUS.get(path)
    if found is not None:
        return found
    return MenuSchema(path=path, sensitive=SENSITIVE_EVERYWHERE)


def is_known(path: str) -> bool:
    """True when the table describes ``path`` (not the fallback)."""
    return path in _MENUS


def known_paths() -> list[str]:
    return sorted(_MENUS)
