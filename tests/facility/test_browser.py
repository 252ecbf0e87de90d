"""Facility in a real browser at a phone-sized viewport: a repair report from filing to
verification, and an inspection round with one finding and three "no defect" checks."""

import re

import pytest
from sqlalchemy import select

from models import facility as fac
from models.core import db
from tests.conftest import PHONE, browser_login, screenshot

pytestmark = pytest.mark.browser


def test_repair_report_from_filing_to_verification(new_page, create_user, photos):
    create_user(role="clerk", username="reporter1", name="陳櫃台")
    create_user(role="facility", username="tech1", name="黃機電")
    create_user(role="supervisor", username="boss1", name="李股長")
    before, after = photos

    # a clerk files a report from the QR poster's link, with a photo
    page = new_page(viewport=PHONE)
    browser_login(page, "reporter1")
    page.goto("/facility/report?zone=northeast&floor=3F")
    assert page.locator("#zone").input_value() == "northeast"
    assert page.locator("#floor").input_value() == "3F"
    page.get_by_label("淨空走道").check()
    page.get_by_label("詳細位置").fill("東側逃生梯 3 樓平台")
    page.get_by_label("發生什麼問題？").fill("逃生梯平台堆放紙箱，擋住通道")
    page.locator("#photos").set_input_files(str(before))
    screenshot(page, "facility-report-form-phone")
    page.get_by_role("button", name="送出報修").click()
    page.wait_for_url(re.compile(r"/facility/tickets/\d+$"))
    assert "已建立報修案件" in page.locator(".flash-success").inner_text()
    ticket_url = page.url
    assert page.locator(".ticket-facts .photo-list img").count() == 1
    screenshot(page, "facility-ticket-reported-phone")

    # facility staff take it, start, and close it with an after photo
    staff = new_page(viewport=PHONE)
    browser_login(staff, "tech1")
    staff.goto(ticket_url)
    staff.get_by_role("button", name="指派給我").click()
    assert "已指派給 黃機電" in staff.locator(".flash-success").inner_text()
    staff.get_by_role("button", name="開始處理").click()
    assert "開始處理" in staff.locator(".flash-success").inner_text()
    staff.get_by_label("處理說明").fill("紙箱已移至地下室倉庫，通道淨空")
    staff.locator("#fix-photos").set_input_files(str(after))
    screenshot(staff, "facility-ticket-fix-phone")
    staff.get_by_role("button", name="完成修復").click()
    assert "已完成修復" in staff.locator(".flash-success").inner_text()
    assert staff.get_by_role("button", name="驗收").count() == 0  # not the fixer's to verify

    # a supervisor verifies
    boss = new_page(viewport=PHONE)
    browser_login(boss, "boss1")
    boss.goto(ticket_url)
    boss.get_by_role("button", name="驗收").click()
    assert "已驗收並結案" in boss.locator(".flash-success").inner_text()
    assert boss.locator(".ticket-title .badge").first.inner_text() == "已驗收"

    # the timeline shows each step, who made it
    steps = boss.locator(".timeline .event")
    assert steps.count() == 5
    heads = [steps.nth(i).locator(".event-head strong").inner_text() for i in range(5)]
    assert heads == ["已報修", "已指派", "開始處理", "已修復", "已驗收"]
    who = [steps.nth(i).locator(".event-meta").inner_text() for i in range(5)]
    assert [w.split(" · ")[-1] for w in who] == ["陳櫃台", "黃機電", "黃機電", "黃機電", "李股長"]
    assert "紙箱已移至地下室倉庫" in steps.nth(3).inner_text()
    assert boss.locator(".ticket-facts .photo-list img").count() == 2  # before kept, after added
    screenshot(boss, "facility-ticket-verified-timeline-phone")

    # the reporter sees it closed in their list
    page.goto("/facility/mine")
    assert "已驗收" in page.locator(".ticket-list").inner_text()
    screenshot(page, "facility-my-reports-phone")


def test_inspector_completes_a_round_with_one_finding(new_page, create_user, photos):
    create_user(role="facility", username="inspector1", name="黃機電")
    before, _after = photos
    page = new_page(viewport=PHONE)
    browser_login(page, "inspector1")
    page.goto("/facility/rounds")
    screenshot(page, "facility-rounds-phone")
    page.get_by_role("link", name="開始巡檢 東北區").click()
    assert page.locator("#zone").input_value() == "northeast"
    page.get_by_role("button", name="全不選").click()
    page.get_by_label("3F", exact=True).check()
    page.get_by_role("button", name="開始巡檢").click()
    page.wait_for_url(re.compile(r"/facility/rounds/\d+"))
    assert page.locator("#floor-title-3F").inner_text() == "3F 樓層"

    for category in ("淨空走道", "環境整潔", "天地無虞"):
        page.get_by_role("button", name=f"無缺失 {category}").click()
    page.get_by_role("link", name="登錄缺失 設施正常").click()  # a dialog on the round page
    page.get_by_label("詳細位置").fill("3 樓東側電梯廳")
    page.get_by_label("發生什麼問題？").fill("緊急照明燈不亮")
    page.locator("#photos").set_input_files(str(before))
    screenshot(page, "facility-round-finding-phone")
    page.get_by_role("button", name="儲存缺失").click()
    page.locator("#check-3F-facility.check-defects:not(.check-pending)").wait_for()  # sent
    assert page.locator(".check-ok").count() == 3
    assert page.locator(".check-defects").count() == 1
    screenshot(page, "facility-round-floor-done-phone")
    page.get_by_role("button", name="完成巡檢").click()
    page.wait_for_url(re.compile(r"/facility/rounds$"))
    assert "巡檢完成：東北區，發現 1 項缺失" in page.locator(".flash-success").inner_text()
    screenshot(page, "facility-round-finished-phone")

    db.session.expire_all()
    inspection = db.session.scalar(select(fac.InspectionRound))
    assert inspection.is_finished and inspection.floor_codes == ["3F"]
    results = sorted(c.result for c in inspection.checks)
    assert results == ["defects", "ok", "ok", "ok"]
    [finding] = fac.round_findings(inspection)
    assert finding.category.code == "facility" and finding.source == "inspection"


def test_building_grid_and_ticket_list_on_a_phone(new_page, create_user, photos):
    from tests.facility.support import new_ticket

    clerk = create_user(role="clerk", username="reporter2")
    create_user(role="supervisor", username="boss2")
    new_ticket(clerk, zone="southwest", floor="5F", category="corridor")
    new_ticket(clerk, zone="central-north", floor="B1", category="cleanliness")
    page = new_page(viewport=PHONE)
    browser_login(page, "boss2")
    page.goto("/facility/grid")
    screenshot(page, "facility-grid-phone")
    page.get_by_role("link", name=re.compile("西南區 5F")).click()
    page.wait_for_url(re.compile(r"/facility/tickets\?"))
    assert page.locator(".ticket-card").count() == 1
    screenshot(page, "facility-tickets-filtered-phone")


def test_duplicate_hint_offers_the_open_ticket(new_page, create_user):
    from tests.facility.support import new_ticket

    first = create_user(role="clerk", username="reporter3")
    create_user(role="agency", username="visitor3", name="林社工")
    ticket = new_ticket(first, category="corridor", zone="northeast", floor="3F")
    page = new_page(viewport=PHONE)
    browser_login(page, "visitor3")
    page.goto("/facility/report?zone=northeast&floor=3F")
    assert page.locator("#similar").is_hidden()
    page.get_by_label("淨空走道").check()
    hint = page.locator("#similar")
    hint.wait_for(state="visible")
    assert "此處已有人報修且尚未結案" in hint.inner_text()
    page.get_by_label("發生什麼問題？").fill("紙箱還在")
    screenshot(page, "facility-report-duplicate-hint-phone")
    page.get_by_role("button", name=f"將我的報修併入 #{ticket.id}").click()
    page.wait_for_url(re.compile(rf"/facility/tickets/{ticket.id}$"))
    assert "已併入案件" in page.locator(".flash-success").inner_text()
    assert "其他人再次報修" in page.locator(".timeline").inner_text()
    # another category at the same place: no hint
    page.goto("/facility/report?zone=northeast&floor=3F")
    page.get_by_label("設施正常").check()
    page.wait_for_load_state("networkidle")
    assert page.locator("#similar").is_hidden()
