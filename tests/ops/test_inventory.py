"""Inventory CSV: the simulator's inventory, optional columns, and clear errors."""

from __future__ import annotations

import pytest

from tikguard.ops.devices import parse_inventory
from tikguard.store.errors import InvalidInput


def test_simulator_inventory_and_defaults() -> None:
    text = (
        "name,host,port,username,password,tags,site\n"
        "r001,127.0.0.1,40001,admin,simpass,sim;ros7.16,site-01\n"
        "r002,127.0.0.1,40002,,,,\n"
    )
    first, second = parse_inventory(text)
    assert (first.name, first.port, first.password, first.tags, first.site) == (
        "r001",
        40001,
        "simpass",
        ("sim", "ros7.16"),
        "site-01",
    )
    assert (second.username, second.password, second.tags, second.site) == ("admin", None, (), None)


def test_extra_columns_are_template_variables() -> None:
    first, second = parse_inventory("name,host,dns,vlan\nr1,10.0.0.1,9.9.9.9,10\nr2,10.0.0.2,,\n")
    assert first.vars == {"dns": "9.9.9.9", "vlan": "10"}
    assert second.vars == {}  # an empty cell sets no variable


def test_only_name_and_host_are_required() -> None:
    (row,) = parse_inventory("host,name\n10.0.0.1,gw\n")
    assert (row.name, row.host, row.port) == ("gw", "10.0.0.1", 22)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name,address\nr1,10.0.0.1\n", "missing: host"),
        ("name,host,dns-server\nr1,10.0.0.1,9.9.9.9\n", "column variable name 'dns-server'"),
        ("name,host,port\nr1,10.0.0.1,ssh\n", "inventory.csv:2: port 'ssh'"),
        ("name,host\nr1,10.0.0.1\nr1,10.0.0.2\n", "appears twice"),
        ("name,host\nr1,\n", "needs a name and a host"),
    ],
)
def test_bad_rows_name_the_line(text: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        parse_inventory(text)
