"""The report page, its downloads, evidence lists, period close and the API."""

import csv
import io
import json

import pytest
from openpyxl import load_workbook

from models.core import audit, db
from models.reports import (
    REPORT_READER_ROLES,
    YEAR_CLOSER_ROLES,
    ReportSnapshot,
    yearly_report,
)
from models.users import Role
from tests.reports import data as rd


def test_supervisor_sees_the_2023_report_in_chinese(login_as, data_2023):
    client, _user = login_as("supervisor")
    page = client.get("/reports/2023")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "112年度（2023）" in html
    assert "86.44" in html
    assert "年度達成率為86.44%，已達112年度訂定之85%目標值。" in html
    assert "淨空走道95件" in html
    assert "<svg" in html and "style=" not in html and "<script>" not in html
    assert 'href="/reports/2023/dispatches?outcome=late&amp;month=1"' in html
    assert "/reports/2023/defects?status=fixed&amp;category=ceiling_floor" in html
    assert "111年度（2022）" in html  # the previous year beside it


def test_clerks_read_the_report_but_cannot_close_a_year(login_as, data_2023):
    client, _user = login_as("clerk")
    html = client.get("/reports/2023").get_data(as_text=True)
    assert "86.44" in html and "/reports/2023/close" not in html
    assert client.post("/reports/2023/close").status_code == 403
    assert db.session.get(ReportSnapshot, 2023) is None


@pytest.mark.parametrize("role", ["agency", "facility"])
def test_other_roles_cannot_see_the_report(login_as, role):
    client, _user = login_as(role)
    assert client.get("/reports/2023").status_code == 403
    assert client.get("/reports/2023/dispatches").status_code == 403
    assert client.get("/api/v1/reports/yearly?year=2023").status_code == 403


@pytest.mark.parametrize("role", list(Role))
def test_report_readers_and_year_closers_are_one_pair_of_roles(login_as, frozen_clock, role):
    """REPORT_READER_ROLES read the page, its evidence and the API; YEAR_CLOSER_ROLES close."""
    rd.dispatch("2023-05-03 10:00", "labor", arrived=4)  # a year with no record is not closed
    db.session.commit()
    client, _user = login_as(role.value)
    reads = 200 if role in REPORT_READER_ROLES else 403
    assert client.get("/reports/2023").status_code == reads
    assert client.get("/reports/2023/dispatches").status_code == reads
    assert client.get("/reports/2023/report.csv").status_code == reads
    assert client.get("/api/v1/reports/yearly?year=2023").status_code == reads
    closes = role in YEAR_CLOSER_ROLES
    assert client.post("/reports/2023/close").status_code == (302 if closes else 403)
    assert (db.session.get(ReportSnapshot, 2023) is not None) == closes


def test_anonymous_is_sent_to_sign_in(client):
    response = client.get("/reports/2023")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_a_future_year_is_not_found(login_as, frozen_clock):
    client, _user = login_as("supervisor")
    assert client.get("/reports/2025").status_code == 404
    assert client.get("/reports/").status_code == 302
    assert client.get("/reports/?year=2023").headers["Location"].endswith("/reports/2023")


def test_a_year_is_typed_as_roc_or_gregorian_and_a_bad_one_is_said_at_the_field(
    login_as, frozen_clock
):
    client, _user = login_as("supervisor")
    for typed in ("112", "2023", "民國112年", "１１２"):
        response = client.get("/reports/", query_string={"year": typed})
        assert response.headers["Location"].endswith("/reports/2023"), typed
    assert client.get("/reports/112").headers["Location"].endswith("/reports/2023")
    page = client.get("/reports/2023").get_data(as_text=True)
    assert 'id="year"' in page and 'value="112"' in page  # shown back as ROC
    for typed, says in (("abc", "「abc」不是年份"), ("20231", "不是年份"), ("114", "尚未開始")):
        response = client.get("/reports/", query_string={"year": typed})
        assert response.status_code == 422, typed
        body = response.get_data(as_text=True)
        start = body.index('id="year-error"')
        assert says in body[start : body.index("</p>", start)], typed
        assert 'aria-invalid="true"' in body
    api = client.get("/api/v1/reports/yearly?year=112")
    assert api.status_code == 200 and api.get_json()["year"] == 2023


def test_evidence_lists_hold_the_records_behind_each_figure(login_as, data_2023):
    client, _user = login_as("supervisor")
    late = client.get("/reports/2023/dispatches?outcome=late").get_data(as_text=True)
    assert '<span class="evidence-count">8</span>' in late
    march = client.get("/reports/2023/dispatches?outcome=late&month=3").get_data(as_text=True)
    assert '<span class="evidence-count">1</span>' in march
    social = client.get("/reports/2023/dispatches?outcome=counted&agency=social-welfare")
    assert '<span class="evidence-count">12</span>' in social.get_data(as_text=True)
    fixed = client.get("/reports/2023/defects?status=fixed&category=ceiling_floor")
    assert '<span class="evidence-count">17</span>' in fixed.get_data(as_text=True)
    corridor = client.get("/reports/2023/defects?status=found&category=corridor")
    assert '<span class="evidence-count">95</span>' in corridor.get_data(as_text=True)
    assert client.get("/reports/2023/dispatches?outcome=nonsense").status_code == 404
    assert client.get("/reports/2023/dispatches?agency=nowhere").status_code == 404
    assert client.get("/reports/2023/dispatches?month=13").status_code == 404
    assert client.get("/reports/2023/defects?status=nonsense").status_code == 404


def test_downloads_hold_the_same_figures(login_as, data_2023):
    client, _user = login_as("supervisor")
    as_json = client.get("/reports/2023/report.json")
    assert as_json.status_code == 200
    data = json.loads(as_json.get_data(as_text=True))
    assert data["dispatch"]["rate"] == 86.44 and data["defects"]["fixed"] == 198

    as_csv = client.get("/reports/2023/report.csv")
    text = as_csv.get_data(as_text=True)
    assert text.startswith("\ufeff") and "attachment" in as_csv.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert rows[0] == ["year", "section", "item", "figure", "value"]
    assert ["2023", "dispatch", "", "rate", "86.44"] in rows
    assert ["2023", "dispatch", "", "target", "85"] in rows
    assert ["2023", "dispatch.by_month", "1", "rate", "80.00"] in rows
    assert ["2023", "defects.by_category", "ceiling_floor", "fixed", "17"] in rows

    as_xlsx = client.get("/reports/2023/report.xlsx")
    book = load_workbook(io.BytesIO(as_xlsx.get_data()))
    summary = {row[0]: row[1:] for row in book.worksheets[0].iter_rows(values_only=True)}
    assert summary["計入件數"][0] == 59
    assert summary["準時"][0] == 51
    assert summary["逾時"][0] == 8
    assert summary["準時達成率（%）"][0] == 86.44
    records = book.worksheets[-2]
    assert records.max_row == 1 + 59  # every dispatch of 2023, with a header row
    defects = book.worksheets[-1]
    assert defects.max_row == 1 + 198


def test_closing_freezes_figures_and_shows_restatements(login_as, data_2023):
    client, user = login_as("supervisor")
    page = client.get("/reports/2023").get_data(as_text=True)
    assert "/reports/2023/close" in page
    assert client.post("/reports/2023/close").status_code == 302
    snap = db.session.get(ReportSnapshot, 2023)
    assert snap.closed_by_id == user.id and snap.figures["dispatch"]["rate"] == 86.44
    entry = db.session.scalars(audit.search(action="report.close")).first()
    assert entry.object_id == "2023" and entry.after["rate"] == 86.44

    # A corrected arrival time: one on-time arrival turns out to have been late.
    from sqlalchemy import select

    from models.dispatch import Dispatch

    dispatch = db.session.scalars(
        select(Dispatch).where(Dispatch.arrived_at <= Dispatch.deadline_at).limit(1)
    ).one()
    dispatch.arrived_at = dispatch.deadline_at + (dispatch.deadline_at - dispatch.notified_at)
    db.session.commit()

    report = yearly_report(2023)
    assert report["dispatch"]["late"] == 8  # the frozen figure
    changes = {c["figure"]: (c["frozen"], c["current"]) for c in report["period"]["restatement"]}
    assert changes["dispatch.late"] == (8, 9)
    assert changes["dispatch.rate"] == (86.44, 84.75)
    assert "未達" in report["period"]["current_narrative"][0]
    html = client.get("/reports/2023").get_data(as_text=True)
    assert "關帳" in html and "84.75" in html and "86.44" in html
    # closing twice is refused, and the first snapshot stays
    again = client.post("/reports/2023/close", follow_redirects=True).get_data(as_text=True)
    assert "2023 年已經關帳" in again
    assert db.session.query(ReportSnapshot).count() == 1
    assert db.session.get(ReportSnapshot, 2023).figures["dispatch"]["late"] == 8


def test_the_current_year_cannot_be_closed(login_as, frozen_clock):
    client, _user = login_as("supervisor")
    html = client.get("/reports/2024").get_data(as_text=True)
    assert "/reports/2024/close" not in html
    client.post("/reports/2024/close")
    assert db.session.get(ReportSnapshot, 2024) is None


def test_api_returns_the_same_figures(login_as, data_2023):
    client, _user = login_as("supervisor")
    response = client.get("/api/v1/reports/yearly?year=2023")
    assert response.status_code == 200 and response.is_json
    data = response.get_json()
    expected = yearly_report(2023)
    for key in ("year", "roc_year", "dispatch", "defects", "narrative"):
        assert data[key] == expected[key]
    assert data["dispatch"]["rate"] == 86.44 and data["dispatch"]["target"] == 85
    assert list(data)[:3] == ["year", "roc_year", "as_of"]


def test_api_with_a_bearer_token(app, create_user, data_2023):
    from models.users import create_token

    user = create_user(role="clerk")
    _row, token = create_token(user)
    db.session.commit()
    client = app.test_client()
    response = client.get(
        "/api/v1/reports/yearly?year=2023", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200 and response.get_json()["dispatch"]["counted"] == 59


def test_api_errors(client, login_as, frozen_clock):
    assert client.get("/api/v1/reports/yearly?year=2023").status_code == 401
    signed_in, _user = login_as("supervisor")
    missing = signed_in.get("/api/v1/reports/yearly")
    assert missing.status_code == 422 and missing.get_json()["error"] == "invalid"
    assert "year" in missing.get_json()["fields"]["query"]
    bad = signed_in.get("/api/v1/reports/yearly?year=abc")
    assert bad.status_code == 422
    future = signed_in.get("/api/v1/reports/yearly?year=2025")
    assert future.status_code == 422 and "2025" in future.get_json()["message"]
    assert signed_in.get("/api/v1/reports/yearly?year=1990").status_code == 422


def test_api_is_documented(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    operation = spec["paths"]["/api/v1/reports/yearly"]["get"]
    assert {"200", "401", "403", "422"} <= set(operation["responses"])
    assert operation["parameters"][0]["name"] == "year"


def test_year_to_date_on_the_page(login_as, frozen_clock):
    for day in range(1, 11):
        rd.dispatch(f"2024-02-{day:02d} 10:00", arrived=12 if day <= 2 else 5)
    db.session.commit()
    client, _user = login_as("supervisor")
    html = client.get("/reports/2024").get_data(as_text=True)
    assert "80.00" in html and "未達" in html
    assert "年初至今：尚需連續 6 件準時到場，方能達到 87% 目標值。" in html


def test_the_page_in_english_keeps_the_chinese_narrative(login_as, data_2023):
    client, _user = login_as("supervisor", locale="en")
    html = client.get("/reports/2023").get_data(as_text=True)
    assert "Yearly report" in html and "On-time rate (%)" in html
    assert "Department of Social Welfare" in html and "Month 3" in html
    assert "年度達成率為86.44%，已達112年度訂定之85%目標值。" in html
