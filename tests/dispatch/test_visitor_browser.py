"""The visitor at the counter in a real browser: a senior listed first on the live board with
their own wait ticking beside the agency's clock, a one-tap care note, and the full-screen
rating page at 360 px and 1280 px (zh-TW) with its thank-you."""

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from models.core import audit, db
from models.dispatch import VisitRating, log_visit, notify
from tests.conftest import browser_login, screenshot
from tests.dispatch.test_browser import watch_errors

pytestmark = pytest.mark.browser

WIDE = {"width": 1280, "height": 800}
NARROW = {"width": 360, "height": 740}


def dispatch_for(clerk, subject, **flags):
    with audit.acting_as(audit.Actor(clerk.id, clerk.username)):
        visit = log_visit(kind="petition", subject=subject, by=clerk, **flags)
        dispatch = notify(visit, "social-welfare", by=clerk)
    db.session.commit()
    return dispatch


def no_sideways_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_a_senior_comes_first_on_the_board_and_rates_the_service_full_screen(new_page, create_user):
    clerk = create_user(role="clerk", username="counter-v", name="陳櫃台")
    plain = dispatch_for(clerk, "戶籍謄本")
    board = new_page(viewport=WIDE)
    errors = watch_errors(board)
    browser_login(board, "counter-v")
    board.goto("/desk/board")
    board.locator(f'.live-item[data-id="{plain.id}"]').wait_for()

    # A senior arrives while the board is open: listed first without reloading, marked.
    senior = dispatch_for(clerk, "老人福利津貼", is_senior=True)
    first = board.locator(".live-item").first
    board.locator(f'.live-item:first-child[data-id="{senior.id}"]').wait_for(timeout=6_000)
    assert "is-priority" in first.get_attribute("class")
    assert "高齡" in first.locator("[data-field=flags]").inner_text()
    wait = first.locator("[data-field=wait]")
    assert "民眾已等候" in first.locator("[data-field=wait-line]").inner_text()
    before = wait.inner_text()
    expect(wait).not_to_have_text(before, timeout=5_000)  # it ticks by itself
    assert wait.inner_text() != before
    screenshot(board, "visitor-board-senior-1280")

    # A one-tap care note on the dispatch page lands on the timeline.
    board.goto(f"/desk/dispatches/{senior.id}")
    assert board.locator(".call-panel [data-field=wait-line]").is_visible()
    board.get_by_role("button", name="已請入座").click()
    board.wait_for_url(f"**/desk/dispatches/{senior.id}")
    assert "已記錄：已請入座" in board.locator(".flash-success").inner_text()
    assert "已請入座" in board.locator(".timeline").inner_text()

    # The responder arrives; the clerk turns the screen to the visitor.
    board.get_by_role("button", name="人員已到場").click()
    board.wait_for_url(f"**/desk/dispatches/{senior.id}")
    board.locator("[data-open-rating]").click()
    board.wait_for_url(f"**/desk/visits/{senior.visit_id}/rating")
    assert board.locator("nav, .site-header, a").count() == 0  # nothing else to touch
    assert board.locator("button[name=score]").count() == 3
    screenshot(board, "visitor-rating-zh-1280")

    phone = new_page(viewport=NARROW)
    browser_login(phone, "counter-v")
    phone.goto(f"/desk/visits/{senior.visit_id}/rating")
    buttons = phone.locator("button[name=score]")
    assert [b.inner_text() for b in buttons.all()] == ["滿意", "普通", "不滿意"]
    assert all(b.bounding_box()["height"] >= 80 for b in buttons.all())
    assert no_sideways_scroll(phone)
    screenshot(phone, "visitor-rating-zh-360")

    phone.get_by_role("button", name="不滿意").click()
    phone.get_by_text("謝謝您的寶貴意見！").wait_for()
    assert phone.locator("button").count() == 0 and phone.locator("a").count() == 1
    assert no_sideways_scroll(phone)
    screenshot(phone, "visitor-rating-thanks-zh-360")
    rating = db.session.scalar(select(VisitRating))
    assert (rating.visit_id, rating.score) == (senior.visit_id, "dissatisfied")

    # The other screen still shows the buttons: a second tap is refused (one per visit).
    assert errors == []
    board.get_by_role("button", name="滿意", exact=True).click()
    assert "已填答過滿意度" in board.locator(".rating-problem").inner_text()
    assert board.locator("button[name=score]").count() == 0
    phone.locator(".rating-back a").click()
    phone.wait_for_url(f"**/desk/dispatches/{senior.id}")
    assert "民眾評價：不滿意" in phone.locator("[data-rating]").inner_text()
    assert errors == [
        "Failed to load resource: the server responded with a status of 409 (CONFLICT)"
    ]
