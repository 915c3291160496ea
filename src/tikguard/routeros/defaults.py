"""Factory values as RouterOS has them: per version, per menu and per built-in item.

A compact export leaves out every value that equals the factory one; a verbose export
prints them all. Telling the two apart needs to know, for a given RouterOS version,
what a value is when nobody set it:

* the menu-wide defaults of :attr:`tikguard.routeros.schema.MenuSchema.defaults`
  (version-independent, checked against 6.x and 7.x verbose exports);
* :data:`FACTORY`, per RouterOS major version, written as RouterOS prints it: a
  ``set <item> ...`` line gives one built-in item's factory values (``/ip service set
  www-ssl disabled=yes port=443``), a plain ``set ...`` a singleton's, and an ``add ...``
  line the defaults every item of that menu has beyond the schema's;
* values implied by the others (:data:`IMPLIED`: a route without ``dst-address`` is
  the default route) and properties whose factory value is the hardware's own
  (:data:`REPORTED`: MAC addresses, ``l2mtu``, port speed, radio chains).

The 6.x table is the verbose and compact exports of one RouterOS 6.49.7 hAP
(``ros6.49.7_951ui_*.rsc`` in the test corpus, two minutes apart): every value the
verbose export prints and the compact one leaves out, minus the hardware's own values.
The 7.x table holds what is known to hold there (service ports, built-in interface
lists); tikguard's normalisation, diff and patch (:mod:`tikguard.routeros.items`) and
the simulator's factory configuration (:mod:`tikguard.sim.defaults`) both read it.

Pure data and lookups, no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from types import MappingProxyType
from typing import Final

from tikguard.routeros.model import Command
from tikguard.routeros.parse import parse

#: ``/ip service``: the same ports and the same disabled ``www-ssl`` on 6.x and 7.x.
_SERVICES: Final = """/ip service
set telnet port=23
set ftp port=21
set www port=80
set ssh port=22
set www-ssl disabled=yes port=443
set api port=8728
set winbox port=8291
set api-ssl port=8729
"""

_INTERFACE_LISTS: Final = """/interface list
set [ find name=all ] comment="contains all interfaces"
set [ find name=none ] comment="contains no interfaces"
set [ find name=dynamic ] comment="contains dynamic interfaces"
set [ find name=static ] comment="contains static interfaces"
"""

#: Factory values per RouterOS major version (see the module notes for the form).
FACTORY: Final[Mapping[int, str]] = MappingProxyType(
    {
        6: _SERVICES
        + r"""/interface ethernet switch
set 0 cpu-flow-control=yes mirror-source=none mirror-target=none name=switch1
/interface ethernet switch port
add default-vlan-id=0 vlan-header=leave-as-is vlan-mode=disabled
/interface list
set [ find name=all ] comment="contains all interfaces"
set [ find name=none ] comment="contains no interfaces"
set [ find name=dynamic ] comment="contains dynamic interfaces"
set [ find name=static ] comment="contains static interfaces"
/interface lte apn
set [ find default=yes ] add-default-route=yes apn=internet default-route-distance=2 \
    name=default use-peer-dns=yes
/interface wireless security-profiles
set [ find default=yes ] name=default
/interface wireless
add nv2-cell-radius=30 nv2-downlink-ratio=50 nv2-mode=dynamic-downlink \
    nv2-noise-floor-offset=default nv2-preshared-key="" nv2-qos=default nv2-queue-count=2 \
    nv2-security=disabled nv2-sync-secret=""
/ip dhcp-client option
set clientid_duid code=61 value="0xff\$(CLIENT_DUID)"
set clientid code=61 value="0x01\$(CLIENT_MAC)"
set hostname code=12 value="\$(HOSTNAME)"
/ip hotspot profile
set [ find default=yes ] dns-name="" hotspot-address=0.0.0.0 html-directory=hotspot \
    html-directory-override="" http-cookie-lifetime=3d http-proxy=0.0.0.0:0 login-by=\
    cookie,http-chap name=default rate-limit="" smtp-server=0.0.0.0 split-user-domain=no \
    use-radius=no
/ip hotspot user profile
set [ find default=yes ] add-mac-cookie=yes address-list="" idle-timeout=none \
    keepalive-timeout=2m mac-cookie-timeout=3d name=default shared-users=1 \
    status-autorefresh=1m transparent-proxy=no
/ip ipsec mode-config
set [ find default=yes ] name=request-only responder=no use-responder-dns=exclusively
/ip ipsec policy group
set [ find default=yes ] name=default
/ip ipsec profile
set [ find default=yes ] dh-group=modp2048,modp1024 dpd-interval=2m dpd-maximum-failures=\
    5 enc-algorithm=aes-128,3des hash-algorithm=sha1 lifetime=1d name=default \
    nat-traversal=yes proposal-check=obey
/ip ipsec proposal
set [ find default=yes ] auth-algorithms=sha1 disabled=no enc-algorithms=\
    aes-256-cbc,aes-192-cbc,aes-128-cbc lifetime=30m name=default pfs-group=modp1024
/ppp profile
set *0 address-list="" bridge-learning=default change-tcp-mss=yes name=default on-down="" \
    on-up="" only-one=default use-compression=default use-encryption=default use-mpls=\
    default use-upnp=default
set *FFFFFFFE address-list="" bridge-learning=default change-tcp-mss=yes name=\
    default-encryption on-down="" on-up="" only-one=default use-compression=default \
    use-encryption=yes use-mpls=default use-upnp=default
/queue type
set 0 kind=pfifo name=default pfifo-limit=50
set 1 kind=pfifo name=ethernet-default pfifo-limit=50
set 2 kind=sfq name=wireless-default sfq-allot=1514 sfq-perturb=5
set 3 kind=red name=synchronous-default red-avg-packet=1000 red-burst=20 red-limit=60 \
    red-max-threshold=50 red-min-threshold=10
set 4 kind=sfq name=hotspot-default sfq-allot=1514 sfq-perturb=5
set 5 kind=pcq name=pcq-upload-default pcq-burst-rate=0 pcq-burst-threshold=0 \
    pcq-burst-time=10s pcq-classifier=src-address pcq-dst-address-mask=32 \
    pcq-dst-address6-mask=128 pcq-limit=50KiB pcq-rate=0 pcq-src-address-mask=32 \
    pcq-src-address6-mask=128 pcq-total-limit=2000KiB
set 6 kind=pcq name=pcq-download-default pcq-burst-rate=0 pcq-burst-threshold=0 \
    pcq-burst-time=10s pcq-classifier=dst-address pcq-dst-address-mask=32 \
    pcq-dst-address6-mask=128 pcq-limit=50KiB pcq-rate=0 pcq-src-address-mask=32 \
    pcq-src-address6-mask=128 pcq-total-limit=2000KiB
set 7 kind=none name=only-hardware-queue
set 8 kind=mq-pfifo mq-pfifo-limit=50 name=multi-queue-ethernet-default
set 9 kind=pfifo name=default-small pfifo-limit=10
/interface wireless nstreme
add disable-csma=no enable-nstreme=no enable-polling=yes framer-limit=3200 framer-policy=\
    none
/routing bgp instance
set default as=65530 client-to-client-reflection=yes disabled=no ignore-as-path-len=no \
    out-filter="" redistribute-connected=no redistribute-ospf=no redistribute-other-bgp=\
    no redistribute-rip=no redistribute-static=no router-id=0.0.0.0 routing-table=""
/routing ospf instance
set [ find default=yes ] disabled=no distribute-default=never in-filter=ospf-in \
    metric-bgp=auto metric-connected=20 metric-default=1 metric-other-ospf=auto \
    metric-rip=20 metric-static=20 name=default out-filter=ospf-out redistribute-bgp=no \
    redistribute-connected=no redistribute-other-ospf=no redistribute-rip=no \
    redistribute-static=no router-id=0.0.0.0
/routing ospf area
set [ find default=yes ] area-id=0.0.0.0 disabled=no instance=default name=backbone type=\
    default
/snmp community
set [ find default=yes ] addresses=::/0 authentication-password="" \
    authentication-protocol=MD5 disabled=no encryption-password="" encryption-protocol=\
    DES name=public read-access=yes security=none write-access=no
/system logging action
set 0 memory-lines=1000 memory-stop-on-full=no name=memory target=memory
set 1 disk-file-count=2 disk-file-name=log disk-lines-per-file=1000 disk-stop-on-full=no \
    name=disk target=disk
set 2 name=echo remember=yes target=echo
set 3 bsd-syslog=no name=remote remote=0.0.0.0 remote-port=514 src-address=0.0.0.0 \
    syslog-facility=daemon syslog-severity=auto syslog-time-format=bsd-syslog target=\
    remote
/user group
add skin=default
set read policy="local,telnet,ssh,reboot,read,test,winbox,password,web,sniff,sensitive,\
    api,romon,tikapp,!ftp,!write,!policy,!dude"
set write policy="local,telnet,ssh,reboot,read,write,test,winbox,password,web,\
    sniff,sensitive,api,romon,tikapp,!ftp,!policy,!dude"
/caps-man manager interface
set [ find default=yes ] disabled=no forbid=no interface=all
/certificate settings
set crl-download=no crl-store=ram crl-use=no
/interface bridge port
add internal-path-cost=10 path-cost=10
/ip neighbor discovery-settings
set protocol=cdp,lldp,mndp
/ip settings
set route-cache=yes
/interface ovpn-server server
set cipher=blowfish128,aes128
/ip dhcp-client
add add-default-route=yes default-route-distance=1 use-peer-dns=yes use-peer-ntp=yes
/ip dhcp-server network
add ntp-server=""
/ip firewall service-port
add disabled=no
set ftp ports=21
set tftp ports=69
set irc ports=6667
set sip ports=5060,5061 sip-direct-media=yes sip-timeout=1h
/ip hotspot service-port
set ftp disabled=no ports=21
/ip hotspot user
set [ find default=yes ] comment="counters and limits for trial users" disabled=no name=\
    default-trial
/ip ipsec policy
set 0 disabled=no dst-address=::/0 group=default proposal=default protocol=all \
    src-address=::/0 template=yes
/ip smb
set comment=MikrotikSMB
/ip smb shares
set [ find default=yes ] comment="default share" directory=/pub disabled=no max-sessions=\
    10 name=pub
/ip smb users
set [ find default=yes ] disabled=no name=guest password="" read-only=yes
/ip traffic-flow ipfix
set bytes=yes dst-address=yes dst-address-mask=yes dst-mac-address=yes dst-port=yes \
    first-forwarded=yes gateway=yes icmp-code=yes icmp-type=yes igmp-type=yes \
    in-interface=yes ip-header-length=yes ip-total-length=yes ipv6-flow-label=yes \
    is-multicast=yes last-forwarded=yes nat-dst-address=yes nat-dst-port=yes nat-events=\
    no nat-src-address=yes nat-src-port=yes out-interface=yes packets=yes protocol=yes \
    src-address=yes src-address-mask=yes src-mac-address=yes src-port=yes sys-init-time=\
    yes tcp-ack-num=yes tcp-flags=yes tcp-seq-num=yes tcp-window-size=yes tos=yes ttl=yes \
    udp-length=yes
/mpls interface
set [ find default=yes ] disabled=no interface=all mpls-mtu=1508
/mpls ldp
set distribute-for-default-route=no enabled=no hop-limit=255 loop-detect=no lsr-id=\
    0.0.0.0 path-vector-limit=255 transport-address=0.0.0.0 use-explicit-null=no
/port firmware
set directory=firmware ignore-directip-modem=no
/routing bfd interface
set [ find default=yes ] disabled=no interface=all interval=0.2s min-rx=0.2s multiplier=5
/routing mme
set bidirectional-timeout=2 gateway-class=none gateway-keepalive=1m gateway-selection=\
    no-gateway origination-interval=5s preferred-gateway=0.0.0.0 timeout=1m ttl=50
/routing rip
set routing-table=main
/snmp
set contact="" enabled=no engine-id="" location="" trap-community=public trap-generators=\
    temp-exception trap-target="" trap-version=1
/system clock
set time-zone-autodetect=yes
/system clock manual
set dst-delta=+00:00 dst-end="jan/01/1970 00:00:00" dst-start="jan/01/1970 00:00:00" \
    time-zone=+00:00
/system leds
add disabled=no
/system leds settings
set all-leds-off=never
/system logging
add disabled=no prefix=""
set 0 topics=info
set 1 topics=error
set 2 topics=warning
set 3 topics=critical
/system note
set note="" show-at-login=yes
/system ntp client
set enabled=no primary-ntp=0.0.0.0 secondary-ntp=0.0.0.0 server-dns-names=""
/system resource irq
add cpu=auto
/system routerboard settings
set auto-upgrade=no boot-device=nand-if-fail-then-ethernet boot-protocol=bootp \
    force-backup-booter=no protected-routerboot=disabled reformat-hold-button=20s \
    reformat-hold-button-max=10m silent-boot=no
/system routerboard reset-button
set enabled=no hold-time=0s..1m on-event=""
/system upgrade mirror
set check-interval=1d enabled=no primary-server=0.0.0.0 secondary-server=0.0.0.0 user=""
/system watchdog
set auto-send-supout=no ping-start-after-boot=5m ping-timeout=1m watch-address=none
/tool bandwidth-server
set allocate-udp-ports-from=2000 authenticate=yes enabled=yes max-sessions=100
/tool e-mail
set address=0.0.0.0 from=<> password="" port=25 start-tls=no user=""
/tool graphing
set page-refresh=300 store-every=5min
/tool mac-server ping
set enabled=yes
/tool romon
set enabled=no id=00:00:00:00:00:00 secrets=""
/tool romon port
set [ find default=yes ] cost=100 disabled=no forbid=no interface=all secrets=""
/tool sms
set allowed-number="" auto-erase=no channel=0 port=none receive-enabled=no secret="" \
    sim-pin=""
/tool sniffer
set file-limit=1000KiB file-name="" filter-cpu="" filter-direction=any filter-interface=\
    "" filter-ip-address="" filter-ip-protocol="" filter-ipv6-address="" \
    filter-mac-address="" filter-mac-protocol="" filter-operator-between-entries=or \
    filter-port="" filter-size="" filter-stream=no memory-limit=100KiB memory-scroll=yes \
    only-headers=no streaming-enabled=no streaming-server=0.0.0.0:37008
/tool traffic-generator
set latency-distribution-max=100us measure-out-of-order=yes stats-samples-to-keep=100 \
    test-id=0
""",
        7: _SERVICES + _INTERFACE_LISTS,
    }
)

#: Properties of built-in items whose factory value is the hardware's own (per board,
#: per unit): a verbose export prints them, a compact one only when changed. tikguard
#: cannot know the factory value of another router, so a value that only one side of a
#: comparison shows is not a change, and a compact form leaves them out.
REPORTED: Final[Mapping[str, frozenset[str]]] = MappingProxyType(
    {
        "/interface ethernet": frozenset(
            {
                "advertise",
                "l2mtu",
                "mac-address",
                "orig-mac-address",
                "speed",
                "poe-out",
                "poe-priority",
                "power-cycle-interval",
                "power-cycle-ping-enabled",
                "power-cycle-ping-address",
                "power-cycle-ping-timeout",
            }
        ),
        "/interface wireless": frozenset(
            {
                "l2mtu",
                "mac-address",
                "radio-name",
                "max-station-count",
                "rx-chains",
                "tx-chains",
                "ht-basic-mcs",
                "ht-supported-mcs",
                "basic-rates-a/g",
                "basic-rates-b",
                "supported-rates-a/g",
                "supported-rates-b",
                "wps-mode",
            }
        ),
        "/interface wireless manual-tx-power-table": frozenset({"manual-tx-powers"}),
        "/queue interface": frozenset({"queue"}),
        "/interface ovpn-server server": frozenset({"mac-address"}),
        "/system leds": frozenset({"interface", "leds", "type"}),
    }
)

#: Reported values whose factory value a verbose export does not show either: a port's
#: ``advertise`` is printed both ways, and only a compact export says (by printing it)
#: that it differs from the port's own. A compact form keeps them.
UNKNOWN_IN_VERBOSE: Final[Mapping[str, frozenset[str]]] = MappingProxyType(
    {
        "/interface ethernet": frozenset({"advertise"}),
    }
)

#: Values an added item has when it does not give them, which also make its identity:
#: ``/ip route add gateway=...`` is the route to ``0.0.0.0/0`` (RouterOS 6 compact
#: exports leave ``dst-address`` out; verbose and RouterOS 7 exports print it).
IMPLIED: Final[Mapping[str, dict[str, str]]] = MappingProxyType(
    {
        "/ip route": {"dst-address": "0.0.0.0/0"},
        "/ipv6 route": {"dst-address": "::/0"},
    }
)

#: Properties RouterOS computes and prints even in compact exports although they equal
#: the default (6.x prints ``distance=1`` on every static route).
ALWAYS_PRINTED: Final[Mapping[int, dict[str, frozenset[str]]]] = MappingProxyType(
    {
        6: {"/ip route": frozenset({"distance"})},
    }
)

#: Key parts of one item as :mod:`tikguard.routeros.items` identifies built-in items:
#: ``(("default-name", "ether1"),)``, ``(("name", "telnet"),)``, ``(("ref", "*0"),)``,
#: ``()`` for a singleton.
Parts = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class MenuFactory:
    """One menu's factory values on one RouterOS major version."""

    #: Defaults every item of the menu has (the table's ``add`` line).
    every: Mapping[str, str] = field(default_factory=dict)
    #: Built-in items (in table order) by key parts, with their factory values.
    items: Mapping[Parts, Mapping[str, str]] = field(default_factory=dict)
    #: The export reference of each built-in item (``telnet``, ``[ find default=yes ]``).
    refs: Mapping[Parts, str] = field(default_factory=dict)


_EMPTY: Final = MenuFactory()


def major(ros_version: str | None) -> int:
    """The table a version reads: 6 for 6.x and older, 7 for 7.x and unknown versions."""
    head = (ros_version or "").split(".", 1)[0]
    if head.isdigit() and int(head) < 7:
        return 6
    return 7


def parts_of(command: Command) -> tuple[Parts, str] | None:
    """The key parts and export reference of a ``set`` command's item, as
    :mod:`tikguard.routeros.items` keys built-in items (None: not a built-in item)."""
    sel = command.selector
    if sel is None and command.args:
        ref = command.args[0]
        if ref.startswith("*") or ref.isdigit():
            return (("ref", ref),), ref
        return (("name", ref),), ref
    if sel is None:
        return (), ""
    if sel.find is not None:
        find = tuple((p.key, p.value or "") for p in sel.find if p.value is not None)
        inner = " ".join(f"{k}={v}" for k, v in find)
        return find, f"[ find {inner} ]"
    ref = sel.ref or ""
    if ref.startswith("*") or ref.isdigit():
        return (("ref", ref),), ref
    return (("name", ref),), ref


@lru_cache(maxsize=4)
def _table(version_major: int) -> Mapping[str, MenuFactory]:
    config = parse(FACTORY[version_major], source=f"routeros/defaults.py FACTORY[{version_major}]")
    every: dict[str, dict[str, str]] = {}
    items: dict[str, dict[Parts, dict[str, str]]] = {}
    refs: dict[str, dict[Parts, str]] = {}
    for menu in config.menus:
        for command in menu.commands:
            values = {p.key: p.value for p in command.props if p.value is not None}
            if command.verb == "add":
                every.setdefault(menu.path, {}).update(values)
                continue
            found = parts_of(command)
            if found is None:
                continue
            parts, ref = found
            items.setdefault(menu.path, {}).setdefault(parts, {}).update(values)
            refs.setdefault(menu.path, {})[parts] = ref
    return {
        path: MenuFactory(every.get(path, {}), items.get(path, {}), refs.get(path, {}))
        for path in {*every, *items}
    }


def menu_factory(path: str, ros_version: str | None) -> MenuFactory:
    """``path``'s factory values on ``ros_version`` (empty when the table is silent)."""
    return _table(major(ros_version)).get(path, _EMPTY)


def item_defaults(
    path: str, parts: Parts, ros_version: str | None, name: str | None = None
) -> Mapping[str, str]:
    """See :func:`_item_defaults` (cached; never change the result)."""
    return _item_defaults(path, parts, major(ros_version), name)


@lru_cache(maxsize=8192)
def _item_defaults(
    path: str, parts: Parts, version_major: int, name: str | None
) -> Mapping[str, str]:
    """What a built-in item (or, with ``parts=()``, a singleton) has when not set.

    The menu's ``add`` line, then the item's own line. (An item found by ``name=`` or
    ``default-name=`` is also named so: :func:`tikguard.routeros.items.default_of`.)

    Exports address some built-in items by print number (``/queue type set 6``), and
    numbers move when items are added before them: when the export gives the item's
    ``name``, the factory item of that name is the one (``set 6 name=pcq-upload-default``
    is the factory's ``5`` on a router with one more queue type), and a number whose
    factory item has another name gets no item values at all.
    """
    factory = _table(version_major).get(path, _EMPTY)
    out = dict(factory.every)
    own = factory.items.get(parts)
    if name is not None and (own is None or own.get("name", name) != name):
        own = next((v for v in factory.items.values() if v.get("name") == name), None)
    out.update(own or {})
    return out


def reported(path: str) -> frozenset[str]:
    """The hardware-reported properties of ``path``'s built-in items (:data:`REPORTED`)."""
    return REPORTED.get(path, frozenset())


def always_printed(path: str, ros_version: str | None) -> frozenset[str]:
    return ALWAYS_PRINTED.get(major(ros_version), {}).get(path, frozenset())
