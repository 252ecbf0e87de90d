"""The yearly report prints cleanly on A4 (issue 15): in a real Chromium, with print media, no
navigation, header, menus, buttons or forms; nothing wider than the A4 page; table rows not cut
across pages and the table header repeated; the PDF is a few pages holding the published
narrative whole."""

import io

from pypdf import PdfReader

from tests.conftest import browser_login, screenshot
from tests.reports.printing import pdf_text, plain

A4_CONTENT_PX = 703  # 210 mm less the 12 mm margins each side, at 96 px per inch

PRINT_STATE = """() => {
  const shown = (el) => el && getComputedStyle(el).display !== 'none';
  const visible = (sel) => [...document.querySelectorAll(sel)].filter((el) => {
    for (let e = el; e; e = e.parentElement) {
      if (getComputedStyle(e).display === 'none') return false;
    }
    return true;
  }).length;
  const wide = [...document.querySelectorAll('main *')].filter(
    (el) => el.getBoundingClientRect().right > window.innerWidth + 1).map((el) => el.tagName);
  const table = document.querySelector('table.report-table');
  return {
    header: shown(document.querySelector('.site-header')),
    navs: visible('nav'), forms: visible('form'), buttons: visible('button, .button'),
    scrollWidth: document.documentElement.scrollWidth,
    wide: wide.slice(0, 5),
    thead: getComputedStyle(table.querySelector('thead')).display,
    rowBreak: getComputedStyle(table.querySelector('tbody tr')).breakInside,
  };
}"""


def test_the_report_prints_on_a4_without_navigation_or_overflow(new_page, published):
    page = new_page(viewport={"width": A4_CONTENT_PX, "height": 1000})
    browser_login(page, "chief")
    page.goto("/reports/2023")
    page.emulate_media(media="print")
    state = page.evaluate(PRINT_STATE)
    assert state["header"] is False
    assert (state["navs"], state["forms"], state["buttons"]) == (0, 0, 0)
    assert state["scrollWidth"] <= A4_CONTENT_PX and state["wide"] == [], state
    assert state["thead"] == "table-header-group" and state["rowBreak"] == "avoid"
    screenshot(page, "reports/print-2023")

    pdf = PdfReader(io.BytesIO(page.pdf(format="A4", print_background=True)))
    text = pdf_text(pdf)
    assert 1 <= len(pdf.pages) <= 8, len(pdf.pages)
    assert plain("112年度民眾臨櫃陳情，經本處通知主管機關派員到場服務案件共計59件。") in text
    assert "登出" not in text and "稽核軌跡" not in text  # no header, no menu
    assert "Excel" not in text and "列印" not in text  # no buttons
