"""The escalation ladder page in a real browser, in Chinese: a supervisor on a 360-px phone is
told why a reminder cannot be saved, saves the default ladder and gives an agency its own, and
the page fits the phone; the same page on a 1280-px screen. Screenshots in test-artifacts/."""

import re

import pytest

from models.core import db
from models.dispatch.ladder import Rungs, default_version, override_for
from models.reference import agency_by_code
from tests.conftest import browser_login, screenshot

pytestmark = pytest.mark.browser

PHONE_360 = {"width": 360, "height": 740}
WIDE = {"width": 1280, "height": 900}


def _fits(page, width: int) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= width


def test_a_supervisor_keeps_the_ladder_on_a_phone(new_page, create_user):
    create_user(role="supervisor", username="ladder-chief", name="林科長")
    page = new_page(viewport=PHONE_360)
    browser_login(page, "ladder-chief")
    page.goto("/admin/escalation")
    assert page.locator("h1").inner_text() == "逾時升級程序"

    default = page.locator("#default")
    default.get_by_label("提醒機關（期限前分鐘數）").fill("10")  # the whole time limit
    default.get_by_label("重複提醒間隔（分鐘）").fill("2")
    default.get_by_role("button", name="儲存預設程序").click()
    error = page.locator("#default-reminder_minutes-error")
    assert "到場時限為 10 分鐘" in error.inner_text()
    _fits(page, 360)
    screenshot(page, "escalation-ladder-error-360")

    page.locator("#default").get_by_label("提醒機關（期限前分鐘數）").fill("5")
    page.locator("#default").get_by_role("button", name="儲存預設程序").click()
    assert "已儲存預設程序（第 1 版）" in page.locator(".flashes").inner_text()

    own = page.locator("#override")
    own.get_by_label(re.compile(r"^機關[\s\u2060*]*$")).select_option(label="勞動局")
    own.get_by_label("提醒機關（期限前分鐘數）").fill("4")
    own.get_by_label("重複提醒間隔（分鐘）").fill("1")
    own.get_by_role("button", name="儲存機關專屬程序").click()
    assert "已儲存勞動局專屬程序（第 2 版）" in page.locator(".flashes").inner_text()
    row = page.locator("#overrides tbody tr", has_text="勞動局")
    assert "期限前 4 分鐘" in row.inner_text() and "每 1 分鐘" in row.inner_text()
    _fits(page, 360)
    screenshot(page, "escalation-ladder-360")

    db.session.expire_all()
    assert default_version().rungs == Rungs(300, 120, True, 300)
    assert override_for(agency_by_code("labor").id).rungs == Rungs(240, 60, True, 300)

    wide = new_page(viewport=WIDE)
    browser_login(wide, "ladder-chief")
    wide.goto("/admin/escalation")
    _fits(wide, 1280)
    screenshot(wide, "escalation-ladder-1280")
