"""Forms people do not fight, in a real browser (issue 15): an error shown at its field and
gone as soon as the field is corrected, a panel that stays open with its error, the agency
field's suggestions as one types, and a year typed as ROC."""

import re
from datetime import datetime

import pytest
from sqlalchemy import select

from models.core import clock, db
from models.dispatch import Dispatch
from tests.conftest import browser_login, screenshot

pytestmark = pytest.mark.browser

NARROW = {"width": 360, "height": 780}
WIDE = {"width": 1280, "height": 900}


def watch_errors(page) -> list[str]:
    """JavaScript errors and console errors (a CSP violation shows up there); a form sent
    back with its errors (422) is what these tests ask for, not an error of the page."""
    errors: list[str] = []

    def console(msg):
        if msg.type == "error" and "status of 422" not in msg.text:
            errors.append(msg.text)

    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", console)
    return errors


def below(page, field: str, error: str) -> float:
    """How far under the field its error starts, in pixels (negative: above it)."""
    box = page.locator(field).bounding_box()
    message = page.locator(error).bounding_box()
    assert message["x"] < box["x"] + box["width"]  # in the field's column
    return message["y"] - (box["y"] + box["height"])


@pytest.mark.parametrize("viewport", [NARROW, WIDE], ids=["360", "1280"])
def test_field_errors_appear_at_the_field_and_clear_as_soon_as_it_is_corrected(
    new_page, create_user, viewport
):
    create_user(role="clerk", username="counter1", name="陳櫃台")
    page = new_page(viewport=viewport)
    errors = watch_errors(page)
    browser_login(page, "counter1")
    page.goto("/desk/visits/new")
    assert page.evaluate("document.activeElement.id") == "subject"  # the cursor is in 案由
    label = page.locator("label[for=subject]")
    star = label.locator(".required")
    assert star.inner_text() == "*"
    # the * stays on the label's line
    assert abs(star.bounding_box()["y"] - label.bounding_box()["y"]) < 4

    page.get_by_role("button", name="通知機關").click()  # nothing typed
    subject = page.locator("#subject")
    error = page.locator("#subject-error")
    assert error.is_visible() and error.inner_text().strip()
    assert subject.get_attribute("aria-invalid") == "true"
    assert "subject-error" in subject.get_attribute("aria-describedby").split()
    assert 0 <= below(page, "#subject", "#subject-error") < 24  # right under the field
    assert page.locator(".error-summary li").count() == 1
    screenshot(page, f"forms-error-at-field-{viewport['width']}")

    subject.click()
    page.keyboard.type("補發權狀")  # the first keystroke corrects it
    assert page.locator("#subject-error").count() == 0
    assert subject.get_attribute("aria-invalid") is None
    assert subject.get_attribute("aria-describedby") in (None, "")
    assert page.locator(".has-error").count() == 0
    assert page.locator(".error-summary").is_hidden()  # its only line pointed here
    subject.fill("")  # emptied again: the server's word stands until it is sent again
    assert page.locator("#subject-error").count() == 0

    # A panel on the dispatch page stays open with its error, which clears the same way.
    subject.fill("補發權狀")
    page.locator("#agency").fill("地政局")
    page.keyboard.press("Escape")
    page.get_by_role("button", name="通知機關").click()
    page.wait_for_url("**/desk/dispatches/*")
    panel = page.locator("details", has=page.locator("textarea#reason"))
    panel.locator("summary").click()
    panel.get_by_role("button", name="取消派員").click()  # no reason given
    page.wait_for_load_state()
    panel = page.locator("details", has=page.locator("textarea#reason"))
    assert panel.get_attribute("open") is not None
    assert page.locator("#reason-error").is_visible()
    assert page.locator("details", has=page.locator("#agency")).get_attribute("open") is None
    screenshot(page, f"forms-cancel-panel-open-{viewport['width']}")
    page.locator("#reason").fill("民眾先行離開")
    assert page.locator("#reason-error").count() == 0
    assert not errors, errors


def test_the_agency_field_suggests_matches_marks_them_and_is_chosen_by_keyboard(
    new_page, create_user
):
    create_user(role="clerk", username="counter2", name="林櫃台")
    page = new_page(viewport=NARROW)
    errors = watch_errors(page)
    browser_login(page, "counter2")
    page.goto("/desk/visits/new")
    page.keyboard.type("申請地籍謄本")  # the cursor is in 案由
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "agency"
    page.evaluate("window.notReloaded = true")
    page.keyboard.type("地政")

    agency = page.locator("#agency")
    listbox = page.locator("#agency-options")
    assert agency.get_attribute("role") == "combobox"
    assert agency.get_attribute("aria-expanded") == "true"
    assert listbox.get_attribute("role") == "listbox" and listbox.is_visible()
    options = listbox.get_by_role("option")
    names = [n.strip() for n in options.locator(".combo-name").all_inner_texts()]
    assert "地政局" in names and "松山地政事務所" in names
    for name in ("地政局", "松山地政事務所"):  # what matched is marked in each
        option = options.filter(has=page.locator(".combo-name", has_text=name))
        assert option.locator(".combo-name mark").inner_text() == "地政"
    assert "個機關符合" in page.locator("#agency-matches").inner_text()
    box = listbox.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= NARROW["width"]  # fits 360 px
    screenshot(page, "forms-agency-suggestions-360")

    # Down to 松山地政事務所 with the arrow keys; Enter chooses it and sends nothing.
    target = names.index("松山地政事務所")
    for _ in range(target + 1):
        page.keyboard.press("ArrowDown")
    active = agency.get_attribute("aria-activedescendant")
    assert page.locator(f"#{active}").get_attribute("aria-selected") == "true"
    assert "松山地政事務所" in page.locator(f"#{active}").inner_text()
    page.keyboard.press("Enter")
    assert agency.input_value() == "松山地政事務所"
    assert listbox.is_hidden() and agency.get_attribute("aria-expanded") == "false"
    assert "/desk/visits/new" in page.url and page.evaluate("window.notReloaded") is True

    # A match on the English name or the code is marked there.
    agency.fill("")
    page.keyboard.type("songshan")
    other = listbox.get_by_role("option").first.locator(".combo-other mark")
    assert [m.lower() for m in other.all_inner_texts()] == ["songshan", "songshan"]
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    assert agency.input_value() == "松山地政事務所"

    page.keyboard.press("Enter")  # the next Enter notifies the agency
    page.wait_for_url("**/desk/dispatches/*")
    dispatch = db.session.scalar(select(Dispatch))
    assert dispatch.agency.code == "songshan-land-office"
    assert not errors, errors


def test_a_year_typed_as_roc_opens_that_years_report_shown_as_roc(new_page, create_user):
    clock.freeze(datetime(2026, 3, 4, 10, 0, tzinfo=clock.TAIPEI))
    try:
        create_user(role="supervisor", username="chief9", name="李主任")
        page = new_page(viewport=WIDE)
        errors = watch_errors(page)
        browser_login(page, "chief9")
        page.goto("/reports/2024")
        year = page.locator("#year")
        assert year.input_value() == "113"
        year.fill("115")
        page.get_by_role("button", name="查詢").click()
        page.wait_for_url(re.compile(r"/reports/2026$"))
        assert "115年度" in page.locator("h1").inner_text()
        assert page.locator("#year").input_value() == "115"
        screenshot(page, "forms-roc-year-1280")

        page.locator("#year").fill("2025")  # a Gregorian year is taken too
        page.get_by_role("button", name="查詢").click()
        page.wait_for_url(re.compile(r"/reports/2025$"))
        assert page.locator("#year").input_value() == "114"

        page.locator("#year").fill("十五")  # not a year: said at the field
        page.get_by_role("button", name="查詢").click()
        page.wait_for_load_state()
        error = page.locator("#year-error")
        assert "「十五」不是年份" in error.inner_text() and "115" in error.inner_text()
        assert page.locator("#year").get_attribute("aria-invalid") == "true"
        page.locator("#year").fill("116")  # next year has not started
        page.get_by_role("button", name="查詢").click()
        page.wait_for_load_state()
        assert page.locator("#year-error").is_visible()
        assert not errors, errors
    finally:
        clock.unfreeze()
