"""The dispatch flow in real browsers: the clerk notifies 社會局, the agency sees it appear
and acknowledges, the clerk's board follows without reloading, arrival is on time."""

import pytest
from sqlalchemy import select

from models.core import db
from models.dispatch import Dispatch
from tests.conftest import PHONE, browser_login, screenshot

pytestmark = pytest.mark.browser


def watch_errors(page) -> list[str]:
    """Collect JavaScript errors and console errors (a CSP violation shows up there)."""
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    return errors


def test_clerk_notifies_agency_acknowledges_live_and_arrival_is_on_time(new_page, create_user):
    create_user(role="clerk", username="counter1", name="陳櫃台")
    create_user(role="agency", agency="social-welfare", username="sw1", name="林社工")

    # The agency's inbox is open before anything happens.
    inbox = new_page()
    inbox_errors = watch_errors(inbox)
    browser_login(inbox, "sw1")
    inbox.goto("/agency/")
    assert inbox.locator("[data-live-empty]").is_visible()
    inbox.evaluate("window.notReloaded = true")

    # The clerk logs a visit with the keyboard and notifies 社會局.
    clerk = new_page()
    clerk_errors = watch_errors(clerk)
    browser_login(clerk, "counter1")
    clerk.goto("/desk/visits/new")
    assert clerk.evaluate("document.activeElement.id") == "subject"  # the cursor is in 案由
    clerk.keyboard.type("急難救助申請")
    clerk.keyboard.press("Tab")
    clerk.keyboard.type("社會局")
    clerk.keyboard.press("Escape")  # closes the suggestions; the typed name stands
    clerk.locator("#petitioner_name").fill("王小明")
    clerk.locator("#subject").press("Enter")  # Enter notifies the agency
    clerk.wait_for_url("**/desk/dispatches/*")
    dispatch = db.session.scalar(select(Dispatch))
    assert dispatch.agency.code == "social-welfare"
    assert clerk.locator(".call-ext strong").inner_text() == "1103"
    assert clerk.locator(".call-panel [data-field=status]").inner_text() == "剩餘"

    # The clerk watches the live board.
    clerk.goto("/desk/board")
    row = clerk.locator(f'.live-item[data-id="{dispatch.id}"]')
    assert "機關尚未確認" in row.locator("[data-field=ack]").inner_text()
    clerk.evaluate("window.notReloaded = true")

    # Without reloading, the inbox shows the new dispatch and an alert.
    item = inbox.locator(f'.live-item[data-id="{dispatch.id}"]')
    item.wait_for(state="visible", timeout=5_000)
    assert inbox.locator("[data-live-alert]").is_visible()
    assert "急難救助申請" in inbox.locator("[data-live-alert-text]").inner_text()
    assert inbox.evaluate("window.notReloaded") is True
    assert "王小明" not in inbox.content()
    sound = inbox.locator("[data-sound-toggle]")  # the audible alert: on by default
    assert sound.get_attribute("aria-pressed") == "true"
    sound.click()
    inbox.locator('[data-sound-toggle][aria-pressed="false"]').wait_for()
    sound.click()
    inbox.locator('[data-sound-toggle][aria-pressed="true"]').wait_for()
    screenshot(inbox, "dispatch-inbox-new")

    item.locator("input[name=responder]").fill("王專員")
    item.locator("input[name=eta_minutes]").fill("5")
    item.get_by_role("button", name="確認派員").click()
    inbox.wait_for_url("**/agency/")
    assert "王專員" in inbox.locator(".flash-success").inner_text()

    # The clerk's board shows the acknowledgement without reloading.
    ack = row.locator("[data-field=ack]")
    ack.filter(has_text="王專員 前往中").wait_for(timeout=5_000)
    assert "預計 5 分鐘" in ack.inner_text()
    assert "林社工" in ack.inner_text()
    assert clerk.evaluate("window.notReloaded") is True
    assert "urgency-ok" in row.get_attribute("class")
    screenshot(clerk, "dispatch-board-acknowledged")

    wall = new_page()
    browser_login(wall, "counter1")
    wall.goto("/desk/board/wall")
    assert not wall.locator(".site-header").is_visible()
    screenshot(wall, "dispatch-board-wall")

    # The clerk confirms arrival; the detail page says on time.
    row.locator("[data-field=link]").click()
    clerk.wait_for_url(f"**/desk/dispatches/{dispatch.id}")
    clerk.get_by_role("button", name="人員已到場").click()
    clerk.wait_for_url(f"**/desk/dispatches/{dispatch.id}")
    assert clerk.locator("[data-outcome]").inner_text() == "準時"
    assert "王小明" in clerk.content()  # whole on the detail page for the clerk
    screenshot(clerk, "dispatch-detail-on-time")

    # The board and the inbox drop the finished dispatch by themselves.
    inbox.locator(f'.live-item[data-id="{dispatch.id}"]').wait_for(state="detached", timeout=5_000)
    assert inbox_errors == [] and clerk_errors == []


def test_the_board_counts_down_and_turns_overdue_by_the_servers_clock(new_page, create_user):
    from datetime import UTC, datetime, timedelta

    from models.core import audit, clock
    from models.dispatch import log_visit, notify

    clerk = create_user(role="clerk", username="counter2", name="陳櫃台")
    # The server's clock is 9 min 58 s after the notice; the browser's clock is real time.
    start = datetime.now(UTC) - timedelta(days=3)
    clock.freeze(start)
    with audit.acting_as(audit.Actor(clerk.id, clerk.username)):
        visit = log_visit(kind="inquiry", subject="身障手冊換發", agency="社會局", by=clerk)
        dispatch = notify(visit, by=clerk)
    db.session.commit()
    clock.freeze(start + timedelta(seconds=598))

    page = new_page(viewport=PHONE)
    errors = watch_errors(page)
    browser_login(page, "counter2")
    page.goto("/desk/board")
    row = page.locator(f'.live-item[data-id="{dispatch.id}"]')
    assert "urgency-warn" in row.get_attribute("class")
    clock.freeze(start + timedelta(seconds=605))  # the server moves past the deadline
    row.locator(".countdown-label", has_text="逾時").wait_for(timeout=6_000)
    assert "urgency-overdue" in row.get_attribute("class")
    assert page.locator('[data-count="overdue"]').inner_text() == "逾時 1 件"
    screenshot(page, "dispatch-board-phone-overdue")
    assert errors == []
