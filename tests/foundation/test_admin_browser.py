"""Administration and notifications in a real browser: an admin adds a user who then signs in,
a supervisor sets next year's target, an agency user reads and clears a notification."""

import pytest
import sqlalchemy as sa

from jobs.relay import relay
from models.core import audit, clock, db
from models.core.outbox import Channel, Notification, enqueue
from models.reference import YearTarget
from models.users import FREE_FAILURES, sign_in_wait
from tests.conftest import PHONE, browser_login, screenshot

pytestmark = pytest.mark.browser


def test_admin_adds_a_user_who_then_signs_in(new_page, create_user):
    create_user(role="admin", username="root2")
    page = new_page()
    browser_login(page, "root2")
    page.goto("/admin/users")
    page.get_by_role("link", name="新增使用者").click()
    page.get_by_label("帳號").fill("newclerk")
    page.get_by_label("姓名").fill("新櫃台")
    page.get_by_label("角色").select_option("clerk")
    page.get_by_label("密碼").fill("a-long-password-1")
    page.locator("main form [type=submit]").click()
    page.wait_for_url("**/admin/users")
    assert "已新增使用者 newclerk" in page.locator(".flashes").inner_text()
    screenshot(page, "admin-users-added")
    other = new_page()
    browser_login(other, "newclerk", "a-long-password-1")
    assert other.locator("h1").inner_text() == "新櫃台，您好"


def test_admin_lets_a_slowed_down_owner_sign_in_again(app, new_page, create_user, frozen_clock):
    """Someone elsewhere guessed at 陳櫃台's password: her sign-ins wait; the admin, at the
    counter, clears that and she signs in at once."""
    create_user(role="admin", username="root3")
    owner = create_user(role="clerk", username="chen", name="陳櫃台")
    guesser = app.test_client()
    for _ in range(FREE_FAILURES + 3):
        clock.advance(seconds=sign_in_wait("chen", "203.0.113.9"))
        guesser.post(
            "/login",
            data={"username": "chen", "password": "wrong-guess"},
            environ_base={"REMOTE_ADDR": "203.0.113.9"},
        )
    assert sign_in_wait("chen", "127.0.0.1") == 8  # her own address waits too

    admin = new_page(viewport=PHONE)
    browser_login(admin, "root3")
    admin.goto("/admin/users")
    assert "登入已延緩" in admin.locator("tr", has_text="chen").inner_text()
    admin.goto(f"/admin/users/{owner.id}")
    admin.get_by_role("button", name="清除登入失敗紀錄").click()
    assert "已清除 chen 的登入失敗紀錄" in admin.locator(".flashes").inner_text()
    screenshot(admin, "admin-user-unthrottled-phone")

    browser_login(new_page(), "chen")  # at once: the clock has not moved


def test_supervisor_sets_next_years_target(new_page, create_user):
    create_user(role="supervisor", username="chief2")
    page = new_page()
    browser_login(page, "chief2")
    page.goto("/admin/settings")
    page.get_by_label("年度（民國或西元）").fill("116")  # an ROC year: 2027
    page.get_by_label("準時到場目標值（%）").fill("88.5")
    page.get_by_role("button", name="儲存目標值").click()
    page.wait_for_url("**/admin/settings")
    assert "116年度（2027）" in page.locator("main").inner_text()
    assert "88.50%" in page.locator("main").inner_text()
    assert db.session.get(YearTarget, 2027).dispatch_target == 88.5


def test_agency_user_reads_a_notification(app, new_page, create_user):
    user = create_user(role="agency", agency="social-welfare", username="sw2")
    with audit.acting_as(audit.Actor(None, "test")):
        enqueue(
            "test:1:notified",
            "facility.overdue",
            Channel.IN_APP,
            f"user:{user.id}",
            {"title": "測試通知：請處理", "title_en": "Test notice", "path": "/"},
            user_id=user.id,
        )
        db.session.commit()
    relay(app)  # the outbox relay delivers it in-app, as the scheduler would
    page = new_page()
    browser_login(page, "sw2")
    assert page.locator(".unread-count").first.inner_text().startswith("1")
    page.get_by_role("link", name="通知").first.click()
    assert "測試通知：請處理" in page.locator("main").inner_text()
    screenshot(page, "notifications-unread")
    page.get_by_role("button", name="標為已讀").first.click()
    page.wait_for_load_state()
    assert page.locator(".unread-count").count() == 0
    read_at = db.session.scalar(sa.select(Notification.read_at))
    assert read_at is not None
