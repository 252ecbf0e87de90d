"""The agency scorecard in a real browser, in Chinese, on a 360-px phone and a 1280-px desk:
the agency reads its standing, follows a late dispatch, says why it was late, and sees the
reason counted; a supervisor picks another agency in the select."""

import re

import pytest

from tests.conftest import browser_login, screenshot
from tests.reports.test_scorecard import eight_late_of_59

pytestmark = pytest.mark.browser

PHONE_360 = {"width": 360, "height": 740}
DESK_1280 = {"width": 1280, "height": 900}


def fits(page, width: int) -> None:
    """Nothing wider than the screen: no sideways scrolling."""
    scroll = page.evaluate("() => document.documentElement.scrollWidth")
    assert scroll <= width, f"the page is {scroll} px wide on a {width}-px screen"


@pytest.mark.parametrize(("viewport", "name"), [(PHONE_360, "360"), (DESK_1280, "1280")])
def test_agency_scorecard_and_a_late_reason(new_page, in_2024, create_user, viewport, name):
    late = eight_late_of_59()
    create_user(role="agency", agency="social-welfare", username="sw-staff", name="張社工")
    page = new_page(viewport=viewport, locale="zh-TW")
    browser_login(page, "sw-staff")
    page.goto("/agency/scorecard")
    assert "績效卡" in page.locator("h1").inner_text()
    assert "社會局" in page.locator("h1").inner_text()
    assert page.locator('[data-field="rate"]').inner_text() == "86.44%"
    needed = page.locator('[data-field="needed"]').inner_text()
    assert "3" in needed and "87%" in needed
    assert page.locator("figure.chart svg").count() == 1
    fits(page, viewport["width"])
    screenshot(page, f"scorecard-agency-zh-{name}")

    # Follow the newest late dispatch and say why it was late.
    page.locator("table.late-list tbody tr").first.get_by_role("link").click()
    page.wait_for_url(re.compile(rf"/agency/dispatches/{late[-1].id}$"))
    assert "尚未填寫原因" in page.locator("section.late-reason").inner_text()
    page.locator("#reason").select_option("short_staffed")
    page.locator("#note").fill("兩位承辦人同時外勤")
    fits(page, viewport["width"])
    page.get_by_role("button", name="儲存原因").click()
    page.wait_for_url(re.compile(rf"/agency/dispatches/{late[-1].id}$"))
    assert "逾時原因已儲存" in page.locator("body").inner_text()
    assert page.locator('[data-field="late-reason"]').inner_text() == "人力不足"
    screenshot(page, f"scorecard-late-reason-zh-{name}")

    page.goto("/agency/scorecard")
    first = page.locator("table.late-list tbody tr").first.inner_text()
    assert "人力不足" in first and "兩位承辦人同時外勤" in first
    reasons = page.locator("section", has=page.locator("#reasons-title"))
    row = reasons.locator("tr", has_text="人力不足")
    assert row.locator("td").first.inner_text() == "1"
    fits(page, viewport["width"])
    screenshot(page, f"scorecard-agency-after-zh-{name}")


def test_supervisor_picks_an_agency(new_page, in_2024, create_user):
    eight_late_of_59("labor")
    create_user(role="supervisor", username="chief", name="李股長")
    page = new_page(viewport=DESK_1280, locale="zh-TW")
    browser_login(page, "chief")
    page.get_by_role("link", name="績效卡").first.click()
    page.wait_for_url(re.compile(r"/agency/scorecard$"))
    page.locator("#agency").select_option("labor")
    page.get_by_role("button", name="查詢").click()
    page.wait_for_url(re.compile(r"agency=labor"))
    assert "勞動局" in page.locator("h1").inner_text()
    assert page.locator('[data-field="late"]').inner_text() == "8"
    screenshot(page, "scorecard-supervisor-zh-1280")
