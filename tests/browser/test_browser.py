"""The UI in a real browser against simulated routers: log in, back up, view a diff,
push a change that cuts the router off and watch it revert live over SSE."""

from __future__ import annotations

from typing import Any

import pytest
from tests.browser.liveserver import ADMIN, PASSWORD, LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]


def login(page: Any, live: LiveServer) -> None:
    page.goto(live.url + "/")
    assert "/login" in page.url  # not logged in yet
    page.fill("input[name=username]", ADMIN)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("h1:has-text('Fleet')")


#: Records every text the operation page's live line shows in sessionStorage, which
#: outlives the page's own reload at the end (the live line is gone after it).
RECORD_LIVE = """
document.addEventListener("DOMContentLoaded", function () {
  var live = document.getElementById("live");
  if (!live) return;
  new MutationObserver(function () {
    var seen = JSON.parse(sessionStorage.getItem("live-seen") || "[]");
    seen.push(live.textContent);
    sessionStorage.setItem("live-seen", JSON.stringify(seen));
  }).observe(live, {childList: true, characterData: true, subtree: true});
});
"""


def wait_finished(page: Any, outcome: str, timeout: float) -> None:
    """Wait for the operation page as it is once the operation has ended: rendered by
    the server with its outcome (after the page's own reload at the end, if it was live),
    so that no reload is still pending when the test navigates on."""
    page.wait_for_selector("ol#events[data-done='yes']", state="attached", timeout=timeout)
    page.wait_for_selector(f"#outcome .badge.{outcome}", timeout=10_000)


def back_up(page: Any, name: str) -> None:
    page.click(f"a:text-is('{name}')")
    page.click("button:has-text('Back up now')")
    wait_finished(page, "succeeded", timeout=60_000)


def test_login_backup_diff_and_reverted_push(browser: Any, live: LiveServer) -> None:
    assert live.fleet is not None
    dev = live.fleet[0]
    page = browser.new_page()
    page.set_default_timeout(30_000)
    login(page, live)

    back_up(page, dev.name)
    live.call(
        dev.router.execute(
            "/ip address add address=10.66.0.1/24 interface=ether2", user=dev.username
        )
    )
    page.goto(live.url + "/")
    back_up(page, dev.name)

    page.click(f"a:text-is('{dev.name}')")
    page.click("button:has-text('Show diff')")
    page.wait_for_selector("table.sbs")
    assert page.locator("table.sbs tr.insert td.r", has_text="10.66.0.1/24").count() == 1

    page.click("nav a:text-is('Push')")
    page.check(f"label.check:has-text('{dev.name}') input")
    page.fill("textarea[name=script]", "/ip service\nset ssh disabled=yes\n")
    page.click("button:has-text('Preview')")
    page.wait_for_selector("section.preview")
    assert page.locator("section.preview .badge").count() >= 1  # a management-access risk
    # A window that holds the dry-run import with room to spare on a loaded machine
    # (600 device seconds: 12 s at the test's time scale); the cut reverts after it.
    page.fill("input[name=window]", "600")
    page.add_init_script(RECORD_LIVE)
    page.click("button:has-text('Run guarded push')")
    page.wait_for_selector("ol.events")
    # At the end the page reloads once to show the evidence the outcome rests on.
    wait_finished(page, "reverted", timeout=120_000)
    page.wait_for_selector("#evidence", state="visible", timeout=10_000)
    # Stages arrived over SSE while the push ran (the script marked the page "Live: ...").
    seen = page.evaluate("JSON.parse(sessionStorage.getItem('live-seen') || '[]')")
    assert any(text.startswith("Live:") for text in seen), seen
    stages = page.locator("ol.events .stage").all_inner_texts()
    assert "armed" in stages and "apply" in stages
    assert "rebooted" in page.locator("#evidence").inner_text()
    page.goto(live.url + "/")
    assert page.locator("td .badge.reverted").count() == 1
