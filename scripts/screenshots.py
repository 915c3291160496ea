"""Save screenshots of the web UI's main pages under docs/screenshots/.

Starts a real tikguard server with simulated routers (accelerated clock), makes some
history through the API (backups, a change found by a backup, a committed push and a
push that cuts the router off and reverts), then photographs each page with Debian's
chromium. Run: ``python scripts/screenshots.py`` (about a minute).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from tests.browser.liveserver import ADMIN, PASSWORD, LiveServer  # noqa: E402

from tikguard.ops import accounts  # noqa: E402
from tikguard.sim.fleet import SimFleet  # noqa: E402
from tikguard.store.db import Database  # noqa: E402

OUT = REPO / "docs" / "screenshots"
tokens: dict[str, str] = {}


async def seed(db: Database, tenant_id: int, fleet: SimFleet) -> None:
    with db.transaction() as s:
        tokens["admin"] = accounts.create_token(
            s, tenant_id, "screens", "admin", actor="docs"
        ).token


def wait_ops(api: httpx.Client, ops: list[str]) -> list[dict[str, Any]]:
    while True:
        found = [api.get(f"/api/v1/operations/{o}").json() for o in ops]
        if all(o["outcome"] for o in found):
            return found
        time.sleep(0.2)


def make_history(live: LiveServer) -> dict[str, Any]:
    assert live.fleet is not None
    api = httpx.Client(base_url=live.url, headers={"Authorization": f"Bearer {tokens['admin']}"})
    devices = api.get("/api/v1/devices").json()
    ids = [d["id"] for d in devices]
    wait_ops(api, api.post("/api/v1/backups", json={}).json()["operations"])
    dev = live.fleet[0]
    live.call(
        dev.router.execute(
            "/ip firewall address-list add list=mgmt address=10.10.0.0/24 comment=noc",
            user=dev.username,
        )
    )
    live.call(dev.router.execute("/system identity set name=edge-r001", user=dev.username))
    wait_ops(api, api.post("/api/v1/backups", json={"devices": [ids[0]]}).json()["operations"])
    last = live.fleet[3]  # changed by hand at the router: the fleet page shows drift
    live.call(
        last.router.execute("/ip address add address=10.44.0.1/24 interface=ether2", user="admin")
    )
    wait_ops(api, api.post("/api/v1/backups", json={"devices": [ids[3]]}).json()["operations"])
    good = (
        "/ip dns\nset servers=192.0.2.53\n/ip address\nadd address=10.20.0.1/24 interface=ether2\n"
    )
    wait_ops(
        api,
        api.post("/api/v1/push", json={"devices": ids[:2], "script": good}).json()["operations"],
    )
    cut = "/ip service\nset ssh disabled=yes\n"
    (cut_op,) = api.post("/api/v1/push", json={"devices": [ids[2]], "script": cut}).json()[
        "operations"
    ]
    wait_ops(api, [cut_op])
    return {"ids": ids, "cut_op": cut_op, "good": good}


def shoot(live: LiveServer, info: dict[str, Any]) -> list[Path]:
    from playwright.sync_api import sync_playwright

    saved: list[Path] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 800})

        def snap(name: str, full: bool = True) -> None:
            path = OUT / f"{name}.png"
            page.screenshot(path=str(path), full_page=full)
            saved.append(path)

        page.goto(live.url + "/login")
        snap("login", full=False)
        page.fill("input[name=username]", ADMIN)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_selector("h1:has-text('Fleet')")
        snap("fleet")
        first = info["ids"][0]
        page.goto(f"{live.url}/devices/{first}")
        snap("device")
        page.goto(f"{live.url}/devices/{first}/diff?old=1&new=2")
        snap("diff")
        page.goto(live.url + "/push")
        page.check("input[name=device] >> nth=0")
        page.fill("textarea[name=script]", info["good"])
        page.click("button:has-text('Preview')")
        page.wait_for_selector("section.preview")
        snap("push-preview")
        page.goto(f"{live.url}/operations/{info['cut_op']}")
        snap("operation-reverted")
        page.goto(live.url + "/operations")
        snap("operations")
        browser.close()
    return saved


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        live = LiveServer(Path(tmp), routers=4, seed=seed).start()
        try:
            info = make_history(live)
            for path in shoot(live, info):
                print(path.relative_to(REPO))
        finally:
            live.stop()


if __name__ == "__main__":
    main()
