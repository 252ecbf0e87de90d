"""The visitor in the yearly report (issue 13): the whole wait (`dispatch.wait_minutes`: median
and p90 per year and agency, half up) and the visitors' verdict (`satisfaction`), on the page,
in the JSON, the CSV, the XLSX and the API, and the narrative's optional third sentence."""

import csv
import io
import json
from datetime import datetime

import pytest
from openpyxl import load_workbook

from models.core import audit, clock, db
from models.dispatch import arrive, cancel, log_visit, notify, rate_visit, transfer
from models.reports import narrative, yearly_report
from tests.reports import data as rd

NOW = datetime(2024, 3, 4, 10, 0, tzinfo=clock.TAIPEI)
THIRD = "112年度派員到場服務之民眾滿意度調查共計回收6件，其中表示滿意者4件，滿意度為66.67%。"


@pytest.fixture
def clerk(create_user):
    return create_user(role="clerk", username="counter")


@pytest.fixture
def served(clerk):
    """served(logged, wait_seconds, agency, score=None, transfer_after=None, to=None) logs a
    visit at the Taipei time `logged`, notifies `agency`, optionally transfers it to `to`
    after `transfer_after` seconds, has someone arrive `wait_seconds` after the logging and
    records the visitor's answer."""

    def factory(logged, wait, agency="social-welfare", score=None, transfer_after=None, to=None):
        clock.freeze(rd.at(logged))
        with audit.acting_as(audit.Actor(clerk.id, clerk.username)):
            visit = log_visit(kind="petition", subject="測試", agency=agency, by=clerk)
            dispatch = notify(visit, by=clerk)
            if transfer_after is not None:
                clock.advance(seconds=transfer_after)
                dispatch = transfer(dispatch, to, by=clerk)
                clock.advance(seconds=wait - transfer_after)
            else:
                clock.advance(seconds=wait)
            arrive(dispatch, by=clerk)
            if score:
                rate_visit(visit, score, by=clerk)
        db.session.commit()
        clock.freeze(NOW)
        return visit

    yield factory
    clock.unfreeze()


@pytest.fixture
def visitors_2023(served, clerk):
    """Ten served visits of 2023 with known waits and six answers, plus visits that must not
    count (nobody arrived; logged in 2022)."""
    served("2023-03-01 09:00", 600, "social-welfare", "satisfied")
    served("2023-03-01 10:00", 606, "social-welfare", "satisfied")
    for n, (wait, score) in enumerate(
        [(300, "satisfied"), (420, "neutral"), (540, "dissatisfied"), (720, None), (900, None)]
        + [(1200, None), (1830, None)]
    ):
        served(f"2023-05-0{n + 1} 14:00", wait, "health", score)
    # Logged 10:00, 社會局 notified; transferred to 衛生局 at 10:07; arrival at 10:15.
    served("2023-06-01 10:00", 900, "social-welfare", "satisfied", transfer_after=420, to="health")
    # Not counted: nobody arrived (cancelled), and a visit logged in 2022 served in 2023.
    clock.freeze(rd.at("2023-07-01 10:00"))
    with audit.acting_as(audit.Actor(clerk.id, clerk.username)):
        left = notify(log_visit(kind="inquiry", subject="離開", agency="labor", by=clerk), by=clerk)
        clock.advance(seconds=300)
        cancel(left, "民眾先行離開", by=clerk)
    db.session.commit()
    served("2022-12-31 23:55", 600, "labor", "dissatisfied")
    clock.freeze(NOW)


def test_wait_minutes_median_and_p90_on_known_data(visitors_2023):
    wait = yearly_report(2023)["dispatch"]["wait_minutes"]
    # 300 420 540 600 606 720 900 900 1200 1830 s: median (606+720)/2 = 663 s = 11.05 min and
    # p90 (PERCENTILE.INC) 1200 + 0.1 × 630 = 1263 s = 21.05 min, both half up (not to even).
    assert (wait["count"], wait["median"], wait["p90"]) == (10, 11.1, 21.1)
    assert wait["by_agency"] == [
        # 衛生局 served eight, the transferred visit's 15 minutes among them.
        {
            "agency": "health",
            "name_zh": "衛生局",
            "name_en": wait["by_agency"][0]["name_en"],
            "count": 8,
            "median": 13.5,
            "p90": 23.2,
        },
        {
            "agency": "social-welfare",
            "name_zh": "社會局",
            "name_en": wait["by_agency"][1]["name_en"],
            "count": 2,
            "median": 10.1,  # 603 s = 10.05 min, half up
            "p90": 10.1,  # 605.4 s
        },
    ]
    previous = yearly_report(2023)["previous_year"]["dispatch"]["wait_minutes"]
    assert (previous["count"], previous["median"]) == (1, 10.0)  # the 2022 visit stays in 2022


def test_a_year_with_no_served_visit_has_no_wait_and_no_share(in_2024):
    report = yearly_report(2024)
    assert report["dispatch"]["wait_minutes"] == {
        "count": 0,
        "median": None,
        "p90": None,
        "by_agency": [],
    }
    assert report["satisfaction"] == {
        "responses": 0,
        "satisfied": 0,
        "neutral": 0,
        "dissatisfied": 0,
        "share_satisfied": None,
        "by_agency": [],
    }
    assert len(report["narrative"]) == 2


def test_satisfaction_figures_per_agency_and_the_third_sentence(visitors_2023):
    report = yearly_report(2023)
    s = report["satisfaction"]
    assert (s["responses"], s["satisfied"], s["neutral"], s["dissatisfied"]) == (6, 4, 1, 1)
    assert s["share_satisfied"] == 66.67  # 4/6 = 66.666… half up
    rows = {r["agency"]: r for r in s["by_agency"]}
    assert list(rows) == ["health", "social-welfare"]
    assert (rows["health"]["responses"], rows["health"]["share_satisfied"]) == (4, 50.0)
    assert (rows["social-welfare"]["responses"], rows["social-welfare"]["share_satisfied"]) == (
        2,
        100.0,
    )
    d, f = report["dispatch"], report["defects"]
    two = narrative(2023, d, f)
    assert report["narrative"][:2] == two  # the published two, byte for byte
    assert report["narrative"] == [*two, THIRD]


def test_the_share_rounds_half_up_in_decimal(served):
    for n in range(7):
        served(f"2023-02-0{n + 1} 10:00", 300, "labor", "neutral")
    served("2023-02-08 10:00", 300, "labor", "satisfied")
    s = yearly_report(2023)["satisfaction"]
    assert s["share_satisfied"] == 12.5  # 1/8
    served("2023-02-09 10:00", 300, "labor", "satisfied")
    served("2023-02-10 10:00", 300, "labor", "satisfied")  # 3 of 10
    for n in range(20):
        served(f"2023-03-{n + 1:02d} 10:00", 300, "labor", "neutral")  # 3 of 30
    assert yearly_report(2023)["satisfaction"]["share_satisfied"] == 10.0
    served("2023-04-01 10:00", 300, "labor", "satisfied")  # 4 of 31 = 12.9032…
    served("2023-04-02 10:00", 300, "labor", "neutral")  # 4 of 32 = 12.5
    for n in range(1, 9):
        served(f"2023-04-{n + 2:02d} 10:00", 300, "labor", "neutral")  # 4 of 40 = 10
    assert yearly_report(2023)["satisfaction"]["share_satisfied"] == 10.0
    served("2023-05-01 10:00", 300, "labor", "satisfied")  # 5 of 41 = 12.195… → 12.20
    assert yearly_report(2023)["satisfaction"]["share_satisfied"] == 12.2


def test_the_page_json_csv_xlsx_and_api_carry_the_new_figures(visitors_2023, login_as):
    client, _user = login_as("supervisor")
    page = client.get("/reports/2023").get_data(as_text=True)
    assert "民眾等候總時間之分鐘數（中位數）" in page and ">11.1<" in page and ">21.1<" in page
    assert "滿意度（%）" in page and ">66.67%<" in page
    table = page[page.index('data-table="visitors"') :]
    table = table[: table.index("</table>")]
    assert (
        'data-label="滿意度（%）">50.00<' in table and 'data-label="滿意度（%）">100.00<' in table
    )
    assert 'data-label="民眾等候總時間之分鐘數（中位數）">13.5<' in table
    assert THIRD in page

    data = json.loads(client.get("/reports/2023/report.json").get_data(as_text=True))
    assert data["dispatch"]["wait_minutes"]["median"] == 11.1
    assert data["satisfaction"]["share_satisfied"] == 66.67
    assert data["narrative"][2] == THIRD
    api = client.get("/api/v1/reports/yearly?year=2023").get_json()
    assert api["dispatch"]["wait_minutes"]["p90"] == 21.1
    assert api["satisfaction"]["by_agency"][0]["agency"] == "health"
    spec = client.get("/api/v1/openapi.json").get_json()["components"]["schemas"]
    assert "wait_minutes" in spec["DispatchFigures"]["properties"]
    assert "satisfaction" in spec["Figures"]["properties"]

    rows = list(
        csv.reader(
            io.StringIO(
                client.get("/reports/2023/report.csv").get_data(as_text=True).lstrip("\ufeff")
            )
        )
    )
    assert ["2023", "dispatch", "", "wait_minutes.median", "11.1"] in rows
    assert ["2023", "dispatch.wait_minutes.by_agency", "health", "p90", "23.2"] in rows
    assert ["2023", "satisfaction", "", "share_satisfied", "66.67"] in rows
    assert ["2023", "satisfaction.by_agency", "health", "share_satisfied", "50.00"] in rows

    book = load_workbook(io.BytesIO(client.get("/reports/2023/report.xlsx").get_data()))
    cells = list(book.worksheets[0].iter_rows(values_only=True))
    summary = {row[0]: row[1:] for row in cells}
    assert summary["民眾等候總時間之分鐘數（中位數）"][0] == 11.1
    assert summary["民眾等候總時間之分鐘數（第 90 百分位數）"][0] == 21.1
    assert summary["滿意度填答件數"][0] == 6
    assert summary["滿意度（%）"][0] == 66.67
    # The narrative: a heading, then one sentence a row across the table's width.
    first = next(i for i, row in enumerate(cells) if row[0] == "績效報告文字") + 1
    assert [row[0] for row in cells[first : first + 3]][2] == THIRD
    sheet = book["各機關民眾等候與滿意度"]
    header, *lines = list(sheet.iter_rows(values_only=True))
    by_code = {line[0]: dict(zip(header, line, strict=True)) for line in lines}
    assert by_code["health"]["滿意度（%）"] == 50.0
    assert by_code["health"]["民眾等候總時間之分鐘數（中位數）"] == 13.5
    # Beside the on-time rate: 社會局 arrived at 10:00 (on time) and 10:06 (late); the
    # transferred dispatch is excluded from its rate but its visitor's answer is 衛生局's.
    assert by_code["social-welfare"]["準時達成率（%）"] == 50.0


def test_english_page_labels_the_new_figures(visitors_2023, login_as, english):
    client, _user = login_as("supervisor")
    client.post("/language", data={"lang": "en", "next": "/"})
    page = client.get("/reports/2023").get_data(as_text=True)
    assert "Median minutes of the visitor&#39;s whole wait" in page
    assert "Share satisfied (%)" in page
    assert THIRD in page  # the narrative stays Chinese, as published


def test_a_year_closed_before_these_figures_existed_shows_no_restatement_for_them(
    visitors_2023, login_as
):
    from models.reports import ReportSnapshot, close_year

    supervisor, user = login_as("supervisor")
    close_year(2023, by=user)
    db.session.commit()
    row = db.session.get(ReportSnapshot, 2023)
    old = json.loads(json.dumps(row.figures))  # as frozen before issue 13
    del old["satisfaction"], old["dispatch"]["wait_minutes"]
    old["narrative"] = old["narrative"][:2]
    row.figures = old
    db.session.commit()

    report = yearly_report(2023)
    assert report["period"]["restatement"] == []
    assert "satisfaction" not in report and "wait_minutes" not in report["dispatch"]
    page = supervisor.get("/reports/2023")
    assert page.status_code == 200
    assert 'data-table="visitors"' not in page.get_data(as_text=True)
    book = load_workbook(io.BytesIO(supervisor.get("/reports/2023/report.xlsx").get_data()))
    assert "各機關民眾等候與滿意度" not in book.sheetnames
    # Once a snapshot has the section, a changed answer count is a restatement as usual.
    from models.reports import figures

    live = figures(2023)["satisfaction"]
    row.figures = {**old, "satisfaction": {**live, "responses": 5}}
    db.session.commit()
    assert yearly_report(2023)["period"]["restatement"] == [
        {"figure": "satisfaction.responses", "frozen": 5, "current": 6}
    ]
