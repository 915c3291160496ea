"""The daily pages in a real browser at a phone's width (390 px) and a desktop's
(1440 px): the menu is reachable, nothing is wider than the viewport, the fleet is
cards on the phone, the diff is unified there and side by side on the desktop, and
"back up all" makes one request row on the operations page.

One live server and one browser for the whole module (they are the expensive part).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.browser.history import History, Seeder, make_history
from tests.browser.liveserver import ADMIN, PASSWORD, LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

WIDTHS = (390, 1440)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, History]]:
    seeder = Seeder()
    live = LiveServer(Path(tmp_path_factory.mktemp("pages")), routers=2, seed=seeder).start()
    try:
        yield live, make_history(live, seeder.history)
    finally:
        live.stop()


def open_as_admin(browser: Any, live: LiveServer, width: int) -> Any:
    page = browser.new_page(viewport={"width": width, "height": 900})
    page.set_default_timeout(30_000)
    page.goto(live.url + "/login")
    page.fill("input[name=username]", ADMIN)
    page.fill("input[name=password]", "not the password")
    page.click("button[type=submit]")
    assert page.input_value("input[name=username]") == ADMIN  # kept after a failed login
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("h1:has-text('Fleet')")
    return page


def fits(page: Any) -> None:
    wide, viewport = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert wide <= viewport, f"{page.url} is {wide} px wide in a {viewport} px viewport"


def menu_reaches(page: Any, width: int, label: str) -> None:
    """The main menu's link ``label`` can be seen and clicked at this width."""
    if width < 800:
        assert page.locator("nav.wide").is_hidden()
        page.click("details.menu summary")
        link = page.locator(f"details.menu nav a:text-is('{label}')")
    else:
        assert page.locator("details.menu").is_hidden()
        link = page.locator(f"nav.wide a:text-is('{label}')")
    assert link.is_visible()


@pytest.mark.parametrize("width", WIDTHS)
def test_pages_fit_and_the_menu_is_reachable(
    browser: Any, world: tuple[LiveServer, History], width: int
) -> None:
    live, history = world
    page = open_as_admin(browser, live, width)
    first, op = history.ids[0], history.pushed[0]
    pages = {
        "/": "Fleet",
        f"/devices/{first}": "r001",
        f"/devices/{first}/diff?old=1&new=2": "r001",
        "/push": "Push a change",
        f"/operations/{op}": "Push",
        "/users": "Users",
        "/rollouts": "Roll out",
        "/schedules": "Backup schedules",
        "/notifications": "Notifications",
        f"/devices/{first}/versions/2": "r001",
    }
    for path, heading in pages.items():
        page.goto(live.url + path)
        page.wait_for_selector(f"h1:has-text('{heading}')")
        fits(page)
        menu_reaches(page, width, "Operations")
    # the menu's link works (on the phone: from the opened disclosure)
    page.locator("nav a:visible:text-is('Users')").click()
    page.wait_for_selector("h1:has-text('Users')")

    page.goto(live.url + "/")
    cards = page.locator("table.fleet thead").is_hidden()
    assert cards == (width < 800)  # a phone gets cards, a desktop the table

    page.goto(f"{live.url}/devices/{first}/diff?old=1&new=2")
    assert page.locator("table.unified").is_visible() == (width < 800)
    assert page.locator("table.sbs").is_visible() == (width >= 800)
    shown = "table.unified" if width < 800 else "table.sbs"
    assert page.locator(f"{shown} mark:visible", has_text="edge-r001").count() == 1

    page.goto(f"{live.url}/operations/{op}")
    assert page.locator("#timeline .tl-window").is_visible()
    assert page.locator("#timeline .tl-tick.commit").count() == 1
    assert "before the safety margin" in page.inner_text("#timeline .verdict")
    page.close()


def test_back_up_all_is_one_request_row(browser: Any, world: tuple[LiveServer, History]) -> None:
    live, _ = world
    page = open_as_admin(browser, live, 390)
    page.click("#backup-all button")
    page.wait_for_url("**/operations?kind=backup")
    row = page.locator("tr.request").first
    assert "2 routers" in row.inner_text()
    fits(page)
    page.close()
