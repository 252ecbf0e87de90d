"""A supervisor reads the audit trail in a real browser (issue 15): filters it to the ticket
verifications with the form, reads the entry in words, follows its link to the ticket, and the
page fits a 360-px phone."""

import re

from tests.conftest import browser_login, screenshot
from tests.facility.support import move, new_ticket, to_fixed

PHONE_360 = {"width": 360, "height": 780}
DESKTOP_1280 = {"width": 1280, "height": 900}


def _verified_ticket(create_user):
    people = {
        "clerk": create_user(role="clerk", username="clerk-a", name="陳專員"),
        "tech": create_user(role="facility", username="tech-a", name="林技士"),
        "boss": create_user(role="supervisor", username="boss-w", name="王股長"),
    }
    defect = to_fixed(new_ticket(people["clerk"]), people)
    move(defect, people["boss"], "verify")
    return defect


def test_a_supervisor_finds_the_ticket_verification_and_opens_the_ticket(new_page, create_user):
    defect = _verified_ticket(create_user)
    page = new_page(viewport=DESKTOP_1280)
    browser_login(page, "boss-w")
    page.goto("/admin/audit")
    page.locator("#f-action").select_option(label="驗收報修單")
    page.get_by_role("button", name="篩選").click()
    page.wait_for_url(re.compile(r"action=defect\.verify"))
    rows = page.locator("table.audit tbody tr")
    assert rows.count() == 1
    row = rows.first
    assert "王股長" in row.inner_text() and "驗收報修單" in row.inner_text()
    assert "→" in row.locator("td[data-label='變更內容']").inner_text()
    screenshot(page, "audit/zh-1280")
    row.get_by_role("link", name=f"報修單 #{defect.id}").click()
    page.wait_for_url(f"**/facility/tickets/{defect.id}")

    phone = new_page(viewport=PHONE_360)
    browser_login(phone, "boss-w")
    phone.goto("/admin/audit")
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE_360["width"], width
    screenshot(phone, "audit/zh-360")
