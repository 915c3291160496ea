"""The menu schema: the one place that knows how each RouterOS menu behaves.

For every menu path: how an item is identified (its natural key), whether item order
matters, whether the menu is a singleton (``/ip dns``: one set of properties, no
items), which items exist by default (addressed with ``set [ find default-name=... ]``),
which properties are sensitive, which menus must be configured before it, and the
default values that compact exports omit. The parser, diff/patch, secrets splitting
and the simulator all ask this module; nothing else hard-codes menu knowledge.

Coverage: every menu that appears in the real exports of the test corpus (RouterOS
5.7 to 7.21), checked by ``tests/routeros/test_schema.py``. Where a menu changed shape
between versions the entry describes both: ``/tool mac-server`` is a list of
interfaces on 6.x and a singleton on 7.x (a selector-less ``set`` is read as the
singleton form by item identity), ``/mpls ldp`` is a singleton on 6.x and a list keyed
by ``vrf`` on 7.x.

Property defaults are only listed where they hold on both 6.x and 7.x (checked
against verbose exports, which print every property); a default that differs by
version or by hardware (``l2mtu``, ``speed``, ``poe-out``, DHCP lease time, bridge
path costs) is left out, because a wrong default would hide a real change.

Unknown menus get a conservative fallback (see :func:`lookup`): not a singleton,
unordered, identified by ``name`` when items have one and by their full property set
otherwise, with the global sensitive-property list. Treating an unknown menu as
unordered is the one non-conservative choice: it keeps diffs of menus we do not know
readable, and a push verifies the resulting export anyway.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Final


@dataclass(frozen=True)
class MenuSchema:
    path: str
    #: Natural-key alternatives, most specific first; an item is identified by the first
    #: alternative whose properties it carries (``("name",)``, ``("address", "interface")``).
    #: Empty: identified by content (the full property set), as firewall rules are.
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
    #: Exact menu paths: an entry covers that menu only, not the menus below it
    #: (``/interface bridge`` is bridges, not ``/interface bridge port``), so a
    #: sub-menu that is referred to is listed itself. Every entry is a menu of this
    #: table, and the graph over all menus has no cycle (``tests/routeros/
    #: test_schema_table.py``), so diff and patch can always order menus by it.
    depends_on: tuple[str, ...] = ()
    #: Property defaults that compact exports omit (used for ``unset`` and by the simulator).
    defaults: dict[str, str] = field(default_factory=dict)
    #: Items exist only by default (no ``add``): ``/ip service``, ``/queue interface``;
    #: they are addressed by name or number and can only be ``set``.
    fixed: bool = False
    #: False for the :func:`lookup` fallback of a menu this table does not know.
    known: bool = True
    #: Defaults that differ on RouterOS 6.x and older (see :func:`defaults_for`): 6.x
    #: adds DHCP clients and servers, PPP clients and VPLS tunnels *disabled* unless
    #: ``disabled=no`` is given, which is why 6.x exports print ``disabled=no`` on them.
    legacy_defaults: dict[str, str] = field(default_factory=dict)
    #: Properties whose value is RouterOS script text (``source``, ``on-event``,
    #: ``down-script``): credentials written inside them are redacted by
    #: :mod:`tikguard.routeros.secrets` (see :data:`SCRIPT_PROPERTIES`).
    scripts: frozenset[str] = frozenset()
    #: Values RouterOS prints even without ``show-sensitive`` that are secrets in
    #: practice (SNMP community names, container environment values): tikguard keeps
    #: them out of versions and diffs like ``sensitive`` ones, while the simulator's
    #: export (which follows RouterOS) still prints them.
    confidential: frozenset[str] = frozenset()
    #: Properties that have no value unless an item gives one (firewall matchers, which
    #: verbose exports print as ``!key``): ``find key=value`` with a non-empty value
    #: never matches an item that leaves them out, so a patch can prove a readable
    #: ``find`` selector unique instead of addressing a rule by its position.
    unset_when_absent: frozenset[str] = frozenset()

    @property
    def redacted(self) -> frozenset[str]:
        """Every property whose whole value tikguard redacts: sensitive or confidential."""
        return self.sensitive | self.confidential if self.confidential else self.sensitive


#: Sensitive property names anywhere (passwords, secrets, pre-shared keys, private keys).
SENSITIVE_EVERYWHERE: frozenset[str] = frozenset(
    {
        "password",
        "secret",
        "secrets",
        "passphrase",
        "wpa-pre-shared-key",
        "wpa2-pre-shared-key",
        "pre-shared-key",
        "preshared-key",
        "private-key",
        "auth-key",
        "authentication-key",
        "authentication-password",
        "encryption-password",
        "md5-key",
        "tcp-md5-key",
        "ipsec-secret",
        "nv2-preshared-key",
        "nv2-sync-secret",
        "management-protection-key",
        "mschapv2-password",
        "static-key-0",
        "static-key-1",
        "static-key-2",
        "static-key-3",
        "static-sta-private-key",
        "sae-password",
        "security.passphrase",
        "security.sae-password",
        "sim-pin",
    }
)

#: Menus whose items are interfaces other menus refer to by name.
INTERFACE_MENUS: Final = (
    "/interface ethernet",
    "/interface wireless",
    "/interface wifi",
    "/interface lte",
    "/interface bonding",
    "/interface bridge",
    "/interface vlan",
    "/interface veth",
    "/interface eoip",
    "/interface gre",
    "/interface ipip",
    "/interface 6to4",
    "/interface vpls",
    "/interface vrrp",
    "/interface vxlan",
    "/interface macvlan",
    "/interface wireguard",
    "/interface l2tp-client",
    "/interface pppoe-client",
    "/interface pptp-client",
    "/interface sstp-client",
    "/interface ovpn-client",
    "/interface l2tp-server",
    "/interface pptp-server",
    "/interface sstp-server",
)

#: The table as the definitions below build it at import; frozen into :data:`_MENUS`
#: (and deleted) once they are all in.
_building: dict[str, MenuSchema] = {}


def _menu(path: str, *, _into: dict[str, MenuSchema] = _building, **kwargs: object) -> None:
    """Define one menu's schema (at import only: ``_into`` is the table being built)."""
    if path in _into:
        raise ValueError(f"menu {path!r} is defined twice in the schema")
    kwargs.setdefault("sensitive", SENSITIVE_EVERYWHERE)
    schema = MenuSchema(path=path, **kwargs)  # type: ignore[arg-type]
    _into[path] = schema


def _singletons(*paths: str) -> None:
    for path in paths:
        _menu(path, singleton=True, keys=())


def _ordered(path: str, *deps: str, **defaults: str) -> None:
    """A rule list: order matters, rules identified by their content."""
    _menu(path, ordered=True, keys=(), depends_on=deps, defaults=_d(**defaults))


def _fixed(path: str, *keys: str, **defaults: str) -> None:
    """Built-in items only, addressed by name or number (``set telnet``, ``set 0``)."""
    _menu(path, fixed=True, keys=((*keys,),) if keys else (("name",),), defaults=_d(**defaults))


def _d(**values: str) -> dict[str, str]:
    """Defaults written as keyword arguments (``_`` in a name stands for ``-``)."""
    return {key.replace("_", "-"): value for key, value in values.items()}


# ---------------------------------------------------------------- interfaces
_LOOP = _d(loop_protect="default", loop_protect_disable_time="5m", loop_protect_send_interval="5s")
_menu(
    "/interface ethernet",
    default_key="default-name",
    fixed=True,
    defaults=_d(
        arp="enabled",
        arp_timeout="auto",
        auto_negotiation="yes",
        bandwidth="unlimited/unlimited",
        disabled="no",
        full_duplex="yes",
        mtu="1500",
        rx_flow_control="off",
        tx_flow_control="off",
        **{k.replace("-", "_"): v for k, v in _LOOP.items()},
    ),
)
_menu(
    "/interface ethernet switch",
    fixed=True,
    defaults=_d(drop_if_invalid_or_src_port_not_member_of_vlan_on_ports=""),
)
_menu("/interface ethernet switch egress-vlan-tag", keys=(("vlan-id",),))
_menu("/interface ethernet switch ingress-vlan-translation", keys=())
_fixed("/interface ethernet switch port")
_menu("/interface ethernet switch vlan", keys=(("vlan-id",),))
_menu(
    "/interface bridge",
    defaults=_d(
        ageing_time="5m",
        arp="enabled",
        arp_timeout="auto",
        auto_mac="yes",
        dhcp_snooping="no",
        fast_forward="yes",
        forward_delay="15s",
        igmp_snooping="no",
        max_message_age="20s",
        mtu="auto",
        priority="0x8000",
        protocol_mode="rstp",
        transmit_hold_count="6",
        vlan_filtering="no",
    ),
)
_menu(
    "/interface bridge port",
    keys=(("interface",),),
    depends_on=("/interface bridge", *INTERFACE_MENUS),
    defaults=_d(
        auto_isolate="no",
        bpdu_guard="no",
        broadcast_flood="yes",
        edge="auto",
        fast_leave="no",
        frame_types="admit-all",
        horizon="none",
        ingress_filtering="no",
        learn="auto",
        multicast_router="temporary-query",
        point_to_point="auto",
        priority="0x80",
        pvid="1",
        restricted_role="no",
        restricted_tcn="no",
        tag_stacking="no",
        trusted="no",
        unknown_multicast_flood="yes",
        unknown_unicast_flood="yes",
    ),
)
_menu(
    "/interface bridge vlan",
    keys=(("bridge", "vlan-ids"),),
    depends_on=("/interface bridge", *INTERFACE_MENUS),
)
_ordered("/interface bridge filter", *INTERFACE_MENUS, log="no", log_prefix="")
_ordered("/interface bridge nat", *INTERFACE_MENUS, log="no", log_prefix="")
_menu(
    "/interface bridge settings",
    singleton=True,
    keys=(),
    defaults=_d(
        allow_fast_path="yes",
        use_ip_firewall="no",
        use_ip_firewall_for_pppoe="no",
        use_ip_firewall_for_vlan="no",
    ),
)
_menu(
    "/interface bridge port-controller",
    singleton=True,
    keys=(),
    defaults=_d(bridge="none", cascade_ports="", switch="none"),
)
_menu(
    "/interface bridge port-extender",
    singleton=True,
    keys=(),
    defaults=_d(control_ports="", excluded_ports="", switch="none"),
)
_menu(
    "/interface vlan",
    depends_on=(
        "/interface ethernet",
        "/interface bonding",
        "/interface bridge",
        "/interface wireless",
    ),
    defaults=_d(
        arp="enabled",
        arp_timeout="auto",
        mtu="1500",
        use_service_tag="no",
        **{k.replace("-", "_"): v for k, v in _LOOP.items()},
    ),
)
_menu("/interface bonding", depends_on=("/interface ethernet",))
_menu("/interface vrrp", depends_on=INTERFACE_MENUS[:8])
for _tunnel in ("/interface gre", "/interface eoip", "/interface ipip", "/interface 6to4"):
    # The local address need not exist when a tunnel is added, while addresses on the
    # tunnel need the tunnel: tunnels come before /ip address, not after.
    _menu(_tunnel)
_menu(
    "/interface vpls",
    depends_on=("/interface bridge", "/mpls"),
    legacy_defaults={"disabled": "yes"},
)
_menu("/interface veth")
_menu("/interface vxlan", depends_on=("/interface bridge",))
_menu("/interface macvlan", depends_on=INTERFACE_MENUS[:8])
_menu("/interface wireguard", defaults=_d(mtu="1420"))
_menu(
    "/interface wireguard peers",
    keys=(("public-key", "interface"), ("name",)),
    depends_on=("/interface wireguard",),
)
_menu("/interface lte", default_key="default-name")
_menu("/interface lte apn", default_key="default")
for _client in (
    "/interface l2tp-client",
    "/interface pptp-client",
    "/interface sstp-client",
    "/interface ovpn-client",
):
    _menu(_client, depends_on=("/ppp profile", "/certificate"), legacy_defaults={"disabled": "yes"})
_menu(
    "/interface pppoe-client",
    depends_on=("/ppp profile", "/interface ethernet", "/interface vlan", "/interface bridge"),
    legacy_defaults={"disabled": "yes"},
)
for _server in ("/interface l2tp-server", "/interface pptp-server", "/interface sstp-server"):
    _menu(_server, keys=(("name",), ("user",)), depends_on=("/ppp secret",))
_menu(
    "/interface l2tp-server server",
    singleton=True,
    keys=(),
    depends_on=("/ppp profile",),
    defaults=_d(
        allow_fast_path="no",
        authentication="pap,chap,mschap1,mschap2",
        caller_id_type="ip-address",
        default_profile="default-encryption",
        enabled="no",
        ipsec_secret="",
        keepalive_timeout="30",
        max_mru="1450",
        max_mtu="1450",
        max_sessions="unlimited",
        mrru="disabled",
        one_session_per_host="no",
        use_ipsec="no",
    ),
)
_menu(
    "/interface pptp-server server",
    singleton=True,
    keys=(),
    depends_on=("/ppp profile",),
    defaults=_d(
        authentication="mschap1,mschap2",
        default_profile="default-encryption",
        enabled="no",
        keepalive_timeout="30",
        max_mru="1450",
        max_mtu="1450",
        mrru="disabled",
    ),
)
_menu(
    "/interface sstp-server server",
    singleton=True,
    keys=(),
    depends_on=("/ppp profile", "/certificate"),
    defaults=_d(
        authentication="pap,chap,mschap1,mschap2",
        certificate="none",
        default_profile="default",
        enabled="no",
        force_aes="no",
        keepalive_timeout="60",
        max_mru="1500",
        max_mtu="1500",
        mrru="disabled",
        pfs="no",
        port="443",
        tls_version="any",
        verify_client_certificate="no",
    ),
)
# 6.x and 7.x before 7.17: one OpenVPN server (``set``); 7.17+: several (``add name=``).
_menu(
    "/interface ovpn-server server",
    depends_on=("/ppp profile", "/certificate"),
    defaults=_d(
        auth="sha1,md5",
        default_profile="default",
        enabled="no",
        keepalive_timeout="60",
        max_mtu="1500",
        mode="ip",
        netmask="24",
        port="1194",
        require_client_certificate="no",
    ),
)
_menu(
    "/interface pppoe-server server",
    keys=(("service-name", "interface"), ("interface",)),
    depends_on=("/ppp profile", *INTERFACE_MENUS[:8]),
    legacy_defaults={"disabled": "yes"},
)
_menu("/interface list", defaults=_d(include="", exclude=""))
_menu(
    "/interface list member",
    keys=(("list", "interface"),),
    depends_on=("/interface list", *INTERFACE_MENUS),
)
_menu(
    "/interface detect-internet",
    singleton=True,
    keys=(),
    defaults=_d(
        detect_interface_list="none",
        internet_interface_list="none",
        lan_interface_list="none",
        wan_interface_list="none",
    ),
    depends_on=("/interface list",),
)

# ---------------------------------------------------------------- wireless
_menu(
    "/interface wireless",
    default_key="default-name",
    depends_on=("/interface wireless security-profiles", "/interface wireless channels"),
    defaults=_d(
        adaptive_noise_immunity="none",
        allow_sharedkey="no",
        ampdu_priorities="0",
        amsdu_limit="8192",
        amsdu_threshold="8192",
        area="",
        arp="enabled",
        arp_timeout="auto",
        bridge_mode="enabled",
        compression="no",
        default_ap_tx_limit="0",
        default_authentication="yes",
        default_client_tx_limit="0",
        default_forwarding="yes",
        disable_running_check="no",
        disconnect_timeout="3s",
        frame_lifetime="0",
        frequency_offset="0",
        guard_interval="any",
        hide_ssid="no",
        hw_fragmentation_threshold="disabled",
        hw_protection_mode="none",
        hw_protection_threshold="0",
        hw_retries="7",
        installation="any",
        interworking_profile="disabled",
        keepalive_frames="enabled",
        mtu="1500",
        multicast_buffering="enabled",
        multicast_helper="default",
        noise_floor_threshold="default",
        on_fail_retry_time="100ms",
        preamble_mode="both",
        rate_selection="advanced",
        rate_set="default",
        scan_list="default",
        secondary_frequency="",
        security_profile="default",
        skip_dfs_channels="disabled",
        station_bridge_clone_mac="00:00:00:00:00:00",
        tdma_period_size="2",
        tx_power_mode="default",
        update_stats_interval="disabled",
        vlan_id="1",
        vlan_mode="no-tag",
        wds_cost_range="50-150",
        wds_default_bridge="none",
        wds_default_cost="100",
        wds_ignore_ssid="no",
        wds_mode="disabled",
        wmm_support="disabled",
    ),
)
_menu(
    "/interface wireless security-profiles",
    default_key="default",
    defaults=_d(
        disable_pmkid="no",
        eap_methods="passthrough",
        group_ciphers="aes-ccm",
        group_key_update="5m",
        interim_update="0s",
        management_protection="disabled",
        management_protection_key="",
        mschapv2_password="",
        mschapv2_username="",
        radius_called_format="mac:ssid",
        radius_eap_accounting="no",
        radius_mac_accounting="no",
        radius_mac_authentication="no",
        radius_mac_caching="disabled",
        radius_mac_format="XX:XX:XX:XX:XX:XX",
        radius_mac_mode="as-username",
        static_algo_0="none",
        static_algo_1="none",
        static_algo_2="none",
        static_algo_3="none",
        static_key_0="",
        static_key_1="",
        static_key_2="",
        static_key_3="",
        static_sta_private_algo="none",
        static_sta_private_key="",
        static_transmit_key="key-0",
        tls_certificate="none",
        tls_mode="no-certificates",
        unicast_ciphers="aes-ccm",
    ),
)
_menu("/interface wireless channels")
_ordered("/interface wireless access-list", "/interface wireless")
_ordered("/interface wireless connect-list", "/interface wireless")
_fixed("/interface wireless manual-tx-power-table")
_fixed("/interface wireless nstreme")
_menu(
    "/interface wireless align",
    singleton=True,
    keys=(),
    defaults=_d(
        active_mode="yes",
        audio_max="-20",
        audio_min="-100",
        audio_monitor="00:00:00:00:00:00",
        filter_mac="00:00:00:00:00:00",
        frame_size="300",
        frames_per_second="25",
        receive_all="no",
        ssid_all="no",
    ),
)
_menu(
    "/interface wireless cap",
    singleton=True,
    keys=(),
    depends_on=("/interface wireless", "/interface bridge"),
    defaults=_d(
        bridge="none",
        caps_man_addresses="",
        caps_man_certificate_common_names="",
        caps_man_names="",
        certificate="none",
        discovery_interfaces="",
        enabled="no",
        interfaces="",
        lock_to_caps_man="no",
        static_virtual="no",
    ),
)
_menu(
    "/interface wireless sniffer",
    singleton=True,
    keys=(),
    defaults=_d(
        channel_time="200ms",
        file_limit="10",
        file_name="",
        memory_limit="10",
        multiple_channels="no",
        only_headers="no",
        receive_errors="no",
        streaming_enabled="no",
        streaming_max_rate="0",
        streaming_server="0.0.0.0",
    ),
)
_menu(
    "/interface wireless snooper",
    singleton=True,
    keys=(),
    defaults=_d(channel_time="200ms", multiple_channels="yes", receive_errors="no"),
)
_WIFI_SUBMENUS = (
    "/interface wifi configuration",
    "/interface wifi security",
    "/interface wifi channel",
    "/interface wifi datapath",
    "/interface wifi steering",
    "/interface wifi aaa",
    "/interface wifi interworking",
)
_menu("/interface wifi", default_key="default-name", depends_on=_WIFI_SUBMENUS)
for _sub in _WIFI_SUBMENUS:
    _menu(_sub, depends_on=("/interface bridge",) if _sub.endswith("datapath") else ())
_ordered("/interface wifi access-list", "/interface wifi")
_ordered("/interface wifi provisioning", "/interface wifi configuration")
_menu("/interface wifi cap", singleton=True, keys=())
_menu("/interface wifi capsman", singleton=True, keys=())

# ---------------------------------------------------------------- CAPsMAN v1
for _caps in (
    "/caps-man channel",
    "/caps-man datapath",
    "/caps-man rates",
    "/caps-man security",
):
    _menu(_caps, depends_on=("/interface bridge",) if _caps.endswith("datapath") else ())
_menu(
    "/caps-man configuration",
    depends_on=("/caps-man channel", "/caps-man datapath", "/caps-man rates", "/caps-man security"),
)
_ordered("/caps-man provisioning", "/caps-man configuration")
_ordered("/caps-man access-list")
_menu(
    "/caps-man manager",
    singleton=True,
    keys=(),
    depends_on=("/certificate",),
    defaults=_d(
        ca_certificate="none",
        certificate="none",
        enabled="no",
        package_path="",
        require_peer_certificate="no",
        upgrade_policy="none",
    ),
)
_menu(
    "/caps-man manager interface",
    keys=(("interface",),),
    default_key="default",
    depends_on=INTERFACE_MENUS,
)
_menu(
    "/caps-man aaa",
    singleton=True,
    keys=(),
    defaults=_d(
        called_format="mac:ssid",
        interim_update="disabled",
        mac_caching="disabled",
        mac_format="XX:XX:XX:XX:XX:XX",
        mac_mode="as-username",
    ),
)

# ---------------------------------------------------------------- IP
_menu(
    "/ip address",
    keys=(("address", "interface"),),
    depends_on=(*INTERFACE_MENUS, "/ip vrf"),
)
_menu("/ip arp", keys=(("address", "interface"),), depends_on=INTERFACE_MENUS)
_menu("/ip pool", depends_on=())
_menu(
    "/ip dhcp-server",
    depends_on=("/ip pool", "/ip dhcp-server option sets", *INTERFACE_MENUS),
    defaults=_d(authoritative="yes", lease_script="", use_radius="no"),
    legacy_defaults={"disabled": "yes"},
)
_menu(
    "/ip dhcp-server lease",
    keys=(("mac-address", "server"), ("mac-address",), ("client-id",), ("address",)),
    depends_on=("/ip dhcp-server", "/ip dhcp-server option", "/ip dhcp-server option sets"),
    defaults=_d(address_lists="", dhcp_option=""),
)
_menu(
    "/ip dhcp-server network",
    keys=(("address",),),
    depends_on=("/ip dhcp-server option", "/ip dhcp-server option sets"),
    defaults=_d(caps_manager="", dhcp_option="", wins_server=""),
)
_menu("/ip dhcp-server option")
_menu("/ip dhcp-server option sets", depends_on=("/ip dhcp-server option",))
_menu(
    "/ip dhcp-server matcher",
    depends_on=("/ip dhcp-server", "/ip pool", "/ip dhcp-server option sets"),
)
_menu(
    "/ip dhcp-server config",
    singleton=True,
    keys=(),
    defaults=_d(accounting="yes", interim_update="0s", store_leases_disk="5m"),
)
_menu(
    "/ip dhcp-client",
    keys=(("interface",),),
    depends_on=INTERFACE_MENUS,
    defaults=_d(dhcp_options="hostname,clientid"),
    legacy_defaults={"disabled": "yes"},
)
_menu("/ip dhcp-client option")
_menu(
    "/ip dns",
    singleton=True,
    keys=(),
    defaults=_d(
        allow_remote_requests="no",
        cache_size="2048KiB",
        max_concurrent_queries="100",
        max_concurrent_tcp_sessions="20",
        max_udp_packet_size="4096",
        query_server_timeout="2s",
        query_total_timeout="10s",
        servers="",
        use_doh_server="",
        verify_doh_cert="no",
    ),
)
# Static entries are matched in order (regexp and forwarding entries on 7.x).
_menu(
    "/ip dns static",
    ordered=True,
    keys=(
        ("name", "address"),
        ("name", "cname"),
        ("name", "forward-to"),
        ("name", "text"),
        ("regexp", "address"),
        ("regexp", "forward-to"),
        ("name",),
        ("regexp",),
    ),
    depends_on=("/ip dns forwarders",),
    defaults=_d(ttl="1d"),
)
_menu("/ip dns adlist", keys=(("url",), ("file",)))
_menu("/ip dns forwarders")
_menu("/ip firewall address-list", keys=(("list", "address"),))
_menu("/ip firewall layer7-protocol")
_FW_DEPS = ("/ip firewall address-list", "/ip firewall layer7-protocol", "/interface list")
_ordered("/ip firewall filter", *_FW_DEPS, *INTERFACE_MENUS, log="no", log_prefix="")
_ordered("/ip firewall nat", *_FW_DEPS, *INTERFACE_MENUS, log="no", log_prefix="")
_ordered(
    "/ip firewall mangle", *_FW_DEPS, *INTERFACE_MENUS, log="no", log_prefix="", passthrough="yes"
)
_ordered("/ip firewall raw", *_FW_DEPS, *INTERFACE_MENUS, log="no", log_prefix="")
_fixed("/ip firewall service-port")
_menu(
    "/ip firewall connection tracking",
    singleton=True,
    keys=(),
    defaults=_d(
        enabled="auto",
        generic_timeout="10m",
        icmp_timeout="10s",
        loose_tcp_tracking="yes",
        tcp_close_timeout="10s",
        tcp_close_wait_timeout="10s",
        tcp_established_timeout="1d",
        tcp_fin_wait_timeout="10s",
        tcp_last_ack_timeout="10s",
        tcp_max_retrans_timeout="5m",
        tcp_syn_received_timeout="5s",
        tcp_syn_sent_timeout="5s",
        tcp_time_wait_timeout="10s",
        tcp_unacked_timeout="5m",
        udp_stream_timeout="3m",
        udp_timeout="10s",
    ),
)
# A route without dst-address (the default route) has no natural key: several routes
# via one gateway (failover by distance) are told apart by their full content.
_menu(
    "/ip route",
    keys=(("dst-address", "gateway", "routing-table"), ("dst-address", "gateway")),
    depends_on=(*INTERFACE_MENUS, "/ip address", "/routing table", "/ip vrf"),
    defaults=_d(distance="1", scope="30", target_scope="10", suppress_hw_offload="no"),
)
_menu("/ip route vrf", keys=(("routing-mark",),), depends_on=INTERFACE_MENUS)
_menu("/ip vrf", depends_on=INTERFACE_MENUS)
_menu(
    "/ip service",
    fixed=True,
    defaults=_d(address="", certificate="none", disabled="no", tls_version="any"),
)
_menu(
    "/ip settings",
    singleton=True,
    keys=(),
    defaults=_d(
        accept_redirects="no",
        accept_source_route="no",
        allow_fast_path="yes",
        arp_timeout="30s",
        icmp_rate_limit="10",
        icmp_rate_mask="0x1818",
        ip_forward="yes",
        max_neighbor_entries="8192",
        rp_filter="no",
        secure_redirects="yes",
        send_redirects="yes",
        tcp_syncookies="no",
    ),
)
_menu(
    "/ip cloud",
    singleton=True,
    keys=(),
    defaults=_d(ddns_enabled="no", ddns_update_interval="none", update_time="yes"),
)
_menu("/ip cloud advanced", singleton=True, keys=(), defaults=_d(use_local_address="no"))
_menu(
    "/ip ssh",
    singleton=True,
    keys=(),
    defaults=_d(
        allow_none_crypto="no",
        always_allow_password_login="no",
        forwarding_enabled="no",
        host_key_size="2048",
        strong_crypto="no",
    ),
)
_menu(
    "/ip upnp",
    singleton=True,
    keys=(),
    defaults=_d(allow_disable_external_interface="no", enabled="no", show_dummy_rule="yes"),
)
_menu("/ip upnp interfaces", keys=(("interface",),), depends_on=INTERFACE_MENUS)
_menu(
    "/ip proxy",
    singleton=True,
    keys=(),
    defaults=_d(
        always_from_cache="no",
        anonymous="no",
        cache_administrator="webmaster",
        cache_hit_dscp="4",
        cache_on_disk="no",
        cache_path="web-proxy",
        enabled="no",
        max_cache_object_size="2048KiB",
        max_cache_size="unlimited",
        max_client_connections="600",
        max_fresh_time="3d",
        max_server_connections="600",
        parent_proxy="::",
        parent_proxy_port="0",
        port="8080",
        serialize_connections="no",
        src_address="::",
    ),
)
_ordered("/ip proxy access")
_menu(
    "/ip socks",
    singleton=True,
    keys=(),
    defaults=_d(
        auth_method="none",
        connection_idle_timeout="2m",
        enabled="no",
        max_connections="200",
        version="4",
    ),
)
_ordered("/ip socks access")
_menu(
    "/ip smb",
    singleton=True,
    keys=(),
    defaults=_d(allow_guests="yes", domain="MSHOME", enabled="no", interfaces="all"),
)
_menu("/ip smb shares", default_key="default")
_menu("/ip smb users", default_key="default")
_menu("/ip tftp", keys=(("req-filename", "ip-addresses"), ("req-filename",)))
_menu("/ip tftp settings", singleton=True, keys=(), defaults=_d(max_block_size="4096"))
_menu(
    "/ip traffic-flow",
    singleton=True,
    keys=(),
    defaults=_d(
        active_flow_timeout="30m",
        cache_entries="32k",
        enabled="no",
        inactive_flow_timeout="15s",
        interfaces="all",
        packet_sampling="no",
        sampling_interval="0",
        sampling_space="0",
    ),
)
_menu("/ip traffic-flow ipfix", singleton=True, keys=())
_menu("/ip traffic-flow target", keys=(("dst-address", "port"), ("dst-address",)))
_menu(
    "/ip accounting",
    singleton=True,
    keys=(),
    defaults=_d(account_local_traffic="no", enabled="no", threshold="256"),
)
_menu(
    "/ip accounting web-access",
    singleton=True,
    keys=(),
    defaults=_d(accessible_via_web="no", address="0.0.0.0/0"),
)
_menu("/ip hotspot", depends_on=("/ip hotspot profile", "/ip pool", *INTERFACE_MENUS))
_menu("/ip hotspot profile", default_key="default")
_menu("/ip hotspot user", default_key="default", depends_on=("/ip hotspot user profile",))
_menu("/ip hotspot user profile", default_key="default")
_fixed("/ip hotspot service-port")
_ordered("/ip hotspot walled-garden")
_ordered("/ip hotspot walled-garden ip")
_menu(
    "/ip ipsec identity",
    keys=(("peer",),),
    depends_on=("/ip ipsec peer", "/ip ipsec policy group", "/ip ipsec mode-config"),
)
_menu("/ip ipsec mode-config", default_key="default")
_menu(
    "/ip ipsec peer",
    keys=(("name",), ("address",)),
    depends_on=("/ip ipsec profile", "/ip ipsec peer profile"),
)
_menu("/ip ipsec peer profile", default_key="default")
_menu("/ip ipsec profile", default_key="default")
_menu("/ip ipsec proposal", default_key="default")
_menu("/ip ipsec policy group", default_key="default")
_ordered("/ip ipsec policy", "/ip ipsec peer", "/ip ipsec proposal", "/ip ipsec policy group")
_menu(
    "/ip ipsec settings",
    singleton=True,
    keys=(),
    defaults=_d(accounting="yes", interim_update="0s", xauth_use_radius="no"),
)
_menu("/ip ipsec user settings", singleton=True, keys=())
_menu("/ip kid-control")
_menu("/ip kid-control device", keys=(("mac-address",), ("name",)), depends_on=("/ip kid-control",))
# 6.x: per-interface discovery items (``set ether1 discover=no``); 7.x: discovery-settings.
_fixed("/ip neighbor discovery")
_menu(
    "/ip neighbor discovery-settings",
    singleton=True,
    keys=(),
    depends_on=("/interface list",),
    defaults=_d(lldp_med_net_policy_vlan="disabled"),
)

# ---------------------------------------------------------------- IPv6
_menu(
    "/ipv6 address",
    keys=(("address", "interface"), ("from-pool", "interface")),
    depends_on=(*INTERFACE_MENUS, "/ipv6 pool"),
)
_menu("/ipv6 dhcp-client", keys=(("interface",),), depends_on=INTERFACE_MENUS)
_menu("/ipv6 dhcp-server", depends_on=("/ipv6 pool", *INTERFACE_MENUS))
_menu("/ipv6 firewall address-list", keys=(("list", "address"),))
_V6_FW = ("/ipv6 firewall address-list", "/interface list")
for _chain in ("filter", "nat", "raw"):
    _ordered(f"/ipv6 firewall {_chain}", *_V6_FW, *INTERFACE_MENUS, log="no", log_prefix="")
_ordered(
    "/ipv6 firewall mangle", *_V6_FW, *INTERFACE_MENUS, log="no", log_prefix="", passthrough="yes"
)
_menu("/ipv6 nd", keys=(("interface",),), default_key="default", depends_on=INTERFACE_MENUS)
_menu("/ipv6 nd prefix", keys=(("prefix", "interface"),), depends_on=INTERFACE_MENUS)
_menu("/ipv6 nd prefix default", singleton=True, keys=())
_menu("/ipv6 pool")
_menu(
    "/ipv6 route",
    keys=(("dst-address", "gateway", "routing-table"), ("dst-address", "gateway")),
    depends_on=(*INTERFACE_MENUS, "/ipv6 address", "/routing table"),
    defaults=_d(distance="1", scope="30", target_scope="10", suppress_hw_offload="no"),
)
_menu("/ipv6 settings", singleton=True, keys=(), defaults=_d(disable_ipv6="no"))

# ---------------------------------------------------------------- routing, MPLS
_menu("/routing table", depends_on=("/ip vrf",))
_menu("/routing id")
_ordered("/routing rule", "/routing table")
_ordered("/routing filter")  # 6.x routing filters: chains of ordered rules
# 7.x: rules name community and number lists (``bgp-communities includes-list L``).
_ordered("/routing filter rule", "/routing filter community-list", "/routing filter num-list")
_menu("/routing filter community-list", keys=(("list", "communities"), ("list",)))
_menu("/routing filter num-list", keys=(("list", "range"), ("list",)))
# Filter chains are ``/routing filter`` rules on 6.x and ``/routing filter rule`` on 7.x.
_FILTERS = ("/routing filter", "/routing filter rule")
_menu("/routing ospf instance", default_key="default", depends_on=(*_FILTERS, "/routing id"))
_menu("/routing ospf area", default_key="default", depends_on=("/routing ospf instance",))
_menu(
    "/routing ospf interface-template",
    keys=(),
    depends_on=("/routing ospf area", *INTERFACE_MENUS),
)
_menu("/routing ospf network", keys=(("network",),), depends_on=("/routing ospf area",))
_menu("/routing ospf interface", keys=(("interface",),), depends_on=INTERFACE_MENUS)
_menu("/routing ospf static-neighbor", keys=(("address",),))
_menu("/routing bgp template", depends_on=_FILTERS)
_menu("/routing bgp connection", depends_on=("/routing bgp template", *_FILTERS))
_menu("/routing bgp instance", depends_on=("/routing filter",))  # 6.x
_menu("/routing bgp peer", depends_on=("/routing bgp instance", "/routing filter"))  # 6.x
_menu("/routing bgp network", keys=(("network",),))  # 6.x
_menu("/routing bgp vpn", depends_on=("/ip vrf",))
_menu(
    "/routing bfd interface",
    keys=(("interfaces",), ("interface",)),
    default_key="default",
    depends_on=INTERFACE_MENUS,
)
_menu("/routing bfd configuration", keys=(("interfaces",),), depends_on=INTERFACE_MENUS)
_menu("/routing igmp-proxy", singleton=True, keys=())
_menu("/routing igmp-proxy interface", keys=(("interface",),), depends_on=INTERFACE_MENUS)
_menu("/routing isis instance")
_menu("/routing isis interface-template", keys=(), depends_on=("/routing isis instance",))
_menu(
    "/routing rip",
    singleton=True,
    keys=(),
    defaults=_d(
        distribute_default="never",
        garbage_timer="2m",
        metric_bgp="1",
        metric_connected="1",
        metric_default="1",
        metric_ospf="1",
        metric_static="1",
        redistribute_bgp="no",
        redistribute_connected="no",
        redistribute_ospf="no",
        redistribute_static="no",
        timeout_timer="3m",
        update_timer="30s",
    ),
)
_menu("/routing mme", singleton=True, keys=())
_menu(
    "/mpls",
    singleton=True,
    keys=(),
    defaults=_d(allow_fast_path="yes", dynamic_label_range="16-1048575", propagate_ttl="yes"),
)
_menu("/mpls settings", singleton=True, keys=())
_menu("/mpls interface", keys=(("interface",),), default_key="default", depends_on=INTERFACE_MENUS)
# 6.x: a singleton ``set``; 7.x: one LDP instance per VRF (``add vrf=main``).
_menu("/mpls ldp", keys=(("vrf",),), depends_on=("/ip vrf",))
_menu("/mpls ldp interface", keys=(("interface",),), depends_on=INTERFACE_MENUS)
_menu("/mpls ldp neighbor", keys=(("transport",),))

# ---------------------------------------------------------------- PPP, queues, users
_menu("/ppp profile", depends_on=("/ip pool", "/interface bridge", "/interface list"))
_menu("/ppp secret", depends_on=("/ppp profile",))
_menu(
    "/ppp aaa",
    singleton=True,
    keys=(),
    defaults=_d(
        accounting="yes", interim_update="0s", use_circuit_id_in_nas_port_id="no", use_radius="no"
    ),
)
_menu("/queue type")
_fixed("/queue interface", "interface")
_ordered("/queue simple", "/queue type", *INTERFACE_MENUS)
_menu("/queue tree", depends_on=("/queue type", *INTERFACE_MENUS))
_menu("/user", depends_on=("/user group",))
_menu("/user group")
_menu(
    "/user aaa",
    singleton=True,
    keys=(),
    defaults=_d(
        accounting="yes",
        default_group="read",
        exclude_groups="",
        interim_update="0s",
        use_radius="no",
    ),
)
_menu("/radius", keys=(("address", "service"), ("address",)))
_menu("/radius incoming", singleton=True, keys=(), defaults=_d(accept="no", port="3799"))
_menu("/snmp", singleton=True, keys=())
_menu("/snmp community", default_key="default")

# ---------------------------------------------------------------- system
_singletons(
    "/system clock",
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
    "/tool bandwidth-server",
    "/tool e-mail",
    "/tool graphing",
    "/tool mac-server ping",
    "/tool romon",
    "/tool sms",
    "/tool sniffer",
    "/tool traffic-generator",
    "/tool user-manager database",
    "/certificate settings",
    "/container config",
    "/disk settings",
    "/iot lora traffic options",
    "/lcd",
    "/port firmware",
    "/app settings",
    "/system device-mode",
)
_menu("/system identity", singleton=True, keys=(), defaults={"name": "MikroTik"})
_menu("/system ntp client servers", keys=(("address",),))
_menu("/system scheduler", depends_on=("/system script",))
_menu("/system script")
_menu("/system logging", keys=(), depends_on=("/system logging action",))
_menu("/system logging action")
_fixed("/system lcd page")
_menu("/system leds", keys=(("leds",), ("interface",)), depends_on=INTERFACE_MENUS)
_fixed("/system resource irq")
_fixed("/system resource irq rps")
_menu("/system console", keys=(("port",),))
_menu("/certificate", keys=(("name",), ("common-name",)))
_menu("/tool netwatch", keys=(("host", "type"), ("host",)), depends_on=("/system script",))
# 6.x: per-interface items (``add interface=ether2``, ``set [ find default=yes ]``);
# 7.x: singletons (``set allowed-interface-list=LAN``).
_menu("/tool mac-server", keys=(("interface",),), default_key="default")
_menu("/tool mac-server mac-winbox", keys=(("interface",),), default_key="default")
_menu("/tool romon port", keys=(("interface",),), default_key="default", depends_on=INTERFACE_MENUS)
_menu("/tool graphing interface", keys=(("interface", "allow-address"), ("interface",)))
_menu("/tool graphing resource", keys=(("allow-address",),))
_menu("/tool graphing queue", keys=(("simple-queue", "allow-address"), ("simple-queue",)))
_fixed("/tool user-manager customer")
_fixed("/port")
_fixed("/lcd interface")
_fixed("/lcd screen")
_menu("/disk", keys=(("slot",),))
_menu("/store", depends_on=("/disk",))
_menu(
    "/container",
    keys=(("name",), ("interface",)),
    depends_on=("/interface veth", "/container mounts", "/container envs", "/container config"),
)
_menu("/container mounts")
_menu("/container envs", keys=(("list", "key"), ("name", "key")))
_menu("/app", fixed=True)
_menu("/iot lora servers")
_menu("/zerotier", fixed=True)
_menu("/zerotier interface", depends_on=("/zerotier",))


#: Properties that hold script text, per menu. RouterOS runs them; engineers write
#: credentials into them (``/tool fetch ... password=``, ``:local MailPass "..."``, a
#: Telegram bot token in a URL), so :mod:`tikguard.routeros.secrets` redacts those.
SCRIPT_PROPERTIES: Final[Mapping[str, frozenset[str]]] = MappingProxyType(
    {
        path: frozenset(props.split())
        for path, props in {
            "/system script": "source",
            "/system scheduler": "on-event",
            "/tool netwatch": "up-script down-script test-script",
            "/interface vrrp": "on-master on-backup on-fail",
            "/ip dhcp-server": "lease-script",
            "/ip dhcp-client": "script",
            "/ipv6 dhcp-client": "script",
            "/ppp profile": "on-up on-down",
            "/ip hotspot user profile": "on-login on-logout",
        }.items()
    }
)
#: Script properties assumed in menus the table does not know (conservative: scanning
#: text for credentials only ever redacts more).
SCRIPT_PROPERTIES_EVERYWHERE: Final = frozenset().union(*SCRIPT_PROPERTIES.values())

#: Confidential values (see :attr:`MenuSchema.confidential`):
#:
#: * ``/snmp community`` ``name``: on SNMP v1/v2c the community name *is* the password,
#:   and ``/snmp`` ``trap-community`` is one. The name is also the item's natural key:
#:   redacted with a tenant key, equal names get equal placeholders, so diffs of stored
#:   versions still pair communities (a changed name is the item renamed); redacted
#:   without one (placeholders name the place) a changed name is not visible in a diff.
#:   Patches are always made from the configs with their secrets merged back, so they
#:   address communities by their real names.
#: * ``/container envs`` ``value``: containers take their credentials (database
#:   passwords, API tokens) from environment values; the ``key`` stays visible.
CONFIDENTIAL: Final[Mapping[str, frozenset[str]]] = MappingProxyType(
    {
        "/snmp community": frozenset({"name"}),
        "/snmp": frozenset({"trap-community"}),
        "/container envs": frozenset({"value"}),
    }
)

#: Firewall matchers: a rule that does not set one has no value for it. From the
#: verbose exports of RouterOS 6.43-6.49 (``!connection-state``, ``!dst-port``, ...)
#: and the matchers common to every chain in RouterOS's firewall documentation.
_MATCHER_NAMES: Final = """connection-bytes connection-limit connection-mark connection-nat-state
    connection-rate connection-state connection-type content dscp dst-address
    dst-address-list dst-address-type dst-limit dst-port fragment hotspot icmp-options
    in-bridge-port in-bridge-port-list in-interface in-interface-list ingress-priority
    ipsec-policy ipv4-options layer7-protocol limit nth out-bridge-port
    out-bridge-port-list out-interface out-interface-list packet-mark packet-size
    per-connection-classifier port priority protocol psd random routing-mark
    routing-table src-address src-address-list src-address-type src-mac-address
    src-port tcp-flags tcp-mss time tls-host ttl"""
_FIREWALL_MATCHERS: Final = frozenset(_MATCHER_NAMES.split())
for _chain in ("filter", "nat", "mangle", "raw"):
    _fw = f"/ip firewall {_chain}"
    _building[_fw] = replace(_building[_fw], unset_when_absent=_FIREWALL_MATCHERS)

for _path, _props in SCRIPT_PROPERTIES.items():
    _building[_path] = replace(_building[_path], scripts=_props)
for _path, _props in CONFIDENTIAL.items():
    _building[_path] = replace(_building[_path], confidential=_props)

#: Every menu's schema, by path (read-only once the module is imported).
_MENUS: Final[Mapping[str, MenuSchema]] = MappingProxyType(_building)
del _building


def lookup(path: str) -> MenuSchema:
    """The schema for a menu path (``/ip firewall filter``), or the conservative fallback.

    The fallback: a list identified by ``name`` (by full content when items have no
    name), unordered, not a singleton, no known defaults, the global sensitive list,
    every known script property name scanned for credentials, ``known=False``.
    """
    schema = _MENUS.get(path)
    if schema is not None:
        return schema
    return MenuSchema(
        path=path,
        sensitive=SENSITIVE_EVERYWHERE,
        known=False,
        scripts=SCRIPT_PROPERTIES_EVERYWHERE,
    )


def defaults_for(schema: MenuSchema, ros_version: str | None) -> dict[str, str]:
    """The property defaults of ``schema``'s menu on a given RouterOS version.

    ``schema.defaults`` hold on 7.x; on 6.x and older ``legacy_defaults`` override them
    (``"6.49.7"``: ``/ip dhcp-server`` adds are disabled unless ``disabled=no``). An
    unknown version (None, unparsable) counts as 7.x.
    """
    if not schema.legacy_defaults or not ros_version:
        return schema.defaults
    major = ros_version.split(".", 1)[0]
    if not major.isdigit() or int(major) >= 7:
        return schema.defaults
    return {**schema.defaults, **schema.legacy_defaults}


#: The columns RouterOS 7's plain ``print`` shows for a menu, as its ``Columns:`` line
#: names them. Confirmed by the corpus transcripts: ``/ip address``, ``/ip arp``,
#: ``/ip dhcp-server lease`` and ``/system history``; the others are RouterOS 7's column
#: sets as remembered, not captured in the corpus (docs/simulator.md says so). A menu
#: not listed prints its items as ``key=value`` lines.
PRINT_COLUMNS: Final[Mapping[str, tuple[str, ...]]] = MappingProxyType(
    {
        "/ip address": ("address", "network", "interface"),
        "/ip arp": ("address", "mac-address", "interface", "status"),
        "/ip dhcp-server lease": (
            "address",
            "mac-address",
            "host-name",
            "server",
            "status",
            "last-seen",
        ),
        "/ip pool": ("name", "ranges"),
        "/ip route": ("dst-address", "gateway", "routing-table", "distance"),
        "/ip service": ("name", "port", "certificate"),
        "/interface list": ("name",),
        "/interface list member": ("list", "interface"),
        "/interface bridge port": ("interface", "bridge", "horizon"),
        "/user": ("name", "group", "address", "last-logged-in"),
        "/user group": ("name", "policy"),
        "/system history": ("action", "by", "policy", "time"),
    }
)


def derived_values(path: str, values: Mapping[str, str | None]) -> dict[str, str]:
    """Values RouterOS computes from an item's other values when they are not given.

    ``/ip address``: ``network`` is the address's network (``10.0.2.100/24`` ->
    ``10.0.2.0``; a /32 without a peer gets the address itself), and every export
    prints it. An item whose value equals the derived one is the same item with or
    without it, so normalisation drops it and the simulator fills it in.

    ``/interface ethernet``: ``mac-address`` is the port's ``orig-mac-address`` unless
    changed (a verbose export prints both).
    """
    if path == "/interface ethernet":
        orig = values.get("orig-mac-address")
        return {"mac-address": orig} if orig else {}
    if path != "/ip address":
        return {}
    address = values.get("address")
    if not address:
        return {}
    try:
        iface = ipaddress.IPv4Interface(address)
    except ValueError:
        return {}
    return {"network": str(iface.network.network_address)}


def is_known(path: str) -> bool:
    """Whether the schema describes ``path`` (rather than falling back)."""
    return path in _MENUS


def known_paths() -> list[str]:
    return sorted(_MENUS)


#: The fallback used for menus the table does not know (``path`` is empty).
FALLBACK: Final = MenuSchema(path="", sensitive=SENSITIVE_EVERYWHERE, known=False)


_COMMON_ARGUMENTS: Final = frozenset({"numbers", "copy-from", "comment", "disabled"})

#: The arguments of menus whose argument list is checked: an unknown one is a syntax
#: error (``expected end of command``), so ``/import`` refuses a typo before applying
#: anything. Menus not listed here accept any argument (the simulator's generic items).
ARGUMENTS: Final[Mapping[str, frozenset[str]]] = MappingProxyType(
    {
        path: _COMMON_ARGUMENTS | frozenset(args.split())
        for path, args in {
            "/ip address": "address network broadcast netmask interface",
            "/system identity": "name",
            "/system scheduler": "name start-date start-time interval on-event policy",
            "/system script": "name source policy owner dont-require-permissions",
            "/ip service": "address port certificate tls-version vrf max-sessions",
            "/user": "name group password address inactivity-timeout inactivity-policy",
            "/user group": "name policy skin",
            "/ip firewall address-list": "list address timeout dynamic",
        }.items()
    }
)


def arguments(path: str) -> frozenset[str] | None:
    """The arguments ``add``/``set`` accept in ``path``, or None when not checked."""
    return ARGUMENTS.get(path)


#: Menus RouterOS never puts in an export (users, their SSH keys): a change to them
#: cannot be verified by reading an export back; tikguard reads them with ``print``.
NEVER_EXPORTED: Final = frozenset({"/user", "/user ssh-keys"})
#: Properties that neither an export nor a ``print`` ever shows (a user's password):
#: recorded as "not verifiable from the router" in a push's evidence.
NEVER_SHOWN: Final = MappingProxyType({"/user": frozenset({"password"})})
