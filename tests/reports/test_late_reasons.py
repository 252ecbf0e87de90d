"""The yearly report's late dispatches by reason (`dispatch.late_reasons`, per agency too): the
JSON, the page with its evidence links, the XLSX and CSV, the API document, and closed years."""

import csv
import io

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from models.core import clock, db
from models.dispatch import Dispatch, Outcome
from models.dispatch.late import LateReason, set_late_reason, update_late_reason
from models.reports import close_year, yearly_report


def late_2023() -> list[Dispatch]:
    """The eight late dispatches of the published 2023 records, in notice order."""
    stmt = (
        select(Dispatch)
        .where(
            clock.in_year(Dispatch.notified_at, 2023),
            Dispatch.outcome_expr(clock.now()) == Outcome.LATE.value,
        )
        .order_by(Dispatch.notified_at)
    )
    return list(db.session.scalars(stmt))


@pytest.fixture
def explained(published, create_user):
    """2023 with reasons for four of its eight late dispatches: three `away`, one `other`."""
    clerk = create_user(role="clerk")
    late = late_2023()
    assert len(late) == 8
    for dispatch in late[:3]:
        set_late_reason(dispatch, "away", by=clerk)
    set_late_reason(late[3], "other", "電梯停駛", by=clerk)
    db.session.commit()
    return late


def counts(rows) -> dict[str, int]:
    return {row["code"]: row["count"] for row in rows}


def test_late_reasons_figures_in_the_yearly_json(explained, login_as):
    client, _user = login_as("supervisor")
    body = client.get("/api/v1/reports/yearly?year=2023").get_json()
    d = body["dispatch"]
    assert d["late_reasons"] == [
        {"code": "away", "label": "承辦人外出", "label_en": "Away from the office", "count": 3},
        {
            "code": "not_reached",
            "label": "未接到通知",
            "label_en": "Notice not received",
            "count": 0,
        },
        {"code": "short_staffed", "label": "人力不足", "label_en": "Short-staffed", "count": 0},
        {
            "code": "needs_records",
            "label": "需調閱資料",
            "label_en": "Needed to pull records",
            "count": 0,
        },
        {"code": "other", "label": "其他", "label_en": "Other", "count": 1},
        {"code": "none", "label": "未填原因", "label_en": "No reason recorded", "count": 4},
    ]
    assert sum(r["count"] for r in d["late_reasons"]) == d["late"] == 8
    by_agency = {row["agency"]: counts(row["late_reasons"]) for row in d["by_agency"]}
    for row in d["by_agency"]:
        assert sum(by_agency[row["agency"]].values()) == row["late"], row["agency"]
    expected: dict[str, dict[str, int]] = {}
    for index, dispatch in enumerate(explained):
        code = "away" if index < 3 else "other" if index == 3 else "none"
        expected.setdefault(dispatch.agency.code, {}).setdefault(code, 0)
        expected[dispatch.agency.code][code] += 1
    for agency, reasons in expected.items():
        assert {k: v for k, v in by_agency[agency].items() if v} == reasons, agency
    assert set(by_agency["secretariat"].values()) == {0}  # no late dispatch, every reason 0


def test_a_reason_out_of_use_keeps_its_counts_and_an_unused_one_disappears(explained, create_user):
    supervisor = create_user(role="supervisor")
    for code in ("away", "not_reached"):
        reason = db.session.scalar(select(LateReason).where(LateReason.code == code))
        update_late_reason(
            reason, label_zh=reason.label_zh, label_en=reason.label_en, active=False, by=supervisor
        )
    db.session.commit()
    rows = counts(yearly_report(2023)["dispatch"]["late_reasons"])
    assert rows["away"] == 3
    assert "not_reached" not in rows
    assert sum(rows.values()) == 8


def test_the_page_links_each_reason_to_its_late_dispatches(explained, login_as):
    client, _user = login_as("supervisor")
    page = client.get("/reports/2023").get_data(as_text=True)
    assert "逾時原因統計" in page
    away = '<a class="fig" href="/reports/2023/dispatches?outcome=late&amp;reason=away">3</a>'
    none = '<a class="fig" href="/reports/2023/dispatches?outcome=late&amp;reason=none">4</a>'
    assert away in page and none in page

    listed = client.get("/reports/2023/dispatches?outcome=late&reason=away").get_data(as_text=True)
    assert '<span class="evidence-count">3</span>' in listed
    assert listed.count("承辦人外出") == 4  # the filter chip and the three rows
    listed = client.get("/reports/2023/dispatches?outcome=late&reason=none").get_data(as_text=True)
    assert '<span class="evidence-count">4</span>' in listed
    listed = client.get("/reports/2023/dispatches?outcome=late").get_data(as_text=True)
    assert "電梯停駛" in listed  # the note beside the reason in the late list
    agency = explained[3].agency.code
    url = f"/reports/2023/dispatches?outcome=late&agency={agency}&reason=other"
    assert '<span class="evidence-count">1</span>' in client.get(url).get_data(as_text=True)
    assert client.get("/reports/2023/dispatches?reason=weather").status_code == 404


def test_the_xlsx_and_csv_carry_the_late_reasons(explained, login_as):
    client, _user = login_as("supervisor")
    book = load_workbook(io.BytesIO(client.get("/reports/2023/report.xlsx").data))
    rows = list(book["逾時原因"].iter_rows(values_only=True))
    assert rows[0] == ("代碼", "原因", "逾時")
    assert rows[1:] == [
        ("away", "承辦人外出", 3),
        ("not_reached", "未接到通知", 0),
        ("short_staffed", "人力不足", 0),
        ("needs_records", "需調閱資料", 0),
        ("other", "其他", 1),
        ("none", "未填原因", 4),
    ]
    per_agency = list(book["各機關逾時原因"].iter_rows(values_only=True))
    assert per_agency[0][3:] == (
        "承辦人外出",
        "未接到通知",
        "人力不足",
        "需調閱資料",
        "其他",
        "未填原因",
    )
    assert sum(r[2] for r in per_agency[1:]) == 8
    assert [sum(r[3 + i] for r in per_agency[1:]) for i in range(6)] == [3, 0, 0, 0, 1, 4]
    raw = list(book["派員案件（原始紀錄）"].iter_rows(values_only=True))
    header = raw[0]
    reason_of = {row[0]: row[header.index("逾時原因")] for row in raw[1:]}
    note_of = {row[0]: row[header.index("逾時原因說明")] for row in raw[1:]}
    # People read the reason's words (the CSV and the JSON keep its code).
    assert [reason_of[d.id] for d in explained] == ["承辦人外出"] * 3 + ["其他"] + [None] * 4
    assert note_of[explained[3].id] == "電梯停駛"

    text = client.get("/reports/2023/report.csv").data.decode("utf-8-sig")
    found = {
        (row["item"], row["figure"]): row["value"]
        for row in csv.DictReader(io.StringIO(text))
        if row["year"] == "2023" and row["section"] == "dispatch.late_reasons"
    }
    assert found[("away", "count")] == "3"
    assert found[("none", "count")] == "4"


def test_a_closed_year_shows_reasons_given_after_closing_and_no_restatement(explained, create_user):
    close_year(2023, by=create_user(role="supervisor"))
    db.session.commit()
    set_late_reason(explained[4], "short_staffed", by=create_user(role="clerk"))
    db.session.commit()

    report = yearly_report(2023)
    assert report["period"]["closed"] is True
    assert report["period"]["restatement"] == []
    rows = counts(report["dispatch"]["late_reasons"])
    assert (rows["short_staffed"], rows["none"]) == (1, 3)
    agency = explained[4].agency.code
    row = next(r for r in report["dispatch"]["by_agency"] if r["agency"] == agency)
    assert counts(row["late_reasons"])["short_staffed"] >= 1


def test_the_api_document_describes_the_late_reasons(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    schemas = doc["components"]["schemas"]
    figures = schemas["DispatchFigures"]["properties"]
    assert figures["late_reasons"]["type"] == "array"
    row = schemas["LateReasonRow"]["properties"]
    assert set(row) == {"code", "label", "label_en", "count"}
    assert "late_reasons" in schemas["AgencyRow"]["properties"]
    assert "post" in doc["paths"]["/api/v1/dispatches/{dispatch_id}/late-reason"]
    assert "get" in doc["paths"]["/api/v1/agencies/{code}/scorecard"]
    assert "get" in doc["paths"]["/api/v1/late-reasons"]
