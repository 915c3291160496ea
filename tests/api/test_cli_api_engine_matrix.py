"""The same accepted change through the CLI and through the API, with the engine running:
push, restore, replace and a manual confirm leave the same audit rows (a real actor
each), meet the same state checks, and every git mirror commit names who asked.

One simulator (a pair of routers per kind of change: one per front end, so both run
side by side and each case stands alone), one store and one app with its engine for the
whole module. The CLI's side is what its commands call:
the request ``tikguard push|restore|replace`` builds (``commands/push.py``) submitted
through ``ops.operations`` with the CLI's context (in this process the engine is the
app's, so a command could not be its own worker); commands that need no engine (backup,
confirm refused, device remove) run in Typer's CliRunner.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pygit2
import pytest
import pytest_asyncio
from tests.api.test_cli_api_matrix import CLI_ACTOR
from tests.api.world import TenantWorld, build_tenant
from tests.ops.pushkit import ensure_management_address, push_settings
from typer.testing import CliRunner

from tikguard.api.app import create_app
from tikguard.cli import app as cli_app
from tikguard.commands._context import Context
from tikguard.commands.push import _request as cli_request
from tikguard.ops import devices as devices_ops
from tikguard.ops import mirror as mirror_ops
from tikguard.ops import operations as operations_ops
from tikguard.ops import push as push_ops
from tikguard.ops.backup import backup
from tikguard.ops.backup.schedule import scheduled_backup
from tikguard.routeros.secrets import merge_text_secrets
from tikguard.settings import Settings
from tikguard.sim.fleet import SimFleet
from tikguard.store import versions as store_versions
from tikguard.store.audit import list_audit
from tikguard.store.db import Database
from tikguard.store.mirror import BRANCH, repo_path
from tikguard.store.models import Operation

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.timeout(180)]

SCALE = 50.0
DNS = "/ip dns set servers={}\n"


@dataclass
class Rig:
    settings: Settings
    db: Database
    world: TenantWorld
    fleet: SimFleet
    client: httpx.AsyncClient
    #: The router each front end changes.
    cli_dev: str
    api_dev: str

    @property
    def tenant_id(self) -> int:
        return self.world.id

    def cli(self) -> Context:
        """What a CLI command works with: settings, store, tenant, ``cli:user@host``."""
        return Context(self.settings, self.db, self.tenant_id)

    async def run_cli(self, *args: str) -> Any:
        """A command as a shell runs it (its own ``asyncio.run``), off the engine's loop."""
        env = {
            "TIKGUARD_DATA_DIR": str(self.settings.data_dir),
            "TIKGUARD_TIME_SCALE": str(self.settings.time_scale),
        }
        runner = CliRunner()
        return await asyncio.to_thread(runner.invoke, cli_app, list(args), env=env)

    async def wait(self, op_ids: list[str]) -> list[Operation]:
        async with asyncio.timeout(120):
            return await push_ops.wait(self.db, self.tenant_id, op_ids, poll=0.05)

    def device_id(self, name: str) -> int:
        return devices_ops.id_of(self.db, self.tenant_id, name)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def rig(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Rig]:
    tmp = tmp_path_factory.mktemp("matrix")
    settings = push_settings(tmp / "data")
    db = Database.open(settings)
    world = await asyncio.to_thread(build_tenant, db, "default")  # the CLI's tenant
    try:
        async with SimFleet(
            2 * len(PAIRS), time_scale=SCALE, state_dir=tmp / "sim", boot_seconds=20.0
        ) as fleet:
            await ensure_management_address(fleet)
            await _register(db, settings, world.id, fleet)
            app = create_app(settings, db=db, engine=True, ui=False)
            async with app.router.lifespan_context(app):
                transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
                async with httpx.AsyncClient(
                    transport=transport, base_url="http://tikguard.test", timeout=60
                ) as client:
                    yield Rig(settings, db, world, fleet, client, fleet[0].name, fleet[1].name)
    finally:
        db.dispose()


async def _register(db: Database, settings: Settings, tenant_id: int, fleet: SimFleet) -> None:
    """The routers in the tenant, each backed up once (host keys pinned, version 1)."""
    for dev in fleet:
        await asyncio.to_thread(
            devices_ops.add,
            db,
            tenant_id,
            actor="test",
            name=dev.name,
            host=dev.host,
            port=dev.port,
            username=dev.username,
            password=dev.password,
        )
    results = await backup(db, settings, tenant_id, names=[dev.name for dev in fleet])
    assert all(r.ok for r in results), results


def _audit(rig: Rig, action: str, limit: int = 10) -> list[dict[str, Any]]:
    with rig.db.session() as session:
        return [
            {"actor": a.actor, "action": a.action, "target": a.target, "keys": sorted(a.details)}
            for a in list_audit(session, rig.tenant_id, action=action, limit=limit)
        ]


def _version_text(rig: Rig, device: str, seq: int) -> str:
    """A stored version as a replace file (its secrets put back, as an operator's)."""
    with rig.db.session() as s:
        v = store_versions.get_version_by_seq(s, rig.tenant_id, rig.device_id(device), seq)
        return merge_text_secrets(
            store_versions.version_text(v), store_versions.get_secrets(s, rig.tenant_id, v)
        )


async def _by_cli(
    rig: Rig,
    mode: str,
    device: str,
    *,
    script: str | None = None,
    version: int | None = None,
    confirm: str = "auto",
) -> str:
    """``tikguard push|restore|replace``: the request the command builds, submitted as it
    submits it."""
    req = cli_request(mode, [device], None, confirm, None, None, script=script, version=version)
    (sub,) = await operations_ops.submit_push(rig.db, rig.settings, rig.cli(), req)
    return sub.op_id


async def _by_api(rig: Rig, path: str, body: dict[str, Any]) -> str:
    r = await rig.client.post(f"/api/v1/{path}", json=body, headers=rig.world.auth("operator"))
    assert r.status_code == 202, r.text
    (op_id,) = r.json()["operations"]
    return str(op_id)


#: Each mode on its own pair of routers (the CLI's, the API's), so the cases stand alone.
PAIRS = {"merge": 0, "restore": 2, "replace": 4}


@pytest.mark.parametrize("mode", sorted(PAIRS))
async def test_an_accepted_change_leaves_the_same_audit_row(rig: Rig, mode: str) -> None:
    async def change(index: int, by_cli: bool) -> str:
        device = rig.fleet[index].name
        if mode == "merge":
            script, version = DNS.format(f"9.9.9.{index}"), None
        else:  # the router drifted from its version 1: restore it, or replace with it
            dev = rig.fleet[index]
            await dev.router.execute(f"/ip dns set servers=192.0.2.{index}", user=dev.username)
            script = _version_text(rig, device, 1) if mode == "replace" else None
            version = 1 if mode == "restore" else None
        if by_cli:
            return await _by_cli(rig, mode, device, script=script, version=version)
        if mode == "merge":
            return await _by_api(rig, "push", {"devices": [device], "script": script})
        body: dict[str, Any] = {"device": device}
        body.update({"version": version} if mode == "restore" else {"script": script})
        return await _by_api(rig, mode, body)

    first = PAIRS[mode]
    cli_op, api_op = await asyncio.gather(change(first, True), change(first + 1, False))
    cli_done, api_done = await rig.wait([cli_op, api_op])
    for op in (cli_done, api_done):
        assert op.outcome == "committed", (op.kind, op.evidence.get("reason"))
    rows = {row["target"]: row for row in _audit(rig, f"push.{mode}")}
    cli, api = rows[rig.fleet[first].name], rows[rig.fleet[first + 1].name]
    assert cli["actor"] == CLI_ACTOR and api["actor"].startswith("token:"), (cli, api)
    assert (cli["action"], cli["keys"]) == (api["action"], api["keys"]), (cli, api)
    assert (cli_done.requested_by, api_done.requested_by) == (cli["actor"], api["actor"])


async def _waiting(rig: Rig, op_id: str) -> None:
    """Until the push verified and waits for its confirm (polled, a read each 50 ms)."""
    for _ in range(1200):
        op = await asyncio.to_thread(operations_ops.get_op, rig.db, rig.tenant_id, op_id)
        if op.state == "waiting":
            return
        assert op.outcome is None, (op.outcome, op.id)
        await asyncio.sleep(0.05)
    raise AssertionError(f"{op_id} never waited for its confirm")


async def test_a_manual_confirm_is_accepted_and_audited_alike(rig: Rig) -> None:
    cli_op = await _by_cli(
        rig, "merge", rig.cli_dev, script=DNS.format("9.9.9.10"), confirm="manual"
    )
    api_op = await _by_api(
        rig,
        "push",
        {"devices": [rig.api_dev], "script": DNS.format("1.1.1.10"), "confirm": "manual"},
    )
    await asyncio.gather(_waiting(rig, cli_op), _waiting(rig, api_op))
    # ``tikguard confirm OP`` calls this with its context
    await operations_ops.confirm(rig.db, rig.settings, rig.cli(), cli_op)
    r = await rig.client.post(
        f"/api/v1/operations/{api_op}/confirm", headers=rig.world.auth("operator")
    )
    assert r.status_code == 200, r.text
    ended = await rig.wait([cli_op, api_op])
    assert [op.outcome for op in ended] == ["committed", "committed"]
    rows = {row["target"]: row for row in _audit(rig, "push.confirm")}
    cli, api = rows[cli_op], rows[api_op]
    assert cli["actor"] == CLI_ACTOR and api["actor"].startswith("token:"), (cli, api)
    assert (cli["action"], cli["keys"]) == (api["action"], api["keys"])

    # confirming again: both refuse it with the same words, and nothing is audited
    for op_id in (cli_op, api_op):
        expected = f"operation {op_id} already ended: committed"
        run = await rig.run_cli("confirm", op_id)
        assert run.exit_code != 0 and expected in run.output, run.output
        r = await rig.client.post(
            f"/api/v1/operations/{op_id}/confirm", headers=rig.world.auth("operator")
        )
        assert r.status_code == 409 and expected in r.json()["message"], r.text
    assert len(_audit(rig, "push.confirm")) == 2


_TRAILER = re.compile(r"^(Tikguard-[A-Za-z-]+): (.*)$", re.M)


def _commits(rig: Rig) -> list[tuple[str, dict[str, str]]]:
    """(subject, trailers) of every mirror commit, oldest first, read with pygit2."""
    repo = pygit2.Repository(str(repo_path(rig.settings.data_dir, "default")))
    head = repo.references[BRANCH].peel(pygit2.Commit)
    order = pygit2.enums.SortMode.TOPOLOGICAL | pygit2.enums.SortMode.REVERSE
    return [
        (commit.message.splitlines()[0], dict(_TRAILER.findall(commit.message)))
        for commit in repo.walk(head.id, order)
    ]


async def _change(rig: Rig, index: int, name: str) -> None:
    """A change made on the router itself, outside tikguard (the next backup keeps it)."""
    dev = rig.fleet[index]
    await dev.router.execute(f"/system identity set name={name}", user=dev.username)


async def test_every_mirror_commit_names_who_asked(rig: Rig) -> None:
    # a backup from the CLI, one through the API, one by the schedule; a removal
    await _change(rig, 0, "by-cli")
    run = await rig.run_cli("backup", rig.cli_dev)
    assert run.exit_code == 0, run.output
    await _change(rig, 1, "by-api")
    r = await rig.client.post(
        f"/api/v1/devices/{rig.api_dev}/backup", headers=rig.world.auth("operator")
    )
    assert r.status_code == 202, r.text
    (backup_op,) = r.json()["operations"]
    assert (await rig.wait([backup_op]))[0].outcome == "succeeded"
    await _change(rig, 0, "by-schedule")
    await scheduled_backup(datetime.now(UTC), {"tenant_id": rig.tenant_id, "tag": None})
    run = await rig.run_cli("device", "remove", rig.world.device_name, "--yes")
    assert run.exit_code == 0, run.output
    assert await asyncio.to_thread(mirror_ops.wait_for_mirror, 60)
    await asyncio.to_thread(mirror_ops.sync, rig.db, tenant="default", push=False)

    # the test world's own versions were written straight into the store, by no caller
    world = f"manual: {rig.world.device_name} "
    commits = [(s, t) for s, t in _commits(rig) if not s.startswith(world)]
    for subject, trailers in commits:
        assert trailers.get("Tikguard-Requested-By"), (subject, trailers)

    def last(prefix: str) -> dict[str, str]:
        found = [t for s, t in commits if s.startswith(prefix)]
        assert found, (prefix, commits)
        return found[-1]

    principal = _audit(rig, "backup.start")[0]["actor"]
    assert principal.startswith("token:")
    cli = last(f"manual: {rig.cli_dev} ")
    assert cli["Tikguard-Requested-By"] == CLI_ACTOR and "Tikguard-Operation" not in cli
    api = last(f"manual: {rig.api_dev} ")
    assert (api["Tikguard-Requested-By"], api["Tikguard-Operation"]) == (principal, backup_op)
    schedule = f"schedule:backup:{rig.tenant_id}:*"
    assert last(f"scheduled: {rig.cli_dev} ")["Tikguard-Requested-By"] == schedule
    for subject, trailers in commits:  # the pushes of this module (if they ran here)
        if subject.startswith(f"post-push: {rig.cli_dev} "):
            assert trailers["Tikguard-Requested-By"] == CLI_ACTOR, trailers
            assert trailers["Tikguard-Operation"], trailers
    assert last(f"removed: {rig.world.device_name}")["Tikguard-Requested-By"] == CLI_ACTOR
