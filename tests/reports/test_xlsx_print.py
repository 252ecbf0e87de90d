"""The XLSX workbooks people open and print (issue 15), checked the way LibreOffice Calc prints
them: a few pages (not 25 mostly empty ones), every label and header whole (not cut at the
column's edge), the narrative whole, and each sheet set up for A4, fit to width, its header
row repeated."""

import io
import math

import pytest
from openpyxl import load_workbook

from models.reports import yearly_report
from tests.reports.printing import SOFFICE, pdf_text, plain, xlsx_to_pdf
from webapp.reports.export import to_xlsx

pytestmark = pytest.mark.skipif(
    SOFFICE is None, reason="LibreOffice (libreoffice-calc-nogui) is not installed; .ci/run does"
)
ROWS_PER_PAGE = 40  # a raw-record sheet, fit to width, holds at least this many rows a page


def _texts(book) -> tuple[list[str], int]:
    """Every header cell and every text label of the workbook, and its raw-record rows."""
    texts, records = [], 0
    for sheet in book.worksheets:
        rows = list(sheet.iter_rows(values_only=True))
        texts += [c for c in rows[0] if isinstance(c, str)]
        if "原始紀錄" in sheet.title:
            records += len(rows) - 1
        else:
            texts += [r[0] for r in rows[1:] if r and isinstance(r[0], str)]
    return texts, records


def test_the_yearly_report_prints_whole_on_a_few_a4_pages(data_2023, tmp_path):
    report = yearly_report(2023)
    data = to_xlsx(report)
    book = load_workbook(io.BytesIO(data))
    for sheet in book.worksheets:
        assert sheet.page_setup.paperSize == 9  # A4
        assert sheet.sheet_properties.pageSetUpPr.fitToPage
        # One page wide (1 is the default, left out of the file), as many pages tall as needed.
        assert (sheet.page_setup.fitToWidth or 1) == 1 and sheet.page_setup.fitToHeight == 0
        assert sheet.print_title_rows == "$1:$1"
    texts, records = _texts(book)
    assert "處理中（尚在時限內）" in texts  # the label Calc used to cut

    pdf = xlsx_to_pdf(data, tmp_path, "report")
    pages = len(pdf.pages)
    assert pages <= len(book.worksheets) + math.ceil(records / ROWS_PER_PAGE), pages
    printed = pdf_text(pdf)
    cut = [t for t in dict.fromkeys(texts) if plain(t) not in printed]
    assert cut == [], f"labels cut or missing in print: {cut}"
    for sentence in report["narrative"]:
        assert plain(sentence) in printed


def test_the_audit_export_prints_whole(login_as, create_user, tmp_path):
    create_user(role="clerk", username="someone", name="歐陽專員")
    client, _sup = login_as("supervisor")
    data = client.get("/admin/audit.xlsx").data
    book = load_workbook(io.BytesIO(data))
    texts = list(next(book["稽核軌跡"].iter_rows(values_only=True)))
    texts += [t for row in book["篩選條件"].iter_rows(values_only=True) for t in row]
    pdf = xlsx_to_pdf(data, tmp_path, "audit")
    printed = pdf_text(pdf)
    assert len(pdf.pages) == len(book.worksheets)  # one page each: the entries, the filters
    assert [t for t in texts if plain(t) not in printed] == []
    assert plain("新增使用者") in printed and plain("歐陽專員") in printed
