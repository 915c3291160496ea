"""Save screenshots of the web UI's pages under docs/screenshots/, at a phone's width
(390 px) and a desktop's (1440 px): ``<page>-390.png`` and ``<page>-1440.png``.

Starts a real tikguard server with simulated routers (accelerated clock), makes some
history through the API (tests/browser/history.py: backups, a change found by a
backup, a push to two routers, a push that cuts a router off and reverts), then
photographs each page with Debian's chromium. Run: ``python scripts/screenshots.py``
(about a minute). The rollout pages' screenshots come from
``TIKGUARD_SCREENSHOTS=docs/screenshots pytest tests/browser/test_browser_rollout.py``.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from tests.browser.history import GOOD, History, Seeder, make_history  # noqa: E402
from tests.browser.liveserver import ADMIN, PASSWORD, LiveServer  # noqa: E402

OUT = REPO / "docs" / "screenshots"
WIDTHS = (390, 1440)


def pages(history: History) -> dict[str, str]:
    """Screenshot name -> path, in the order a visitor meets them."""
    first = history.ids[0]
    shown = {
        "fleet": "/",
        "device": f"/devices/{first}",
        "diff": f"/devices/{first}/diff?old=1&new=2",
        "version": f"/devices/{first}/versions/2",
        "operation": f"/operations/{history.pushed[0]}",
        "operations": "/operations",
        "users": "/users",
        "schedules": "/schedules",
        "notifications": "/notifications",
        "rollouts": "/rollouts",
    }
    if history.cut_op:
        shown["operation-reverted"] = f"/operations/{history.cut_op}"
    return shown


def shoot_width(browser: Any, live: LiveServer, history: History, width: int) -> list[Path]:
    saved: list[Path] = []
    page = browser.new_page(viewport={"width": width, "height": 900})

    def snap(name: str, full: bool = True) -> None:
        path = OUT / f"{name}-{width}.png"
        page.screenshot(path=str(path), full_page=full)
        saved.append(path)

    page.goto(live.url + "/login")
    snap("login", full=False)
    page.fill("input[name=username]", ADMIN)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("h1:has-text('Fleet')")
    for name, path in pages(history).items():
        page.goto(live.url + path)
        snap(name)
    if width < 800:  # the menu, opened
        page.goto(live.url + "/")
        page.click("details.menu summary")
        snap("menu", full=False)
    page.goto(live.url + "/push")
    page.check("input[name=device] >> nth=-1")  # a router the history did not push to
    page.fill("textarea[name=script]", GOOD)
    page.click("button:has-text('Preview')")
    page.wait_for_selector("section.preview")
    snap("push-preview")
    page.close()
    return saved


def shoot(live: LiveServer, history: History) -> list[Path]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        saved = [path for w in WIDTHS for path in shoot_width(browser, live, history, w)]
        browser.close()
    return saved


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        seeder = Seeder()
        live = LiveServer(Path(tmp), routers=4, seed=seeder).start()
        try:
            history = make_history(live, seeder.history, revert=True)
            for path in shoot(live, history):
                print(path.relative_to(REPO))
        finally:
            live.stop()


if __name__ == "__main__":
    main()
