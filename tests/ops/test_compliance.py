"""Compliance rules: verdicts equal a brute-force check of the corpus, every new version
is judged as it is stored, and a rule's fix becomes a rollout plan."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.ops.searchkit import Fleet, brute_force, build_fleet

from tikguard.ops import compliance
from tikguard.ops import search as search_ops
from tikguard.store import versions as store_versions
from tikguard.store.errors import InvalidInput

RULES = """
rules:
  - id: no-telnet
    title: Telnet is off
    severity: high
    must-not: /ip service name=telnet disabled=no
    fix: |
      /ip service set telnet disabled=yes
  - id: dns-set
    must: /ip dns servers~.
    sites: north
  - id: no-accept-all
    severity: critical
    must-not: 're:chain=forward action=accept$'
"""


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    built = build_fleet(tmp_path_factory.mktemp("compliance"))
    yield built
    built.db.dispose()


def _expected(fleet: Fleet, query: str, must: bool, sites: list[str]) -> set[str]:
    """The routers a rule flags, by brute force over the newest texts."""
    hits = {name for name, _, _ in brute_force(fleet, search_ops.compile_query(query))}
    scope = [n for n in fleet.versions if not sites or fleet.sites.get(n) in sites]
    return {n for n in scope if (n in hits) != must}


def _violations(report: compliance.Report) -> dict[str, set[str]]:
    return {r.id: {v.device for v in r.violations} for r in report.rules}


def test_rules_load_and_match_the_brute_force(fleet: Fleet) -> None:
    compliance.load_rules(fleet.db, fleet.tenant_id, RULES, actor="test")
    found = _violations(compliance.report(fleet.db, fleet.tenant_id))
    assert found["no-telnet"] == _expected(fleet, "/ip service name=telnet disabled=no", False, [])
    assert found["dns-set"] == _expected(fleet, "/ip dns servers~.", True, ["north"])
    assert found["no-accept-all"] == _expected(fleet, "re:chain=forward action=accept$", False, [])
    assert found["no-telnet"] and found["dns-set"]
    report = compliance.check(fleet.db, fleet.tenant_id)
    assert report.routers == len(fleet.versions)
    assert report.rules[0].severity == "critical"  # most severe first
    telnet = next(r for r in report.rules if r.id == "no-telnet")
    assert all(v.lines and "telnet" in v.lines[0] for v in telnet.violations)


def test_a_new_version_is_judged_when_stored(fleet: Fleet) -> None:
    compliance.load_rules(fleet.db, fleet.tenant_id, RULES, actor="test")
    before = datetime.now(UTC)  # after the load: only the changes of the versions below
    name = sorted(_violations(compliance.report(fleet.db, fleet.tenant_id))["no-telnet"])[0]
    text, version = fleet.versions[name][-1]
    fixed = text + "/ip service\nset telnet disabled=yes\n"
    with fleet.db.session() as s:
        from tikguard.store.devices import get_device_by_name

        device_id = get_device_by_name(s, fleet.tenant_id, name).id
    for body in (fixed, text):
        with fleet.db.transaction() as s:
            store_versions.record_backup(
                s,
                fleet.tenant_id,
                device_id,
                normalised_redacted_text=body,
                secrets={},
                ros_version=version,
                trigger="manual",
            )
        state = _violations(compliance.report(fleet.db, fleet.tenant_id))["no-telnet"]
        assert (name in state) == (body is text)
    changes = [
        (c.kind, c.rule)
        for c in compliance.changes_since(fleet.db, fleet.tenant_id, before)
        if c.device == name
    ]
    assert changes == [("resolved", "no-telnet"), ("new", "no-telnet")]
    from tikguard.ops.notify import sources

    with fleet.db.session() as s:
        told = [
            f for f in sources.detect(s, fleet.tenant_id, before) if f.key.startswith("compliance")
        ]
    mine = [(f.kind, f.details["rule"]) for f in told if f.device_name == name]
    assert mine == [
        (sources.COMPLIANCE_RESOLVED, "no-telnet"),
        (sources.COMPLIANCE_VIOLATION, "no-telnet"),
    ]
    assert (
        "telnet"
        in next(f for f in told if f.kind == sources.COMPLIANCE_VIOLATION).details["lines"][0]
    )
    fleet.versions[name] += [(fixed, version), (text, version)]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("rules: [{id: a, must: /ip dns servers~x, must-not: /ip dns}]", "exactly one"),
        ("rules: [{id: a, must: '/ip nosuch a=b'}]", "no menu"),
        ("rules: [{id: a, must: /ip dns, severity: huge}]", "severity"),
        ("rules: [{id: a, must: /ip dns}, {id: a, must: /ip dns}]", "used twice"),
        ("rules: [{id: a, must: '/ppp secret password=x'}]", "secret"),
        ("rules: [{id: a, must: /ip dns, colour: red}]", "unknown key"),
        ("rules: [a", "not YAML"),
    ],
)
def test_a_bad_rules_file_is_refused_whole(fleet: Fleet, text: str, message: str) -> None:
    compliance.load_rules(fleet.db, fleet.tenant_id, RULES, actor="test")
    with pytest.raises(InvalidInput, match=message):
        compliance.load_rules(fleet.db, fleet.tenant_id, text, actor="test")
    assert compliance.rules(fleet.db, fleet.tenant_id)[0] == RULES


def test_fix_becomes_a_rollout_of_the_violating_routers(fleet: Fleet) -> None:
    compliance.load_rules(fleet.db, fleet.tenant_id, RULES, actor="test")
    req = compliance.fix_request(fleet.db, fleet.tenant_id, "no-telnet", actor="test", canary=2)
    violators = _violations(compliance.report(fleet.db, fleet.tenant_id))["no-telnet"]
    assert sorted(req.selector.names) == sorted(violators) and req.canary == 2
    assert req.source.strip() == "/ip service set telnet disabled=yes"
    with pytest.raises(InvalidInput, match="no fix"):
        compliance.fix_request(fleet.db, fleet.tenant_id, "dns-set", actor="test")


QUERIES = [
    "/ip service name=telnet disabled=no",
    "/ip service name=ssh port!=22",
    "/ip service name=www disabled=no",
    "/ip dns allow-remote-requests=yes",
    "/ip dns servers~8\\.8\\.8\\.8",
    "/ip firewall filter chain=input action=drop",
    "/ip firewall nat action=masquerade",
    "/interface bridge name~.",
    "/system identity name~^[a-z]",
    "/snmp enabled=yes",
    "/user name=admin",
    "re:ntp",
    "re:chain=input.*connection-state=invalid",
]


@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    chosen=st.lists(
        st.tuples(
            st.sampled_from(QUERIES),
            st.booleans(),
            st.sampled_from([[], ["north"], ["south"], ["north", "south"]]),
        ),
        min_size=1,
        max_size=4,
    )
)
def test_verdicts_match_brute_force(
    fleet: Fleet, chosen: list[tuple[str, bool, list[str]]]
) -> None:
    lines = ["rules:"]
    for index, (query, must, sites) in enumerate(chosen):
        lines.append(f"  - id: r{index}")
        lines.append(f"    {'must' if must else 'must-not'}: '{query}'")
        if sites:
            lines.append(f"    sites: [{', '.join(sites)}]")
    compliance.load_rules(fleet.db, fleet.tenant_id, "\n".join(lines) + "\n", actor="test")
    found = _violations(compliance.report(fleet.db, fleet.tenant_id))
    for index, (query, must, sites) in enumerate(chosen):
        assert found[f"r{index}"] == _expected(fleet, query, must, sites), (query, must, sites)


def test_cli_load_check_report_and_fix_plan(
    fleet: Fleet, monkeypatch: pytest.MonkeyPatch, tmp_path: pytest.TempPathFactory
) -> None:
    import json
    from pathlib import Path

    from typer.testing import CliRunner

    from tikguard.cli import app

    monkeypatch.setenv("TIKGUARD_DATA_DIR", str(fleet.db.settings.data_dir))
    rules = Path(str(tmp_path)) / "rules.yaml"
    rules.write_text(RULES)
    runner = CliRunner()
    run = lambda *args: runner.invoke(app, ["--tenant", "acme", "compliance", *args])  # noqa: E731
    loaded = run("rules", "load", str(rules))
    assert loaded.exit_code == 0 and "3 rule(s) loaded" in loaded.output, loaded.output
    checked = run("check")
    assert checked.exit_code == 1 and "no-telnet" in checked.output
    report = json.loads(run("report", "--json").output)
    telnet = next(r for r in report["rules"] if r["id"] == "no-telnet")
    assert telnet["violations"] and telnet["fix"] is True
    assert report["violations"] == sum(len(r["violations"]) for r in report["rules"])
    plan = run("fix", "no-telnet", "--plan")
    assert plan.exit_code == 0, plan.output
    assert "/ip service" in plan.output and "telnet" in plan.output
    bad = Path(str(tmp_path)) / "bad.yaml"
    bad.write_text("rules: [{id: x, must: /ip nosuch}]")
    refused = run("rules", "load", str(bad))
    assert refused.exit_code == 1 and "no menu" in refused.output
