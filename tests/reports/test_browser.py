"""The yearly report in a real browser: open it, follow a figure to its records, download the
XLSX and check it holds the same numbers."""

import re

import pytest
from openpyxl import load_workbook

from tests.conftest import ARTIFACTS, PHONE, browser_login, screenshot

pytestmark = pytest.mark.browser


def test_report_page_figure_to_records_and_xlsx(new_page, published, tmp_path):
    page = new_page()
    browser_login(page, "chief")
    page.get_by_role("link", name="年度報告").first.click()
    page.wait_for_url(re.compile(r"/reports/2024$"))
    assert page.locator("#year").input_value() == "113"  # the year shown as ROC
    page.locator("#year").fill("112")  # typed as ROC, like 2023
    page.get_by_role("button", name="查詢").click()
    page.wait_for_url(re.compile(r"/reports/2023$"))
    assert page.locator("#year").input_value() == "112"
    assert "112年度（2023）" in page.locator("h1").inner_text()
    narrative = page.locator(".narrative .sentence")
    assert narrative.nth(0).inner_text() == (
        "112年度民眾臨櫃陳情，經本處通知主管機關派員到場服務案件共計59件。"
        "其中計有8件超過10分鐘到場，年度達成率為86.44%，已達112年度訂定之85%目標值。"
    )
    assert "淨空走道95件、設施正常48件、環境整潔38件、天地無虞17件" in narrative.nth(1).inner_text()
    headline = page.locator(".figure-tile.headline")
    assert "86.44%" in headline.inner_text() and "已達目標" in headline.inner_text()
    counted = page.locator(".figure-tile", has_text="計入件數").get_by_role("link")
    late = page.locator(".figure-tile", has=page.locator("dt", has_text=re.compile("^逾時$")))
    assert counted.inner_text() == "59" and late.get_by_role("link").inner_text() == "8"
    screenshot(page, "report-2023-zh")
    page.locator("figure.chart").first.screenshot(path=str(ARTIFACTS / "report-2023-chart.png"))
    page.screenshot(path=str(ARTIFACTS / "report-2023-top.png"))

    # Follow a figure: the late dispatches of March.
    march_late = page.locator('a[href="/reports/2023/dispatches?outcome=late&month=3"]')
    assert march_late.inner_text() == "1"
    march_late.click()
    page.wait_for_url(re.compile(r"/reports/2023/dispatches\?outcome=late&month=3"))
    assert page.locator(".evidence-count").inner_text() == "1"
    rows = page.locator("table.evidence tbody tr")
    assert rows.count() == 1 and "逾時" in rows.first.inner_text()
    screenshot(page, "report-2023-late-march")
    page.go_back()

    # Another figure: the fixed ceiling/floor defects (17).
    page.locator(
        'a[href="/reports/2023/defects?status=fixed&category=ceiling_floor"]'
    ).first.click()
    assert page.locator(".evidence-count").inner_text() == "17"
    assert page.locator("table.evidence tbody tr").count() == 17
    page.go_back()

    # The XLSX download holds the same numbers as the page.
    with page.expect_download() as info:
        page.get_by_role("link", name="Excel（XLSX）").click()
    download = info.value
    assert download.suggested_filename == "citydesk-report-2023.xlsx"
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    book = load_workbook(saved)
    summary = {row[0]: row[1] for row in book["摘要"].iter_rows(values_only=True) if row}
    assert summary["計入件數"] == 59
    assert summary["準時"] == 51
    assert summary["逾時"] == 8
    assert summary["準時達成率（%）"] == 86.44
    assert summary["目標值（%）"] == 85
    assert summary["完成改善"] == 198
    categories = list(book["各類別缺失"].iter_rows(values_only=True))[1:]
    assert [(r[0], r[3]) for r in categories] == [
        ("corridor", 95),
        ("facility", 48),
        ("cleanliness", 38),
        ("ceiling_floor", 17),
    ]
    months = {r[0]: r for r in list(book["各月份"].iter_rows(values_only=True))[1:]}
    assert months[3][3] == 1  # one late in March, as on the page
    assert book["派員案件（原始紀錄）"].max_row == 60  # header + 59 dispatches


def test_report_prints_on_a4_and_fits_a_phone(new_page, published):
    page = new_page(viewport=PHONE)
    browser_login(page, "chief")
    page.goto("/reports/2023")
    assert page.locator("svg.chart-svg").count() == 2
    screenshot(page, "report-2023-phone")
    page.emulate_media(media="print")
    assert page.locator(".downloads").is_hidden() and page.locator(".site-header").is_hidden()
    page.set_viewport_size({"width": 794, "height": 1123})  # A4 at 96 dpi
    screenshot(page, "report-2023-print")


def test_closing_a_year_in_the_browser_then_a_restatement(new_page, published):
    from sqlalchemy import select

    from models.core import db
    from models.dispatch import Dispatch

    page = new_page()
    browser_login(page, "chief")
    page.goto("/reports/2023")
    page.get_by_role("button", name="關帳並凍結本年度數字").click()  # a real form, CSRF on
    page.wait_for_load_state()
    assert "2023 年已關帳，數字已凍結。" in page.locator(".flashes").inner_text()
    assert "關帳後數字均無變動。" in page.locator(".period-closed").inner_text()

    # A corrected record of the closed year: an on-time arrival was in fact 15 minutes late.
    row = db.session.scalars(
        select(Dispatch).where(Dispatch.arrived_at <= Dispatch.deadline_at).limit(1)
    ).one()
    row.arrived_at = row.notified_at.replace() + (row.deadline_at - row.notified_at) * 1.5
    db.session.commit()
    page.reload()
    restated = page.locator(".restatement")
    assert restated.is_visible()
    assert "派員案件 · 逾時" in restated.inner_text() and "84.75" in restated.inner_text()
    assert "86.44%" in page.locator(".figure-tile.headline").inner_text()  # frozen figure
    assert "已達" in restated.inner_text() and "True" not in restated.inner_text()
    screenshot(page, "report-2023-closed-restated")
    restated.screenshot(path=str(ARTIFACTS / "report-2023-restatement.png"))


def test_importing_records_on_the_admin_page(new_page, frozen_clock, create_user, tmp_path):
    create_user(role="admin", username="root2")
    bad = tmp_path / "bad.csv"
    bad.write_bytes(
        "reference,agency,notified_at,outcome,arrived_at\r\n"
        "112-1,社會局,2023-03-05 14:03,arrived,2023-03-05 14:09\r\n"
        "112-2,不存在局,2023-03-05 14:03,arrived,2023-03-05 13:00\r\n".encode("utf-8-sig")
    )
    good = tmp_path / "good.csv"
    good.write_bytes(
        bad.read_bytes().replace("不存在局".encode(), "衛生局".encode()).replace(b"13:00", b"14:20")
    )
    page = new_page()
    browser_login(page, "root2")
    page.goto("/admin/import")
    page.locator("#file").set_input_files(str(bad))
    page.get_by_role("button", name="檢查檔案").click()
    page.wait_for_load_state()
    problems = page.locator("table.problems tbody tr")
    assert problems.count() == 2
    assert "未知的機關「不存在局」" in problems.nth(0).inner_text()
    assert problems.nth(1).inner_text().startswith("3")
    screenshot(page, "import-problems")
    page.locator("#file").set_input_files(str(good))
    page.get_by_role("button", name="檢查檔案").click()
    page.wait_for_load_state()
    assert "將新增 2 筆" in page.locator(".import-result").inner_text()
    page.get_by_role("button", name="匯入", exact=True).click()
    page.wait_for_load_state()
    assert "讀取 2 列：新增 2 筆，略過 0 筆" in page.locator(".flashes").inner_text()
    screenshot(page, "import-done")
