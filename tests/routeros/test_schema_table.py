"""The menu schema table is consistent: dependencies exist and form no cycle, shapes agree."""

from __future__ import annotations

import pytest
from tests.conftest import corpus_exports

from tikguard.routeros.items import depends
from tikguard.routeros.matching import topo_sort
from tikguard.routeros.parse import parse
from tikguard.routeros.schema import (
    SENSITIVE_EVERYWHERE,
    defaults_for,
    is_known,
    known_paths,
    lookup,
)

PATHS = known_paths()


def test_every_dependency_is_a_known_menu() -> None:
    missing = {(p, d) for p in PATHS for d in lookup(p).depends_on if not is_known(d)}
    assert not missing


def test_dependencies_have_no_cycle() -> None:
    """A patch creates items menu by menu in dependency order; a cycle has none."""
    done: set[str] = set()
    active: list[str] = []

    def visit(path: str) -> None:
        if path in done:
            return
        assert path not in active, " -> ".join([*active[active.index(path) :], path])
        active.append(path)
        for dep in lookup(path).depends_on:
            if dep != path:
                visit(dep)
        active.pop()
        done.add(path)

    for path in PATHS:
        visit(path)


def test_items_and_patch_see_the_same_acyclic_order() -> None:
    """``items.depends`` (what matching and patch order by) is exactly ``depends_on``,
    and the order ``matching.topo_sort`` gives over every menu puts each menu after
    every menu it depends on: no cycle is broken by falling back to the given order."""
    graph = {p: {q for q in PATHS if depends(p, q)} for p in PATHS}
    assert graph == {p: set(lookup(p).depends_on) - {p} for p in PATHS}
    for given in (PATHS, PATHS[::-1]):
        order = topo_sort(list(given))
        at = {path: i for i, path in enumerate(order)}
        late = [(p, q) for p in PATHS for q in graph[p] if at[q] > at[p]]
        assert not late


def test_a_parent_menu_does_not_cover_its_sub_menus() -> None:
    """Bridge ports and bridge VLANs both depend on bridges, not on each other."""
    assert depends("/interface bridge port", "/interface bridge")
    assert depends("/interface bridge vlan", "/interface bridge")
    assert not depends("/interface bridge port", "/interface bridge vlan")
    assert not depends("/interface bridge vlan", "/interface bridge port")
    assert not depends("/ip address", "/interface bridge port")
    assert depends("/routing bgp connection", "/routing filter rule")


@pytest.mark.parametrize(
    ("dependent", "dependency"),
    [
        ("/interface bridge port", "/interface bridge"),
        ("/interface bridge port", "/interface vlan"),
        ("/interface list member", "/interface list"),
        ("/ip firewall filter", "/ip firewall address-list"),
        ("/ip firewall nat", "/interface list"),
        ("/ip address", "/interface vlan"),
        ("/ip dhcp-server", "/ip pool"),
        ("/ppp secret", "/ppp profile"),
        ("/system scheduler", "/system script"),
        ("/interface wireguard peers", "/interface wireguard"),
        ("/routing ospf interface-template", "/routing ospf area"),
    ],
)
def test_things_come_before_what_uses_them(dependent: str, dependency: str) -> None:
    assert dependency in lookup(dependent).depends_on


def test_shapes_are_consistent() -> None:
    for path in PATHS:
        schema = lookup(path)
        assert schema.path == path
        assert schema.known
        assert not (schema.singleton and schema.ordered), path
        assert not (schema.singleton and schema.keys), path
        if schema.ordered:
            assert schema.keys == () or path == "/ip dns static", path
        assert schema.sensitive >= SENSITIVE_EVERYWHERE, path
        # A secret's only default is "not set"; anything else would be a leaked value.
        assert all(schema.defaults[k] == "" for k in set(schema.defaults) & schema.sensitive)


def test_unknown_menu_falls_back_conservatively() -> None:
    schema = lookup("/tool made-up-menu")
    assert not schema.known and not is_known("/tool made-up-menu")
    assert (schema.keys, schema.ordered, schema.singleton, schema.defaults) == (
        (("name",),),
        False,
        False,
        {},
    )
    assert "password" in schema.sensitive


@pytest.mark.parametrize(
    ("path", "default_key"),
    [
        ("/interface ethernet", "default-name"),
        ("/interface wireless", "default-name"),
        ("/interface wifi", "default-name"),
        ("/interface wireless security-profiles", "default"),
        ("/ip ipsec proposal", "default"),
        ("/snmp community", "default"),
    ],
)
def test_built_in_items(path: str, default_key: str) -> None:
    assert lookup(path).default_key == default_key


@pytest.mark.parametrize(
    ("path", "prop"),
    [
        ("/ppp secret", "password"),
        ("/interface wireless security-profiles", "wpa2-pre-shared-key"),
        ("/interface wifi", "security.passphrase"),
        ("/interface wireguard", "private-key"),
        ("/interface wireguard peers", "preshared-key"),
        ("/ip ipsec identity", "secret"),
        ("/routing bgp connection", "tcp-md5-key"),
        ("/interface gre", "ipsec-secret"),
        ("/tool romon", "secrets"),
        ("/snmp community", "authentication-password"),
    ],
)
def test_sensitive_properties(path: str, prop: str) -> None:
    assert prop in lookup(path).sensitive


@pytest.mark.parametrize(
    "path",
    [
        "/ip dhcp-client",
        "/ip dhcp-server",
        "/interface pppoe-client",
        "/interface l2tp-client",
        "/interface pppoe-server server",
        "/interface vpls",
    ],
)
def test_routeros_6_adds_these_disabled(path: str) -> None:
    """6.x exports print ``disabled=no`` on these because 6.x adds them disabled."""
    schema = lookup(path)
    assert defaults_for(schema, "6.49.7")["disabled"] == "yes"
    assert "disabled" not in defaults_for(schema, "7.16")
    assert defaults_for(schema, None) == schema.defaults


def test_routeros_6_exports_print_disabled_no_on_these_menus() -> None:
    """The evidence for the legacy default: 6.x compact exports spell out disabled=no."""
    explicit = 0
    for path in corpus_exports():
        config = parse(path.read_bytes().decode("utf-8", "surrogateescape"))
        version = config.meta.ros_version or ""
        if config.meta.style == "verbose" or not version.startswith("6."):
            continue
        for menu in config.menus:
            if lookup(menu.path).legacy_defaults.get("disabled") == "yes":
                explicit += sum(
                    c.verb == "add" and c.get("disabled") == "no" for c in menu.commands
                )
    if not corpus_exports():
        pytest.skip("RouterOS corpus not found (set TIKGUARD_CORPUS)")
    assert explicit >= 10
