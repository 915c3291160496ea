"""The same change through the CLI and through the API: the same audit row shape with a
real actor, and the same state checks.

One store serves both: the API's tenant is the CLI's default tenant, so a row either
front end writes can be compared with the other's. The CLI's actor is
``cli:<OS user>@<host>``; the API's is its principal.
"""

from __future__ import annotations

import asyncio
import getpass
import socket
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from tests.api.world import TenantWorld, build_tenant
from typer.testing import CliRunner

from tikguard.api.app import create_app
from tikguard.cli import app as cli_app
from tikguard.settings import Settings
from tikguard.store.audit import list_audit
from tikguard.store.db import Database
from tikguard.store.devices import get_password
from tikguard.store.operations import finish_operation, list_operations

CLI_ACTOR = f"cli:{getpass.getuser()}@{socket.gethostname()}"


@pytest.fixture
def world(db: Database) -> TenantWorld:
    return build_tenant(db, "default")  # the tenant the CLI works in


@pytest.fixture
def app(settings: Settings, db: Database, world: TenantWorld) -> FastAPI:
    return create_app(settings, db=db, engine=False)


async def _cli(settings: Settings, *args: str, stdin: str | None = None) -> Any:
    """The CLI as a shell runs it (its own ``asyncio.run``), off this test's loop."""
    env = {
        "TIKGUARD_DATA_DIR": str(settings.data_dir),
        "TIKGUARD_TIME_SCALE": str(settings.time_scale),
    }
    runner = CliRunner()
    return await asyncio.to_thread(runner.invoke, cli_app, list(args), env=env, input=stdin)


def _last(db: Database, tenant_id: int, action: str) -> dict[str, Any]:
    with db.session() as session:
        (row,) = list_audit(session, tenant_id, action=action, limit=1)
        return {
            "actor": row.actor,
            "action": row.action,
            "target": row.target,
            "keys": sorted(row.details),
        }


async def _api_add(client: httpx.AsyncClient, world: TenantWorld, name: str) -> int:
    body = {"name": name, "host": "127.0.0.1", "port": 9, "username": "admin", "password": "pw"}
    r = await client.post("/api/v1/devices", json=body, headers=world.auth())
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


async def test_device_add_and_remove_leave_the_same_audit_rows(
    client: httpx.AsyncClient, world: TenantWorld, db: Database, settings: Settings
) -> None:
    rows: dict[str, dict[str, dict[str, Any]]] = {"cli": {}, "api": {}}

    run = await _cli(
        settings,
        "device",
        "add",
        "via-cli",
        "127.0.0.1",
        "--port",
        "9",
        "--no-probe",  # nothing listens on port 9: the audit row is what is compared
        "--password-stdin",
        stdin="pw\n",
    )
    assert run.exit_code == 0, run.output
    rows["cli"]["device.add"] = _last(db, world.id, "device.add")
    run = await _cli(settings, "device", "remove", "via-cli", "--yes")
    assert run.exit_code == 0, run.output
    rows["cli"]["device.remove"] = _last(db, world.id, "device.remove")

    device_id = await _api_add(client, world, "via-api")
    rows["api"]["device.add"] = _last(db, world.id, "device.add")
    r = await client.delete(f"/api/v1/devices/{device_id}", headers=world.auth())
    assert r.status_code == 204, r.text
    rows["api"]["device.remove"] = _last(db, world.id, "device.remove")

    for action in ("device.add", "device.remove"):
        cli, api = rows["cli"][action], rows["api"][action]
        assert cli["actor"] == CLI_ACTOR, cli
        assert api["actor"].startswith("token:") or ":" in api["actor"], api
        assert (cli["action"], cli["keys"]) == (api["action"], api["keys"])
        assert (cli["target"], api["target"]) == ("via-cli", "via-api")


async def test_device_edit_leaves_the_same_audit_row(
    client: httpx.AsyncClient, world: TenantWorld, db: Database, settings: Settings
) -> None:
    """``device set`` and ``PATCH /devices/{device}``: one ``device.update`` row naming
    every field changed, whoever changed it."""
    run = await _cli(
        settings, "device", "set", world.device_name, "--site", "ams9", "--port", "2222"
    )
    assert run.exit_code == 0, run.output
    cli = _last(db, world.id, "device.update")
    with db.session() as session:
        (row,) = list_audit(session, world.id, action="device.update", limit=1)
        assert row.details == {"fields": ["port", "site"]}
    body = {"site": "ams8", "port": 2223}
    r = await client.patch(f"/api/v1/devices/{world.device_id}", json=body, headers=world.auth())
    assert r.status_code == 200 and r.json()["site"] == "ams8", r.text
    api = _last(db, world.id, "device.update")
    with db.session() as session:
        (row,) = list_audit(session, world.id, action="device.update", limit=1)
        assert row.details == {"fields": ["port", "site"]}
    assert cli["actor"] == CLI_ACTOR and api["actor"].startswith("token:"), (cli, api)
    assert (cli["action"], cli["target"], cli["keys"]) == (
        api["action"],
        api["target"],
        api["keys"],
    )
    # a router that is not there: the same refusal
    run = await _cli(settings, "device", "set", "nope", "--site", "x")
    assert run.exit_code != 0 and "nope" in run.output, run.output
    r = await client.patch("/api/v1/devices/nope", json={"site": "x"}, headers=world.auth())
    assert r.status_code == 404 and "nope" in r.json()["message"], r.text


@pytest.mark.parametrize("front", ["cli", "api"])
async def test_confirming_an_operation_that_is_not_waiting_is_refused_by_both(
    front: str, client: httpx.AsyncClient, world: TenantWorld, db: Database, settings: Settings
) -> None:
    # the world's push has only been planned: it is not waiting for a confirm
    expected = f"operation {world.op_id} has not started yet"
    if front == "cli":
        run = await _cli(settings, "confirm", world.op_id)
        assert run.exit_code != 0 and expected in run.output, run.output
    else:
        r = await client.post(f"/api/v1/operations/{world.op_id}/confirm", headers=world.auth())
        assert r.status_code == 409 and expected in r.json()["message"], r.text
    with db.session() as session:
        assert not list_audit(session, world.id, action="push.confirm", limit=1)


def test_the_cli_actor_names_the_os_user_and_host(tmp_path: Path) -> None:
    from tikguard.commands._context import cli_actor

    assert cli_actor() == CLI_ACTOR


async def test_schedule_set_and_remove_leave_the_same_audit_rows(
    client: httpx.AsyncClient, world: TenantWorld, db: Database, settings: Settings
) -> None:
    rows: dict[str, dict[str, dict[str, Any]]] = {"cli": {}, "api": {}}
    run = await _cli(settings, "schedule", "set", "15 3 * * *", "--tag", "via-cli")
    assert run.exit_code == 0, run.output
    rows["cli"]["schedule.set"] = _last(db, world.id, "schedule.set")
    run = await _cli(settings, "schedule", "remove", "--tag", "via-cli")
    assert run.exit_code == 0, run.output
    rows["cli"]["schedule.remove"] = _last(db, world.id, "schedule.remove")

    body = {"tag": "via-api", "cron": "15 3 * * *"}
    r = await client.post("/api/v1/schedules", json=body, headers=world.auth())
    assert r.status_code == 201, r.text
    rows["api"]["schedule.set"] = _last(db, world.id, "schedule.set")
    r = await client.delete("/api/v1/schedules?tag=via-api", headers=world.auth())
    assert r.status_code == 204, r.text
    rows["api"]["schedule.remove"] = _last(db, world.id, "schedule.remove")

    for action in ("schedule.set", "schedule.remove"):
        cli, api = rows["cli"][action], rows["api"][action]
        assert cli["actor"] == CLI_ACTOR and api["actor"].startswith("token:"), (cli, api)
        assert (cli["action"], cli["keys"]) == (api["action"], api["keys"])
        assert (cli["target"], api["target"]) == ("via-cli", "via-api")
    # removing what is not there: the same refusal, and no audit row
    expected = "there is no backup schedule for tag 'via-cli'"
    run = await _cli(settings, "schedule", "remove", "--tag", "via-cli")
    assert run.exit_code != 0 and expected in run.output, run.output
    r = await client.delete("/api/v1/schedules?tag=via-cli", headers=world.auth())
    assert r.status_code == 404 and expected in r.json()["message"], r.text


#: Refusals a push, a restore and a replace meet before anything reaches a router,
#: asked through each front end: (CLI arguments, API path, API body, the words).
REFUSALS = {
    "push-unterminated-quote": (
        ["push", "{name}", "--file", "{file}", "--yes"],
        "/api/v1/push",
        {"devices": ["{id}"], "script": "{script}"},
        '/ip dns set servers=9.9.9.9\n/system identity set name="edge\n',
        "the script does not parse, nothing was sent: script:2:27: unterminated quoted string",
    ),
    "replace-unknown-menu": (
        ["replace", "{name}", "--file", "{file}", "--yes"],
        "/api/v1/replace",
        {"device": "{id}", "script": "{script}"},
        "/ip adress add address=10.9.0.1/24 interface=ether2\n",
        "the script does not parse, nothing was sent: script:1:5: bad command name adress",
    ),
    "restore-window-too-short": (
        ["restore", "{name}", "--version", "1", "--window", "10", "--yes"],
        "/api/v1/restore",
        {"device": "{id}", "version": 1, "window": 10},
        "",
        "a 10 s window leaves no time to verify",
    ),
}


def _fill(value: Any, world: TenantWorld, file: Path, script: str) -> Any:
    if value == "{id}":
        return world.device_id
    if isinstance(value, str):
        return value.format(name=world.device_name, file=file, script=script)
    if isinstance(value, list):
        return [_fill(v, world, file, script) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, world, file, script) for k, v in value.items()}
    return value


@pytest.mark.parametrize("case", sorted(REFUSALS))
async def test_push_restore_and_replace_meet_the_same_refusals(
    case: str,
    client: httpx.AsyncClient,
    world: TenantWorld,
    db: Database,
    settings: Settings,
    tmp_path: Path,
) -> None:
    args, path, body, script, words = REFUSALS[case]
    file = tmp_path / "change.rsc"
    file.write_text(script)
    run = await _cli(settings, *_fill(args, world, file, script))
    assert run.exit_code != 0, run.output
    assert words in " ".join(run.output.split()), run.output
    r = await client.post(path, json=_fill(body, world, file, script), headers=world.auth())
    assert r.status_code == 422 and words in r.json()["message"], r.text
    with db.session() as session:
        assert not [
            a for a in list_audit(session, world.id, limit=50) if a.action.startswith("push.")
        ]
        assert [o.id for o in list_operations(session, world.id, limit=10)] == [world.op_id]


async def test_key_rotation_leaves_the_same_audit_rows_and_meets_the_same_refusal(
    client: httpx.AsyncClient, world: TenantWorld, db: Database, settings: Settings
) -> None:
    """A tenant's data key rotation goes through ops.keys from both front ends: refused
    alike while a push has not ended (the words name it), then audited alike."""
    expected = "pushes not ended or uncertain still need scripts encrypted with this data key"
    run = await _cli(settings, "keys", "rotate", "--data-keys", "--tenant", "default")
    assert run.exit_code == 1 and expected in " ".join(run.output.split()), run.output
    assert world.op_id[:12] in run.output
    r = await client.post("/api/v1/keys/rotate", headers=world.auth())
    assert r.status_code == 409 and expected in r.json()["message"], r.text
    assert world.op_id[:12] in r.json()["message"] and "recheck" in r.json()["hint"]
    r = await client.post("/api/v1/keys/rotate", headers=world.auth("operator"))
    assert r.status_code == 403, r.text  # an admin's
    with db.session() as session:
        assert not list_audit(session, world.id, action="keys.rotate-data", limit=1)
    with db.transaction() as session:
        finish_operation(session, world.id, world.op_id, "reverted")

    run = await _cli(settings, "keys", "rotate", "--data-keys", "--tenant", "default")
    assert run.exit_code == 0, run.output
    cli = _last(db, world.id, "keys.rotate-data")
    r = await client.post("/api/v1/keys/rotate", headers=world.auth())
    assert r.status_code == 200, r.text
    assert r.json() == {"tenant": "default", "old_version": 2, "new_version": 3, "values": 1}
    api = _last(db, world.id, "keys.rotate-data")
    assert cli["actor"] == CLI_ACTOR and api["actor"].startswith("token:"), (cli, api)
    assert (cli["action"], cli["target"], cli["keys"]) == (
        api["action"],
        api["target"],
        api["keys"],
    )
    assert api["keys"] == ["new_version", "old_version", "values"]
    with db.session() as session:  # the router's password opens with the newest key
        assert get_password(session, world.id, world.device_id) == "router-secret"


async def test_device_import_leaves_the_same_audit_rows(
    client: httpx.AsyncClient, world: TenantWorld, db: Database, settings: Settings, tmp_path: Path
) -> None:
    csv_file = tmp_path / "inventory.csv"
    csv_file.write_text(
        "name,host,port,username,password,dns\nvia-cli,127.0.0.1,9,admin,pw,9.9.9.9\n"
    )
    run = await _cli(settings, "device", "import", str(csv_file))
    assert run.exit_code == 0, run.output
    cli = _last(db, world.id, "device.import")
    text = (
        "name,host,port,username,password,dns\nvia-api,127.0.0.1,9,admin,pw,9.9.9.9\n"
        f"{world.device_name},127.0.0.1,9,admin,pw,\n"
    )
    r = await client.post("/api/v1/devices/import", json={"csv": text}, headers=world.auth())
    assert r.status_code == 200, r.text
    assert r.json() == {"added": ["via-api"], "updated": [], "skipped": [world.device_name]}
    api = _last(db, world.id, "device.import")
    assert cli["actor"] == CLI_ACTOR and api["actor"].startswith("token:"), (cli, api)
    assert (cli["action"], cli["target"], cli["keys"]) == (
        api["action"],
        api["target"],
        api["keys"],
    )
    with db.session() as session:
        (row,) = list_audit(session, world.id, action="device.import", limit=1)
        assert row.details == {"added": ["via-api"], "updated": [], "skipped": [world.device_name]}
    # a bad file: the same words from both, nothing imported
    bad = "name,host\nonly-a-name,\n"
    csv_file.write_text(bad)
    run = await _cli(settings, "device", "import", str(csv_file))
    assert run.exit_code != 0 and "every row needs a name and a host" in run.output, run.output
    r = await client.post("/api/v1/devices/import", json={"csv": bad}, headers=world.auth())
    assert r.status_code == 422 and "every row needs a name and a host" in r.json()["message"]
