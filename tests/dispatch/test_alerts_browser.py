"""The agency's alerts in a real browser, under the browser's own autoplay policy (no flag to
lift it): a new dispatch sounds and shows a desktop notification within 3 s, again each minute
until acknowledged; after a reload the sound plays or the 「啟用提示」 bar says why not; the idle
inbox locks, showing nothing of the dispatches, and still alerts; the clerk's board shows
whether the agency's inbox is open."""

from urllib.parse import urlsplit

import pytest

from models.core import clock
from tests.conftest import TEST_PASSWORD, browser_login, screenshot
from tests.dispatch.conftest import NEW_VISIT
from tests.dispatch.test_browser import watch_errors

pytestmark = pytest.mark.browser

SUBJECT = NEW_VISIT["subject"]


def hook(page) -> dict:
    """The page's alert record: sounds played, notifications shown, the count, the state."""
    return page.evaluate("window.__citydeskAlerts")


def shown_notifications(page) -> list[dict]:
    """The notifications the service worker is showing now."""
    return page.evaluate(
        """navigator.serviceWorker.ready
          .then(r => r.getNotifications())
          .then(list => list.map(n => ({title: n.title, body: n.body, tag: n.tag})))"""
    )


def wait_for(page, condition: str, timeout: int = 3_000) -> None:
    """Wait until the JavaScript `condition` on `a` (the alert record) holds (polled from
    here: the page's CSP forbids the eval that page.wait_for_function needs)."""
    script = f"(a => !!({condition}))(window.__citydeskAlerts)"
    for _step in range(timeout // 100):
        if page.evaluate(script):
            return
        page.wait_for_timeout(100)
    assert page.evaluate(script), f"{condition} within {timeout} ms: {hook(page)}"


def no_notifications_shown(page) -> bool:
    """True when the service worker shows no notification."""
    return shown_notifications(page) == []


def open_inbox(new_page, live_server, username="sw1"):
    """An agency user's inbox with notifications allowed and the browser's clock under the
    test's control; the service worker is active."""
    page = new_page()
    page.context.grant_permissions(["notifications"], origin=live_server)
    page.clock.install()
    errors = watch_errors(page)
    browser_login(page, username)
    page.goto("/agency/")
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    return page, errors


def enable_alerts_if_blocked(page) -> None:
    """Tap 「啟用提示」 when the browser keeps the sound blocked (it does until a gesture)."""
    bar = page.locator("[data-alert-bar]")
    page.wait_for_timeout(600)  # the page checks the audio 0.4 s after loading
    if bar.is_visible():
        assert "瀏覽器封鎖了提示音" in bar.inner_text()
        page.get_by_role("button", name="啟用提示").click()
        bar.wait_for(state="hidden")
    assert hook(page)["soundBlocked"] is False


def test_a_new_dispatch_sounds_and_notifies_within_3_s_and_each_minute_until_acknowledged(
    new_page, create_user, api_as, live_server
):
    create_user(role="agency", agency="social-welfare", username="sw1", name="林社工")
    clerk = api_as("clerk", name="陳櫃台")
    colleague = api_as("agency", agency="social-welfare", name="王專員")
    page, errors = open_inbox(new_page, live_server)
    enable_alerts_if_blocked(page)
    assert hook(page)["sounds"] == 0 and hook(page)["notifications"] == []

    dispatch = clerk.post("/visits", {**NEW_VISIT, "agency": "social-welfare"}).get_json()
    wait_for(page, "a.sounds === 1 && a.notifications.length === 1")  # within 3 s
    [shown] = shown_notifications(page)
    assert shown["title"] == "社會局新派員通知"
    assert SUBJECT in shown["body"] and "剩餘 09:" in shown["body"]
    assert page.title().startswith("(1) ")
    assert page.locator('link[rel="icon"]').get_attribute("href").startswith("data:image/png")
    screenshot(page, "alerts-inbox-new-dispatch")

    page.clock.fast_forward(30_000)
    page.wait_for_timeout(500)
    assert hook(page)["sounds"] == 1  # not before the minute is up
    page.clock.fast_forward(30_000)
    wait_for(page, "a.sounds === 2 && a.notifications.length === 2")  # a minute later, again

    # A colleague acknowledges: the alerts stop, the notification goes, the count clears.
    response = colleague.post(f"/dispatches/{dispatch['id']}/acknowledge", {"responder": "王專員"})
    assert response.status_code == 200
    wait_for(page, "a.count === 0")
    for _step in range(30):
        if no_notifications_shown(page):
            break
        page.wait_for_timeout(100)
    assert no_notifications_shown(page)
    for _minute in range(2):
        page.clock.fast_forward(61_000)
        page.wait_for_timeout(300)
    assert hook(page)["sounds"] == 2 and len(hook(page)["notifications"]) == 2
    assert not page.title().startswith("(")
    assert page.locator('link[rel="icon"]').get_attribute("href").endswith("favicon.svg")
    assert errors == []


def test_after_a_reload_the_alert_sounds_without_a_click_or_the_bar_asks_for_one(
    new_page, create_user, api_as, live_server
):
    create_user(role="agency", agency="social-welfare", username="sw1", name="林社工")
    clerk = api_as("clerk", name="陳櫃台")
    page, errors = open_inbox(new_page, live_server)
    enable_alerts_if_blocked(page)
    clerk.post("/visits", {**NEW_VISIT, "agency": "social-welfare"})
    wait_for(page, "a.sounds === 1")

    page.reload()
    # Notifications stay allowed; the sound either plays or the bar says the browser blocks it.
    wait_for(page, "a.notifications.length === 1 && (a.sounds === 1 || a.soundBlocked)")
    bar = page.locator("[data-alert-bar]")
    if hook(page)["sounds"] == 0:
        bar.wait_for(state="visible", timeout=1_000)
        assert "瀏覽器封鎖了提示音" in bar.inner_text()
        screenshot(page, "alerts-inbox-sound-blocked-after-reload")
        page.get_by_role("button", name="啟用提示").click()  # one tap
        wait_for(page, "a.sounds === 1 && !a.soundBlocked")
        bar.wait_for(state="hidden")
    else:
        assert not bar.is_visible()
    assert errors == []


def test_without_notification_permission_the_bar_offers_to_enable_alerts(new_page, create_user):
    create_user(role="agency", agency="social-welfare", username="sw1", name="林社工")
    page = new_page()
    browser_login(page, "sw1")
    page.goto("/agency/")
    bar = page.locator("[data-alert-bar]")
    bar.wait_for(state="visible")
    assert "尚未開啟桌面通知" in bar.inner_text()
    assert bar.get_by_role("button", name="啟用提示").is_visible()


def test_the_idle_inbox_locks_showing_nothing_of_the_dispatches_and_still_alerts(
    new_page, create_user, api_as, live_server, frozen_clock
):
    create_user(role="agency", agency="social-welfare", username="sw1", name="林社工")
    clerk = api_as("clerk", name="陳櫃台")
    clerk.post("/visits", {**NEW_VISIT, "agency": "social-welfare"})
    page, errors = open_inbox(new_page, live_server)
    enable_alerts_if_blocked(page)
    wait_for(page, "a.sounds >= 1 && a.notifications.length >= 1")
    assert SUBJECT in page.content()

    clock.advance(minutes=31)  # nobody touches the page; it keeps polling
    page.locator("[data-lock-panel]").wait_for(timeout=5_000)
    # One more poll: the inbox locked in place, it did not reload into /unlock.
    page.wait_for_event("response", lambda r: "/api/v1/dispatches/open" in r.url)
    assert urlsplit(page.url).path == "/agency/"
    assert hook(page)["locked"] is True
    assert SUBJECT not in page.content() and "林社工" not in page.content()
    assert page.title().startswith("(1) 畫面已鎖定")
    screenshot(page, "alerts-inbox-locked")

    # A new dispatch still sounds and notifies, without its subject.
    before = hook(page)
    clerk.post("/visits", {**NEW_VISIT, "subject": "身障手冊換發", "agency": "social-welfare"})
    # Wait for the new dispatch's own notification: the overdue one may sound again meanwhile.
    shown = len(before["notifications"])
    wait_for(
        page, f"a.sounds > {before['sounds']} && a.count === 2 && a.notifications.length > {shown}"
    )
    last = hook(page)["notifications"][-1]
    assert "身障手冊換發" not in last["body"] and "畫面已鎖定" in last["body"]
    assert "身障手冊換發" not in page.content()
    assert page.locator("[data-lock-count]").inner_text() == "2 件待確認"

    # A reload shows the lock screen, not the data; the password opens the inbox again.
    page.reload()
    assert "/unlock" in page.url
    assert SUBJECT not in page.content()
    # The lock screen alerts too: the count, and a new dispatch notifies without its subject.
    wait_for(page, "a.locked && a.count === 2 && a.notifications.length === 2")
    assert page.title().startswith("(2) 畫面已鎖定")
    clerk.post("/visits", {**NEW_VISIT, "subject": "低收入戶申請", "agency": "social-welfare"})
    wait_for(page, "a.count === 3 && a.notifications.length === 3")
    last = hook(page)["notifications"][-1]
    assert "低收入戶申請" not in last["body"] and "畫面已鎖定" in last["body"]
    assert page.locator("[data-lock-count]").inner_text() == "3 件待確認"
    page.locator("#unlock-password").fill("wrong-password")
    page.get_by_role("button", name="解除鎖定").click()
    assert "密碼錯誤" in page.locator(".flash-error").inner_text()
    page.locator("#unlock-password").fill(TEST_PASSWORD)
    page.get_by_role("button", name="解除鎖定").click()
    page.wait_for_url("**/agency/")
    assert SUBJECT in page.content() and "身障手冊換發" in page.content()
    assert "低收入戶申請" in page.content()
    assert errors == []


def test_the_board_shows_whether_the_agencys_inbox_is_open(
    new_page, create_user, api_as, live_server, frozen_clock
):
    create_user(role="clerk", username="counter1", name="陳櫃台")
    create_user(role="agency", agency="social-welfare", username="sw1", name="林社工")
    clerk = api_as("clerk", name="陳櫃台")
    social = clerk.post("/visits", {**NEW_VISIT, "agency": "social-welfare"}).get_json()
    labor = clerk.post("/visits", {**NEW_VISIT, "agency": "labor"}).get_json()
    inbox, _errors = open_inbox(new_page, live_server)

    board = new_page()
    browser_login(board, "counter1")
    board.goto("/desk/board")
    state = board.locator(f'.live-item[data-id="{social["dispatch"]["id"]}"] [data-field=inbox]')
    other = board.locator(f'.live-item[data-id="{labor["dispatch"]["id"]}"] [data-field=inbox]')
    assert state.inner_text() == "收件匣開啟中"
    assert other.inner_text() == "收件匣未開啟，請以電話通知"
    screenshot(board, "alerts-board-inbox-open")

    inbox.close()  # the agency closes its inbox; 11 s later the board says so by itself
    clock.advance(seconds=11)
    state.filter(has_text="收件匣未開啟").wait_for(timeout=5_000)
    assert "is-closed" in state.get_attribute("class")
