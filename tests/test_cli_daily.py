"""Daily CLI use on a real store: every operation state and outcome renders, ``--json``
is the API's shape, ``diff`` exits as diff(1), errors name devices, ``--tenant``.

The store is built as the API tests build it (two tenants, a device with two versions,
a manual-confirm push waiting); the CLI runs on it as a user runs it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.api.world import TenantWorld, api_settings, build_tenant
from typer.testing import CliRunner

from tikguard.api.app import create_app
from tikguard.cli import app
from tikguard.settings import Settings
from tikguard.store import operations as store_ops
from tikguard.store.db import Database
from tikguard.store.models import OperationState, Outcome

#: Text from data that looks like Rich markup: it must print as itself.
MARKUP_BAIT = "[bold]not markup[/] [/] [red"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return api_settings(tmp_path / "data")


@pytest.fixture
def db(settings: Settings) -> Any:
    database = Database.open(settings)
    yield database
    database.dispose()


@pytest.fixture
def alpha(db: Database) -> TenantWorld:
    return build_tenant(db, "alpha")


@pytest.fixture
def env(settings: Settings) -> dict[str, str]:
    return {"TIKGUARD_DATA_DIR": str(settings.data_dir), "TIKGUARD_TENANT": "alpha"}


def run(env: dict[str, str], *args: str) -> Any:
    """The CLI as a script runs it: output to a pipe, no COLUMNS (not wrapped)."""
    return CliRunner().invoke(app, list(args), env={"COLUMNS": None, **env})


def every_state_and_outcome(db: Database, world: TenantWorld) -> list[str]:
    """One push per unfinished state and per outcome, reasons and events full of brackets."""
    ids = []
    combos: list[tuple[str, str | None]] = [
        (OperationState.PENDING.value, None),
        (OperationState.RUNNING.value, None),
        (OperationState.WAITING.value, None),
    ] + [(OperationState.DONE.value, o.value) for o in Outcome]
    with db.transaction() as s:
        for state, outcome in combos:
            op, _ = store_ops.create_operation(
                s, world.id, kind="push", device_id=world.device_id, parameters={}
            )
            store_ops.append_event(s, world.id, op.id, stage="plan", message=MARKUP_BAIT)
            if outcome is not None:
                store_ops.finish_operation(
                    s,
                    world.id,
                    op.id,
                    outcome,
                    evidence={"reason": MARKUP_BAIT, "rebooted": False, "checks_ok": None},
                )
            elif state != OperationState.PENDING.value:
                store_ops.set_state(s, world.id, op.id, state)
            ids.append(op.id)
    return ids


def test_ops_list_and_show_render_every_state_and_outcome(
    db: Database, alpha: TenantWorld, env: dict[str, str]
) -> None:
    ids = every_state_and_outcome(db, alpha)
    listed = run(env, "ops", "list")
    assert listed.exit_code == 0, listed.output
    for outcome in Outcome:
        assert outcome.value in listed.output
    assert listed.output.count(alpha.device_name) >= len(ids)
    assert "[bold]not markup[/]" in listed.output
    for op_id in ids:
        shown = run(env, "ops", "show", op_id)
        assert shown.exit_code == 0, shown.output
        assert MARKUP_BAIT in shown.output
        if "rebooted" in shown.output:
            # evidence as JSON, not Python
            assert "false" in shown.output and "False" not in shown.output
            assert "None" not in shown.output


def test_piped_output_is_not_wrapped(db: Database, alpha: TenantWorld, tmp_path: Path) -> None:
    every_state_and_outcome(db, alpha)
    env = {"TIKGUARD_DATA_DIR": str(tmp_path / "data"), "TIKGUARD_TENANT": "alpha"}
    listed = CliRunner().invoke(app, ["ops", "list"], env={**env, "COLUMNS": None})
    rows = [line for line in listed.output.splitlines() if alpha.device_name in line]
    ended = [row for row in rows if " done " in row]
    assert len(ended) == len(Outcome)
    assert all(MARKUP_BAIT in row and len(row) > 100 for row in ended)


def test_json_matches_the_api(
    settings: Settings, db: Database, alpha: TenantWorld, env: dict[str, str]
) -> None:
    """``--json`` prints what the API answers for the same thing, field for field."""
    every_state_and_outcome(db, alpha)
    scheduled = run(env, "schedule", "set", "0 4 * * *", "--tag", "core", "--time-zone", "UTC")
    assert scheduled.exit_code == 0, scheduled.output
    device = alpha.device_id
    name = alpha.device_name
    pairs = {
        "/operations?limit=30": ("ops", "list", "--json"),
        "/devices": ("device", "list", "--json"),
        f"/devices/{device}": ("device", "show", name, "--json"),
        f"/devices/{device}/versions": ("history", name, "--json"),
        f"/devices/{device}/diff?old=1&new=2": ("diff", name, "1", "2", "--json"),
        f"/operations/{alpha.op_id}": ("ops", "show", alpha.op_id, "--json"),
        "/users": ("user", "list", "--json"),
        "/tokens": ("token", "list", "--json"),
        "/rollouts": ("rollout", "list", "--json"),
        "/schedules": ("schedule", "list", "--json"),
    }
    with TestClient(create_app(settings, db=db, engine=False)) as client:

        def get(path: str) -> Any:
            answer = client.get(f"/api/v1{path}", headers=alpha.auth("admin"))
            assert answer.status_code == 200, answer.text
            return answer.json()

        expected = {path: get(path) for path in pairs}
        expected[f"/operations/{alpha.op_id}"]["events"] = get(f"/operations/{alpha.op_id}/events")
    assert expected["/schedules"] and expected["/users"] and expected["/tokens"]
    for path, args in pairs.items():
        out = run(env, *args)
        assert out.exit_code in (0, 1), out.output
        assert json.loads(out.stdout) == expected[path], args


def test_diff_exits_like_diff1(alpha: TenantWorld, env: dict[str, str]) -> None:
    name = alpha.device_name
    assert run(env, "diff", name, "1", "1").exit_code == 0
    different = run(env, "diff", name, "1", "2")
    assert different.exit_code == 1, different.output
    assert "198.51.100.1/24" in different.output
    assert run(env, "diff", name, "-2", "-1").exit_code == 1
    missing = run(env, "diff", name, "1", "99")
    assert missing.exit_code == 2
    assert f"{name} has no version 99" in missing.output
    assert f"tikguard history {name}" in missing.output
    assert run(env, "diff", "nosuch", "1").exit_code == 2


def test_show_takes_negative_versions_and_names_the_device(
    alpha: TenantWorld, env: dict[str, str]
) -> None:
    name = alpha.device_name
    newest = run(env, "show", name, "-1")
    assert newest.exit_code == 0, newest.output
    assert "198.51.100.1/24" in newest.stdout
    assert "198.51.100.1/24" not in run(env, "show", name, "-2").stdout
    missing = run(env, "show", name, "99")
    assert missing.exit_code == 1
    assert f"{name} has no version 99" in missing.output
    assert "device 1" not in missing.output


def test_tenant_is_chosen_by_option_or_environment(alpha: TenantWorld, settings: Settings) -> None:
    env = {"TIKGUARD_DATA_DIR": str(settings.data_dir)}
    assert alpha.device_name not in run(env, "device", "list").output
    assert alpha.device_name in run(env, "--tenant", "alpha", "device", "list").output
    assert alpha.device_name in run({**env, "TIKGUARD_TENANT": "alpha"}, "device", "list").output
    nosuch = run(env, "--tenant", "nosuch", "device", "list")
    assert nosuch.exit_code == 1
    assert "tenant 'nosuch' does not exist" in nosuch.output


def test_ops_list_filters_by_the_devices_tag_and_site(
    db: Database, alpha: TenantWorld, env: dict[str, str]
) -> None:
    every_state_and_outcome(db, alpha)
    name = alpha.device_name
    for option in (("--tag", "core"), ("--site", "alpha-site")):
        rows = json.loads(run(env, "ops", "list", *option, "--json").stdout)
        assert rows and {row["device"] for row in rows} == {name}, option
    for option in (("--tag", "nosuch"), ("--site", "elsewhere")):
        assert json.loads(run(env, "ops", "list", *option, "--json").stdout) == []
        assert "no operations match" in run(env, "ops", "list", *option).output


def test_device_list_filters_say_nothing_matches(alpha: TenantWorld, env: dict[str, str]) -> None:
    out = run(env, "device", "list", "--tag", "nosuch")
    assert out.exit_code == 0
    assert "no device matches" in out.output
    site = run(env, "device", "list", "--site", "alpha-site")
    assert alpha.device_name in site.output
    assert alpha.device_name not in run(env, "device", "list", "--site", "elsewhere").output


def test_device_set_edits_access_and_audits_it(
    db: Database, alpha: TenantWorld, env: dict[str, str]
) -> None:
    from tikguard.store.audit import list_audit

    name = alpha.device_name
    out = CliRunner().invoke(
        app,
        [
            "device",
            "set",
            name,
            "--port",
            "2222",
            "--user",
            "ops",
            "--password-stdin",
            "--site",
            "lab",
        ],
        env={"COLUMNS": None, **env},
        input="new-secret\n",
    )
    assert out.exit_code == 0, out.output
    assert "new-secret" not in out.output
    shown = json.loads(run(env, "device", "show", name, "--json").stdout)
    assert (shown["port"], shown["username"], shown["site"]) == (2222, "ops", "lab")
    with db.session() as s:
        actions = [e.action for e in list_audit(s, alpha.id)]
    assert actions.count("device.update") >= 1
    assert run(env, "device", "set", name).exit_code == 1


def test_a_taken_name_gets_the_hint_for_what_holds_it(
    alpha: TenantWorld, env: dict[str, str]
) -> None:
    tenant = run(env, "tenant", "add", "alpha")
    assert tenant.exit_code == 1
    assert "tenant list" in tenant.output and "device remove" not in tenant.output
