"""Some history on a live server, made through the API as a user would: backups, a
change found by a backup, a push to two routers (one request) and, for the screenshots,
a push that cuts a router off and reverts. Shared by the page tests and
``scripts/screenshots.py``."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import httpx
from tests.browser.liveserver import LiveServer

from tikguard.ops import accounts
from tikguard.sim.fleet import SimFleet
from tikguard.store.db import Database

#: A change both routers take: a DNS server and an address on ether2.
GOOD = "/ip dns\nset servers=192.0.2.53\n/ip address\nadd address=10.20.0.1/24 interface=ether2\n"
#: A change that cuts the router off (SSH disabled): it reverts by itself.
CUT = "/ip service\nset ssh disabled=yes\n"


@dataclass
class History:
    token: str = ""
    ids: list[int] = field(default_factory=list)
    #: The two-router push's operations, and the reverted push's (when made).
    pushed: list[str] = field(default_factory=list)
    cut_op: str | None = None


class Seeder:
    """The LiveServer seed callback: an admin API token to make the history with."""

    def __init__(self) -> None:
        self.history = History()

    async def __call__(self, db: Database, tenant_id: int, fleet: SimFleet) -> None:
        with db.transaction() as s:
            self.history.token = accounts.create_token(
                s, tenant_id, "history", "admin", actor="docs"
            ).token


def wait_ops(api: httpx.Client, ops: list[str], timeout: float = 180.0) -> list[dict[str, Any]]:
    """Poll the operations until each has an outcome (the engine runs in the server)."""
    until = time.monotonic() + timeout
    while True:
        found = [api.get(f"/api/v1/operations/{o}").json() for o in ops]
        if all(o["outcome"] for o in found):
            return found
        if time.monotonic() > until:
            raise TimeoutError(f"operations still running after {timeout:g} s: {found}")
        time.sleep(0.2)


def make_history(live: LiveServer, history: History, *, revert: bool = False) -> History:
    assert live.fleet is not None
    headers = {"Authorization": f"Bearer {history.token}"}
    with httpx.Client(base_url=live.url, headers=headers, timeout=60) as api:
        history.ids = [d["id"] for d in api.get("/api/v1/devices").json()]
        wait_ops(api, api.post("/api/v1/backups", json={}).json()["operations"])
        first = live.fleet[0]
        for command in (
            "/ip address set [find interface=ether1] comment=uplink",
            "/system identity set name=edge-r001",
        ):
            live.call(first.router.execute(command, user=first.username))
        if len(live.fleet) > 3:  # changed by hand at the router: the fleet shows drift
            live.call(
                live.fleet[3].router.execute(
                    "/ip address add address=10.44.0.1/24 interface=ether2", user="admin"
                )
            )
        body = {"devices": [history.ids[0], history.ids[-1]]}
        wait_ops(api, api.post("/api/v1/backups", json=body).json()["operations"])
        both = {"devices": history.ids[:2], "script": GOOD}
        history.pushed = api.post("/api/v1/push", json=both).json()["operations"]
        wait_ops(api, history.pushed)
        if revert and len(history.ids) > 2:
            cut = {"devices": [history.ids[2]], "script": CUT}
            (history.cut_op,) = api.post("/api/v1/push", json=cut).json()["operations"]
            wait_ops(api, [history.cut_op])
    return history
