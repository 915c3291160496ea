"""In a real browser: the API docs render with every request to another host
blocked (an offline NOC), an admin sets a backup schedule, and after logout the
copied session cookie no longer opens a page."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

import pytest
from tests.browser.liveserver import LiveServer
from tests.browser.test_browser import login

from tikguard.server.sessions import COOKIE

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]


def test_docs_schedules_and_logout(browser: Any, live: LiveServer) -> None:
    page = browser.new_page()
    page.set_default_timeout(30_000)
    local = urlparse(live.url).netloc
    elsewhere: list[str] = []

    def offline(route: Any) -> None:
        if urlparse(route.request.url).netloc == local:
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    page.route("**/*", offline)
    page.goto(live.url + "/api/v1/docs")
    page.wait_for_selector(".swagger-ui .info .title:has-text('tikguard')")
    page.wait_for_selector(".opblock-summary-path:has-text('/api/v1/schedules')")
    assert elsewhere == []

    login(page, live)
    page.click("nav a:text-is('Schedules')")
    page.wait_for_selector("h1:has-text('Backup schedules')")
    page.fill("input[name=cron]", "15 4 * * *")
    page.fill("input[name=time_zone]", "Europe/Amsterdam")
    page.click("button:has-text('Save')")
    page.wait_for_selector("td.mono:has-text('15 4 * * *')")
    assert "Europe/Amsterdam" in page.inner_text("table.grid")

    cookie = next(c for c in page.context.cookies() if c["name"] == COOKIE)
    page.click("button:has-text('Log out')")
    page.wait_for_selector("input[name=username]")
    thief = browser.new_context()
    try:
        thief.add_cookies([cookie])
        other = thief.new_page()
        other.goto(live.url + "/")
        assert "/login" in other.url  # the copied cookie was ended with the logout
    finally:
        thief.close()
    assert elsewhere == []
