"""The rollout page in a real browser against simulated routers: choose routers, write
a template, preview it grouped by diff, start with a manual gate, watch the canary
commit live, continue, and see the wave board reach its end.

With ``TIKGUARD_SCREENSHOTS=DIR`` the pages are also saved there (docs/screenshots/).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from tests.browser.liveserver import LiveServer
from tests.browser.test_browser import login

from tikguard.ops.backup import backup
from tikguard.sim.fleet import SimFleet
from tikguard.store.db import Database

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]

TEMPLATE = '/ip dns set servers={{ vars.dns | default("9.9.9.9") }}\n'


async def _backed_up(db: Database, tenant_id: int, fleet: SimFleet) -> None:
    """Every router backed up once: host keys pinned, a stored config to plan against."""
    results = await backup(db, db.settings, tenant_id)
    assert all(r.ok for r in results), results


@pytest.fixture
def live3(tmp_path: Path) -> Any:
    server = LiveServer(tmp_path, routers=3, seed=_backed_up).start()
    try:
        yield server
    finally:
        server.stop()


def _shot(page: Any, name: str) -> None:
    folder = os.environ.get("TIKGUARD_SCREENSHOTS")
    if folder:
        page.screenshot(path=str(Path(folder) / name), full_page=True)


def test_rollout_page_preview_canary_continue(browser: Any, live3: LiveServer) -> None:
    live = live3
    assert live.fleet is not None
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.set_default_timeout(60_000)
    login(page, live)

    page.click("nav a:text-is('Rollouts')")
    page.check("input[name=all]")
    page.fill("textarea[name=script]", TEMPLATE)
    page.check("input[name=template]")
    page.fill("input[name=waves]", "100%")
    # a window that holds the push with room to spare on a loaded machine (30 s here)
    page.fill("input[name=window]", "1500")
    page.click("button:has-text('Preview')")
    page.wait_for_selector("section.diff-group")
    assert "3 routers" in page.inner_text("p.summary")
    assert page.locator("section.diff-group").count() == 1  # one identical diff for all
    assert "9.9.9.9" in page.inner_text("section.diff-group pre")
    _shot(page, "rollout-preview.png")

    page.check("input[name=approve]")
    page.click("button:has-text('Start rollout')")
    page.wait_for_url("**/rollouts/*")
    # the canary commits, then the rollout waits at the gate (live over SSE)
    page.wait_for_selector("#state.badge.waiting")
    canary = page.locator("section.wave[data-wave='0'] td.outcome .badge")
    assert canary.inner_text() == "committed"
    assert page.locator("section.wave[data-wave='1'] td.outcome .badge.committed").count() == 0
    _shot(page, "rollout-canary.png")

    page.click("#continue")
    page.wait_for_selector("#state.badge.completed")
    assert page.locator("#board td.outcome .badge.committed").count() == 3
    _shot(page, "rollout-done.png")
    # a router's drill-down is its operation page
    page.click("section.wave[data-wave='0'] td.op a")
    page.wait_for_selector("#outcome .badge.committed")
    for dev in live.fleet:
        assert "9.9.9.9" in dev.router.config_text()
