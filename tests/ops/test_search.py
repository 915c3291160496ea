"""Fleet config search: the index answers what a brute-force scan of the texts answers."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator

import pytest
import regex
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.ops.searchkit import SECRET_MARK, Fleet, brute_force, build_fleet

from tikguard.ops import search as search_ops
from tikguard.routeros.query import Query
from tikguard.routeros.searchable import config_items
from tikguard.store.errors import InvalidInput


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    built = build_fleet(tmp_path_factory.mktemp("search"))
    yield built
    built.db.dispose()


Found = Counter[tuple[str, int, str]]


def _indexed(
    fleet: Fleet, text: str, *, history: bool = False
) -> tuple[Query, Counter[tuple[str, int, str]]]:
    result = search_ops.search(fleet.db, fleet.tenant_id, text, history=history, max_lines=10_000)
    query = search_ops.compile_query(text)
    found: Found = Counter()
    for router in result.routers:
        assert router.count == len(router.lines)
        for match in router.lines:
            found[(router.device, router.version - 1, match.line)] += 1
    return query, found


def test_telnet_query_matches_the_brute_force_and_finds_untouched_services(fleet: Fleet) -> None:
    query, found = _indexed(fleet, "/ip service name=telnet disabled=no")
    assert found == brute_force(fleet, query)
    assert found, "the corpus has routers that leave telnet on"
    # A router whose export never mentions telnet still has it (factory values).
    assert any(line.endswith("# factory values") for _, _, line in found)


def test_history_searches_every_version(fleet: Fleet) -> None:
    query, found = _indexed(fleet, "/ip dns servers~^192\\.0\\.2\\.", history=True)
    assert found == brute_force(fleet, query, history=True)
    assert {index for _, index, _ in found} == {0}
    _, latest = _indexed(fleet, "/ip dns servers~^192\\.0\\.2\\.")
    assert not latest


def test_regex_and_tenant_scope(fleet: Fleet) -> None:
    query, found = _indexed(fleet, "re:chain=input.*action=drop")
    assert found == brute_force(fleet, query)
    assert all(name.startswith("r") for name, _, _ in found)  # never the other tenant's twin


def test_secrets_are_never_searched_or_shown(fleet: Fleet) -> None:
    with pytest.raises(InvalidInput, match="secret"):
        search_ops.search(fleet.db, fleet.tenant_id, "/ppp secret password~.")
    result = search_ops.search(fleet.db, fleet.tenant_id, "re:tikguard-secret", max_lines=10_000)
    assert result.routers == []
    assert search_ops.search(fleet.db, fleet.tenant_id, "re:" + SECRET_MARK).routers == []
    shown = search_ops.search(fleet.db, fleet.tenant_id, "re:.", history=True, max_lines=10**6)
    lines = [m.line for r in shown.routers for m in r.lines]
    items = search_ops.search(fleet.db, fleet.tenant_id, "/ppp secret name=alice")
    lines += [m.line for r in items.routers for m in r.lines]
    assert items.routers and "password=(hidden)" in lines[-1]
    assert not any(SECRET_MARK in line or "tikguard-secret" in line for line in lines)
    assert sum("(hidden)" in line for line in lines) >= 4


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("/ip nosuchmenu a=b", "no menu"),
        ("/ip address print", "command"),
        ("re:(a+)+(", "not a regular expression"),
        ("x" * 201, "longer than"),
        ("/ip dns servers~(", "not a regular expression"),
    ],
)
def test_bad_queries_get_a_clear_error(fleet: Fleet, text: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        search_ops.search(fleet.db, fleet.tenant_id, text)


def test_a_catastrophic_regex_is_stopped_in_bounded_time(fleet: Fleet) -> None:
    with pytest.raises(InvalidInput, match="took longer"):
        search_ops.search(fleet.db, fleet.tenant_id, "re:(.*a){25}x")


def _queries(fleet: Fleet) -> list[str]:
    """Query texts built from what the corpus holds: menus, keys and values it has."""
    rng = random.Random(14)
    out: list[str] = []
    items = [
        item
        for stored in fleet.versions.values()
        for item in config_items(*stored[-1])
        if item.props
    ]
    for item in rng.sample(items, 60):
        conditions = []
        for key in rng.sample(sorted(item.props), min(len(item.props), rng.randint(0, 2))):
            value = item.props[key]
            op = rng.choice(["=", "!=", "~", "!~"])
            if op in ("~", "!~"):
                start = rng.randrange(len(value) + 1)
                value = regex.escape(value[start : start + 4])
            if any(ch in value for ch in ' "\\') or value == "":
                value = '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
            conditions.append(f"{key}{op}{value}")
        out.append(" ".join([item.menu, *conditions]))
    return out


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_index_matches_brute_force(fleet: Fleet, data: st.DataObject) -> None:
    if not hasattr(fleet, "queries"):
        fleet.queries = _queries(fleet)  # type: ignore[attr-defined]
    kind = data.draw(st.sampled_from(["structured", "regex"]))
    history = data.draw(st.booleans())
    if kind == "structured":
        text = data.draw(st.sampled_from(fleet.queries))  # type: ignore[attr-defined]
    else:
        name = data.draw(st.sampled_from(sorted(fleet.versions)))
        body = fleet.versions[name][-1][0]
        start = data.draw(st.integers(0, max(0, len(body) - 8)))
        piece = body[start : start + data.draw(st.integers(2, 8))]
        text = "re:" + regex.escape(piece.replace("\n", " ").strip() or "add")
    try:
        query, found = _indexed(fleet, text, history=history)
    except InvalidInput as exc:
        assert "secret" in str(exc), text  # a secret key drawn: refused by design
        return
    assert found == brute_force(fleet, query, history=history), text


def test_cli_groups_by_router_and_exits_as_grep(
    fleet: Fleet, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from tikguard.cli import app

    monkeypatch.setenv("TIKGUARD_DATA_DIR", str(fleet.db.settings.data_dir))
    runner = CliRunner()
    found = runner.invoke(app, ["--tenant", "acme", "search", "/ip dns servers~8.8.8.8"])
    assert found.exit_code == 0, found.output
    assert "/ip dns set" in found.output and "routers match /ip dns servers~8.8.8.8" in found.output
    missing = runner.invoke(app, ["--tenant", "acme", "search", "-e", "no-such-thing-anywhere"])
    assert missing.exit_code == 1 and "0 of 41 routers match" in missing.output
    bad = runner.invoke(app, ["--tenant", "acme", "search", "/ip nosuch"])
    assert bad.exit_code == 2


@pytest.mark.parametrize(
    "text",
    [
        "re:\\s+",
        "re:^/ip firewall",
        "re:=yes$",
        "re:(?<=name=)ether1",
        "re:\\Aadd",
        "re:x*",
        "re:\\bdst-port=\\d+\\b",
    ],
)
def test_regex_semantics_are_per_line(fleet: Fleet, text: str) -> None:
    query, found = _indexed(fleet, text)
    assert found == brute_force(fleet, query)
