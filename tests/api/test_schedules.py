"""Backup schedules over the API, the UI and the CLI: viewers read, admins change,
bad input is a 422, and the schedules of one tenant never show in another."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from tests.api.test_ui_pages import login
from tests.api.world import TenantWorld
from typer.testing import CliRunner

from tikguard.cli import app as cli_app
from tikguard.ops import backup as backup_ops


async def test_admin_sets_viewer_reads(
    client: httpx.AsyncClient, alpha: TenantWorld, beta: TenantWorld
) -> None:
    r = await client.get("/api/v1/schedules", headers=alpha.auth("viewer"))
    assert r.status_code == 200 and r.json() == []
    r = await client.post(
        "/api/v1/schedules",
        json={"tag": "core", "cron": "*/15 * * * *", "time_zone": "Europe/Amsterdam"},
        headers=alpha.auth("admin"),
    )
    assert r.status_code == 201, r.text
    assert r.json() == {"tag": "core", "cron": "*/15 * * * *", "time_zone": "Europe/Amsterdam"}
    r = await client.post("/api/v1/schedules", json={}, headers=alpha.auth("admin"))
    assert r.status_code == 201 and r.json() == {
        "tag": None,
        "cron": "0 3 * * *",
        "time_zone": None,
    }
    # changing the same routers' schedule replaces it
    r = await client.post(
        "/api/v1/schedules", json={"tag": "core", "cron": "0 * * * *"}, headers=alpha.auth("admin")
    )
    assert r.status_code == 201
    r = await client.get("/api/v1/schedules", headers=alpha.auth("viewer"))
    assert r.json() == [
        {"tag": None, "cron": "0 3 * * *", "time_zone": None},
        {"tag": "core", "cron": "0 * * * *", "time_zone": None},
    ]
    r = await client.get("/api/v1/schedules", headers=beta.auth("admin"))
    assert r.json() == []
    r = await client.delete("/api/v1/schedules?tag=core", headers=beta.auth("admin"))
    assert r.status_code == 404 and r.json()["error"] == "not_found"
    r = await client.delete("/api/v1/schedules?tag=core", headers=alpha.auth("admin"))
    assert r.status_code == 204
    r = await client.delete("/api/v1/schedules?tag=core", headers=alpha.auth("admin"))
    assert r.status_code == 404
    r = await client.get("/api/v1/audit?action=schedule.set", headers=alpha.auth("viewer"))
    assert [e["target"] for e in r.json()] == ["core", "*", "core"]


@pytest.mark.parametrize("role", ["viewer", "operator"])
async def test_only_admins_change_schedules(
    client: httpx.AsyncClient, alpha: TenantWorld, role: str
) -> None:
    r = await client.post("/api/v1/schedules", json={"tag": "x"}, headers=alpha.auth(role))
    assert r.status_code == 403
    r = await client.delete("/api/v1/schedules", headers=alpha.auth(role))
    assert r.status_code == 403


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"cron": "every day"}, "cron"),
        ({"cron": "61 * * * *"}, "cron"),
        ({"cron": "0 3 * *"}, "cron"),
        ({"time_zone": "Mars/Olympus"}, "time zone"),
        ({"tag": "*"}, "tag"),
        ({"tag": "a\nb"}, "tag"),
        ({"cron": "0 3 * * *", "extra": 1}, "extra"),
        # six fleet backups in 12 s, or one a minute: more often than every 300 s
        ({"cron": "*/2 * * * * *"}, "runs 2 s apart at times"),
        ({"cron": "* * * * *"}, "at least 300 s apart"),
        ({"cron": "0,1 4 * * *"}, "runs 60 s apart"),
    ],
)
async def test_bad_schedules_are_422(
    client: httpx.AsyncClient, alpha: TenantWorld, body: dict[str, object], field: str
) -> None:
    r = await client.post("/api/v1/schedules", json=body, headers=alpha.auth("admin"))
    assert r.status_code == 422, r.text
    assert field in r.text.lower()
    r = await client.get("/api/v1/schedules", headers=alpha.auth("admin"))
    assert r.json() == []


async def test_schedules_page(client: httpx.AsyncClient, alpha: TenantWorld) -> None:
    await login(client, alpha.users["viewer"])
    page = await client.get("/schedules")
    assert page.status_code == 200 and "No backup schedule" in page.text
    assert 'action="/schedules"' not in page.text  # a viewer gets no form
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token
    r = await client.post("/schedules", data={"csrf_token": token.group(1), "cron": "0 1 * * *"})
    assert r.status_code == 403
    await client.post("/logout", data={"csrf_token": token.group(1)})

    csrf = await login(client, alpha.users["admin"])
    page = await client.get("/schedules")
    assert 'action="/schedules"' in page.text and '<option value="core">' in page.text
    r = await client.post(
        "/schedules", data={"csrf_token": csrf, "tag": "core", "cron": "30 2 * * *"}
    )
    assert r.status_code == 303
    page = await client.get("/schedules")
    assert "30 2 * * *" in page.text and "tagged" in page.text
    r = await client.post("/schedules", data={"csrf_token": csrf, "cron": "nonsense"})
    assert r.status_code == 422 and "<html" in r.text
    r = await client.post("/schedules/remove", data={"csrf_token": csrf, "tag": "core"})
    assert r.status_code == 303
    assert "30 2 * * *" not in (await client.get("/schedules")).text
    r = await client.post("/schedules/remove", data={"csrf_token": csrf, "tag": "core"})
    assert r.status_code == 404
    r = await client.post("/schedules", data={"cron": "0 1 * * *"})
    assert r.status_code == 403


def test_schedule_commands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIKGUARD_DATA_DIR", str(tmp_path / "data"))
    runner = CliRunner()
    r = runner.invoke(cli_app, ["schedule", "list"])
    assert r.exit_code == 0 and "no backup schedule" in r.output, r.output
    r = runner.invoke(cli_app, ["schedule", "set"])
    assert r.exit_code == 0 and "every router" in r.output, r.output
    r = runner.invoke(cli_app, ["schedule", "set", "0 * * * *", "--tag", "core"])
    assert r.exit_code == 0 and "tagged core" in r.output, r.output
    r = runner.invoke(cli_app, ["schedule", "set", "0 3 * *"])
    assert r.exit_code == 1 and "5 fields" in r.output
    r = runner.invoke(cli_app, ["schedule", "set", "--time-zone", "Nowhere/Land"])
    assert r.exit_code == 1 and "time zone" in r.output
    r = runner.invoke(cli_app, ["schedule", "list"])
    assert r.exit_code == 0
    assert "all" in r.output and backup_ops.DAILY in r.output and "tag core" in r.output
    r = runner.invoke(cli_app, ["schedule", "remove", "--tag", "core"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(cli_app, ["schedule", "remove", "--tag", "core"])
    assert r.exit_code == 1 and "no backup schedule for tag 'core'" in r.output
    r = runner.invoke(cli_app, ["schedule", "list", "--tenant", "nope"])
    assert r.exit_code == 1 and "does not exist" in r.output
