"""The live poll in a real browser: the board sends the list's ETag back, an unchanged list
comes back 304, a change still shows without reloading; the earlier open dispatches are counted
on the board and settled on the end-of-day page (日結)."""

from datetime import timedelta

import pytest
from sqlalchemy import event

from models.core import clock, db
from tests.conftest import PHONE, browser_login, screenshot
from tests.dispatch.test_browser import watch_errors

pytestmark = pytest.mark.browser

FEED = "/api/v1/dispatches/open"


@pytest.mark.parametrize(
    "keep_seconds",
    [
        0,
        pytest.param(
            10,
            marks=pytest.mark.postgres_only(
                reason="answers are kept on PostgreSQL only (its NOTIFY ends them)"
            ),
        ),
    ],
    ids=["every-poll-reads", "kept-answers"],
)
def test_board_polls_with_if_none_match_gets_304_and_still_updates_live(
    new_page, make_dispatch, clerk, csrf_app, monkeypatch, keep_seconds
):
    """With kept answers (PostgreSQL) the unchanged list's 304s come without a statement, and
    a new dispatch still shows: its commit's notice ends the board's kept answer."""
    monkeypatch.setitem(csrf_app.config, "LIVE_KEEP_SECONDS", keep_seconds)
    clock.freeze(clock.now() - timedelta(days=2))
    try:
        old = make_dispatch("labor", subject="前天忘了結案")
    finally:
        clock.unfreeze()
    today = make_dispatch("health", subject="今天的案件")
    page = new_page()
    errors = watch_errors(page)
    sent, answers = [], []
    page.on(
        "request",
        lambda r: sent.append(r.headers.get("if-none-match")) if FEED in r.url else None,
    )
    page.on("response", lambda r: answers.append(r.status) if FEED in r.url else None)
    browser_login(page, clerk.username)
    page.goto("/desk/board")
    page.locator(f'.live-item[data-id="{today.id}"]').wait_for()
    assert page.locator(f'.live-item[data-id="{old.id}"]').count() == 0
    earlier = page.locator("[data-earlier]")
    assert earlier.is_visible()
    assert "1" in earlier.inner_text() and "日結" in earlier.inner_text()
    read = []  # the server's list statements while the list stays unchanged
    with csrf_app.app_context():
        engine = db.engine
    listener = lambda *a: read.append(a[2]) if "FROM dispatch" in a[2] else None  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    try:
        page.wait_for_timeout(5_000)  # two or three polls of an unchanged list
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    assert answers[0] == 200 and answers.count(304) >= 2, answers
    if keep_seconds:  # answered from the kept answer (read at the first poll)
        assert read == []
    else:
        assert len(read) >= 2
    assert sent[0] is None and all(tag and tag.startswith('W/"') for tag in sent[1:]), sent

    before = len(answers)
    fresh = make_dispatch("commerce", subject="新來的案件")
    item = page.locator(f'.live-item[data-id="{fresh.id}"]')
    item.wait_for(state="visible", timeout=5_000)  # no reload: a 200 with the new list
    assert 200 in answers[before:], answers  # the changed list came whole, not as a 304
    assert page.locator('[data-count="open"]').inner_text() == "進行中 2 件"
    screenshot(page, f"live-poll-board-earlier-{keep_seconds}")

    # The end of day: the earlier dispatch is listed, settled with a reason, and gone.
    earlier.get_by_role("link").click()
    page.wait_for_url("**/desk/end-of-day")
    row = page.locator(f'[data-earlier-id="{old.id}"]')
    assert "前天忘了結案" in row.inner_text()
    assert page.locator(f'[data-earlier-id="{today.id}"]').count() == 0
    page.set_viewport_size(PHONE)
    screenshot(page, "end-of-day-phone")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.set_viewport_size({"width": 1280, "height": 900})
    screenshot(page, "end-of-day-desktop")
    page.locator("#reason").fill("民眾已離開，當日未結案")
    page.locator("[type=submit]", has_text="結案").last.click()
    page.wait_for_url("**/desk/end-of-day")
    assert "1" in page.locator(".flash-success").inner_text()
    assert page.locator(f'[data-earlier-id="{old.id}"]').count() == 0
    page.goto("/desk/board")
    page.locator(f'.live-item[data-id="{fresh.id}"]').wait_for()
    assert page.locator("[data-earlier]").is_hidden()
    assert not errors, errors
