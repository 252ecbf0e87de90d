"""A first start shows what CityDesk is for: on the demo that `citydesk serve --demo` makes
(`demo.load_demo`), a supervisor signs in with the demo password in a real browser and reads
the published year, 112年度 (2023), as the Secretariat published it, word for word."""

import re

import pytest

from demo import load_demo
from models.core import audit, db
from tests.conftest import browser_login, screenshot

pytestmark = pytest.mark.browser

PUBLISHED_1 = (
    "112年度民眾臨櫃陳情，經本處通知主管機關派員到場服務案件共計59件。"
    "其中計有8件超過10分鐘到場，年度達成率為86.44%，已達112年度訂定之85%目標值。"
)
PUBLISHED_2 = (
    "112年度缺失案件並完成改善總計198件(淨空走道95件、設施正常48件、環境整潔38件、天地無虞17件)。"
)


@pytest.fixture
def demo_passwords():
    """The demo, made by the same code as `citydesk serve --demo`, on today's clock."""
    with audit.acting_as(audit.CLI):
        passwords = load_demo()
        db.session.commit()
    return passwords


def _tile(page, name: str) -> str:
    dt = page.locator("dt", has_text=re.compile(f"^{name}$"))
    return page.locator(".figure-tile", has=dt).first.locator("dd").inner_text()


def test_a_supervisor_reads_the_published_year_on_the_demo(new_page, demo_passwords):
    page = new_page()
    browser_login(page, "supervisor", demo_passwords["supervisor"])
    page.goto("/reports/2023")
    assert "112年度（2023）" in page.locator("h1").inner_text()
    sentences = page.locator(".narrative .sentence")
    assert sentences.count() == 2
    assert sentences.nth(0).inner_text() == PUBLISHED_1
    assert sentences.nth(1).inner_text() == PUBLISHED_2
    headline = page.locator(".figure-tile.headline").inner_text()
    assert "86.44%" in headline and "已達目標" in headline
    assert _tile(page, "計入件數") == "59"
    assert _tile(page, "逾時") == "8"
    assert _tile(page, "目標值（%）").startswith("85%")
    assert "沿用" not in _tile(page, "目標值（%）")  # 2023 has a target of its own
    assert _tile(page, "完成改善") == "198"
    screenshot(page, "demo-report-2023-zh-1280")
    page.set_viewport_size({"width": 360, "height": 780})
    page.reload()
    assert page.locator(".narrative .sentence").nth(0).inner_text() == PUBLISHED_1
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, f"the page is {width}px wide on a 360px screen"
    screenshot(page, "demo-report-2023-zh-360")

    # This year's target is carried over from 2024's, and the scorecard says so too.
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto("/reports")
    assert "沿用113年度目標87%" in page.locator("main").inner_text()
    page.goto("/agency/scorecard")
    assert "沿用113年度目標87%" in page.locator("main").inner_text()
    screenshot(page, "demo-scorecard-zh-1280")
    phone = new_page(viewport={"width": 360, "height": 780})
    browser_login(phone, "supervisor", demo_passwords["supervisor"])
    phone.goto("/agency/scorecard?year=2023")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 360
    screenshot(phone, "demo-scorecard-2023-zh-360")

    # The audit trail reads a ticket verification in words, with the ticket as a link.
    page.goto("/admin/audit")
    page.locator("#f-action").select_option(label="驗收報修單")
    page.get_by_role("button", name="篩選").click()
    page.wait_for_url(re.compile(r"action=defect\.verify"))
    entry = page.locator("table.audit tbody tr").first
    text = entry.inner_text()
    assert "驗收報修單" in text and "defect.verify" not in text
    assert "\\u" not in text and "{" not in text  # no JSON, no escapes
    assert "→" in entry.locator("td[data-label='變更內容']").inner_text()
    assert re.search(r"\d{3}/\d{2}/\d{2}", text)  # an ROC date
    link = entry.get_by_role("link", name=re.compile(r"^報修單 #\d+$"))
    ticket = link.inner_text().split("#")[1]
    screenshot(page, "demo-audit-verify-zh-1280")
    link.click()
    page.wait_for_url(f"**/facility/tickets/{ticket}")
