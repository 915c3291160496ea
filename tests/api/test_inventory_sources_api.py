"""Inventory sources over the API and the CLI: the same ops, the same plan shapes,
secrets write-only, tenants apart, a failing source a clear 502 with nothing changed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from tests.api.world import TenantWorld, api_settings
from tests.ops.netboxkit import TOKEN, NetBox, netbox_serving
from typer.testing import CliRunner

from tikguard.cli import app as cli_app
from tikguard.settings import Settings
from tikguard.store.audit import list_audit
from tikguard.store.db import Database

PREFIX = "/api/v1"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """NetBox is served on loopback: a lab allows it (docs/inventory-sources.md)."""
    return api_settings(tmp_path / "data", outbound_allow="127.0.0.1/32")


@pytest.fixture
def netbox() -> Iterator[NetBox]:
    with netbox_serving("r1", "r2") as server:
        yield server


def source_body(url: str) -> dict[str, Any]:
    return {
        "name": "netbox",
        "url": url,
        "hosts_location": "results",
        "pagination": True,
        "map": {"name": "name", "ip": "primary_ip.address", "model": "platform.slug"},
        "headers": {"Authorization": f"Token {TOKEN}"},
        "username": "backup",
        "password": "router-secret",
    }


def test_api_sources_sync_and_isolation(
    app: FastAPI, db: Database, alpha: TenantWorld, beta: TenantWorld, netbox: NetBox
) -> None:
    with TestClient(app) as api:
        added = api.post(
            f"{PREFIX}/inventory/sources", json=source_body(netbox.url), headers=alpha.auth()
        )
        assert added.status_code == 201, added.text
        assert TOKEN not in added.text and "router-secret" not in added.text
        assert added.json()["config"]["header_names"] == ["Authorization"]
        listed = api.get(f"{PREFIX}/inventory/sources", headers=alpha.auth("viewer"))
        assert [s["name"] for s in listed.json()] == ["netbox"] and TOKEN not in listed.text
        assert api.get(f"{PREFIX}/inventory/sources", headers=beta.auth()).json() == []
        assert (
            api.post(f"{PREFIX}/inventory/sources/netbox/sync", headers=beta.auth()).status_code
            == 404
        )
        assert (
            api.post(
                f"{PREFIX}/inventory/sources/netbox/sync", headers=alpha.auth("viewer")
            ).status_code
            == 403
        )
        file_source = {**source_body(netbox.url), "kind": "rancid"}
        assert (
            api.post(
                f"{PREFIX}/inventory/sources", json=file_source, headers=alpha.auth()
            ).status_code
            == 422
        )

        before = {d["name"] for d in api.get(f"{PREFIX}/devices", headers=alpha.auth()).json()}
        dry = api.post(f"{PREFIX}/inventory/sources/netbox/sync?dry_run=true", headers=alpha.auth())
        assert dry.status_code == 200 and dry.json()["counts"]["add"] == 2
        assert not dry.json()["applied"]
        real = api.post(f"{PREFIX}/inventory/sources/netbox/sync", headers=alpha.auth())
        assert real.status_code == 200 and real.json()["applied"]
        assert real.json()["changes"] == dry.json()["changes"]
        after = {d["name"] for d in api.get(f"{PREFIX}/devices", headers=alpha.auth()).json()}
        assert after - before == {"r1", "r2"}
        assert "r1" not in {
            d["name"] for d in api.get(f"{PREFIX}/devices", headers=beta.auth()).json()
        }

        netbox.fail_with = 503
        failed = api.post(f"{PREFIX}/inventory/sources/netbox/sync", headers=alpha.auth())
        assert failed.status_code == 502 and netbox.url in failed.json()["message"]
        assert TOKEN not in failed.text
        assert (
            api.delete(f"{PREFIX}/inventory/sources/netbox", headers=alpha.auth()).status_code
            == 204
        )
        assert api.get(f"{PREFIX}/inventory/sources", headers=alpha.auth()).json() == []
        # a schedule too often is refused, and then there is no source either
        hourly = {**source_body(netbox.url), "every": "* * * * *"}
        refused = api.post(f"{PREFIX}/inventory/sources", json=hourly, headers=alpha.auth())
        assert refused.status_code == 422 and "at least" in refused.json()["message"]
        assert api.get(f"{PREFIX}/inventory/sources", headers=alpha.auth()).json() == []
        hourly["every"] = "0 * * * *"
        assert (
            api.post(f"{PREFIX}/inventory/sources", json=hourly, headers=alpha.auth()).status_code
            == 201
        )
        (listed,) = api.get(f"{PREFIX}/inventory/sources", headers=alpha.auth()).json()
        assert listed["schedule"] == "0 * * * *"
        assert (
            api.delete(f"{PREFIX}/inventory/sources/netbox", headers=alpha.auth()).status_code
            == 204
        )
    with db.session() as s:
        rows = list_audit(s, alpha.id, target="r1")
        assert rows and all(r.actor.startswith("token:") for r in rows)
        assert all(TOKEN not in json.dumps(r.details) for r in list_audit(s, alpha.id))
        (scheduled,) = list_audit(s, alpha.id, action="inventory.source.schedule")
        assert scheduled.details == {"cron": "0 * * * *", "time_zone": None}


def cli(env: dict[str, str], *args: str, stdin: str | None = None) -> Any:
    return CliRunner().invoke(cli_app, list(args), env={"COLUMNS": None, **env}, input=stdin)


def test_cli_oxidized_csv_dry_run_json_bad_rows_and_remove(tmp_path: Path) -> None:
    env = {"TIKGUARD_DATA_DIR": str(tmp_path / "data")}
    routers = tmp_path / "router.db"
    routers.write_text(
        "# name:model:ip\nr1:routeros:10.0.0.1\nr2:routeros:10.0.0.2\nsw:ios:10.0.0.3\n"
    )
    added = cli(
        env,
        "inventory",
        "source",
        "add",
        "ox",
        "--kind",
        "oxidized-csv",
        "--path",
        str(routers),
        "--map",
        "name=0",
        "--map",
        "model=1",
        "--map",
        "ip=2",
        "--user",
        "backup",
        "--password-stdin",
        stdin="pw-not-shown\n",
    )
    assert added.exit_code == 0, added.output
    dry = cli(env, "inventory", "sync", "ox", "--dry-run", "--json")
    assert dry.exit_code == 0, dry.output
    plan = json.loads(dry.output)
    assert [(c["action"], c["device"], c["ref"]) for c in plan["changes"]] == [
        ("add", "r1", "line 2"),
        ("add", "r2", "line 3"),
    ]
    assert plan["changes"][0]["fields"]["password"]["new"] == "(secret)"
    assert "pw-not-shown" not in dry.output
    real = cli(env, "inventory", "sync", "ox")
    assert real.exit_code == 0 and "did add 2" in real.output
    assert "r1" in cli(env, "device", "list").output
    routers.write_text("r1:routeros:10.0.0.9\nr2:routeros:10.0.0.2:x:y\n/bad:routeros:1.2.3.4\n")
    bad = cli(env, "inventory", "sync", "ox")
    assert bad.exit_code == 1
    assert "line 3" in bad.output and "nothing was changed" in bad.output
    assert "Traceback" not in bad.output
    shown = json.loads(cli(env, "device", "show", "r1", "--json").output)
    assert shown["host"] == "10.0.0.1"  # nothing half-imported
    listing = cli(env, "inventory", "source", "list", "--json")
    assert "pw-not-shown" not in listing.output
    assert json.loads(listing.output)[0]["last_sync"]["ok"] is False
    gone = cli(env, "inventory", "source", "remove", "ox", "--yes")
    assert gone.exit_code == 0 and "source:ox" in gone.output
