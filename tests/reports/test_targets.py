"""Targets carry forward (DESIGN): a year without a target of its own uses the latest earlier
year's, shown as 「沿用113年度目標87%」, in every output (report, scorecard, API, CSV, XLSX,
text, narrative, digest); a year before any target has none and says so; the charts colour a
month as met or missed only against a target that exists; an empty year cannot be closed."""

import csv
import io
import re
from datetime import datetime
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from models.core import clock, db
from models.reference import agency_by_code, set_target
from models.reports import close_year, target_in_effect, yearly_report
from models.reports.scorecard import month_standing, scorecard
from tests.reports import data as rd


@pytest.fixture
def in_2026(frozen_clock):
    """Now is 2026-03-04 10:00 in Taipei; the targets are the seeded ones (2023: 85, 2024: 87)."""
    clock.freeze(datetime(2026, 3, 4, 10, 0, tzinfo=clock.TAIPEI))
    return frozen_clock


def nine_of_ten_in_2026(agency: str = "social-welfare") -> None:
    """Ten dispatches of January 2026, one late: 90.00%, above 87."""
    for day in range(5, 15):
        rd.dispatch(f"2026-01-{day:02d} 10:00", agency, arrived=14 if day == 9 else 4)
    db.session.commit()


def test_the_target_in_effect_is_the_years_own_else_the_latest_earlier_one(in_2026):
    assert target_in_effect(2022) is None
    own = target_in_effect(2023)
    assert (own.value, own.set_for, own.carried) == (Decimal("85"), 2023, False)
    assert (target_in_effect(2024).value, target_in_effect(2024).carried) == (Decimal("87"), False)
    carried = target_in_effect(2026)
    assert (carried.value, carried.set_for, carried.carried) == (Decimal("87"), 2024, True)
    set_target(2025, Decimal("88.5"))
    assert (target_in_effect(2026).value, target_in_effect(2026).set_for) == (Decimal("88.5"), 2025)
    assert target_in_effect(2024).value == Decimal("87")  # a later target never reaches back


def test_2026_without_its_own_target_uses_2024s_everywhere(in_2026, login_as):
    nine_of_ten_in_2026()
    d = yearly_report(2026)["dispatch"]
    assert (d["rate"], d["target"], d["target_year"], d["target_carried"]) == (90.0, 87, 2024, True)
    assert d["target_met"] is True and d["year_to_date"]["needed_in_a_row"] == 0

    card = scorecard(agency_by_code("social-welfare"), 2026)
    assert (card["target"], card["target_year"], card["target_carried"]) == (87, 2024, True)
    assert card["target_met"] is True

    client, _user = login_as("supervisor")
    page = client.get("/reports/2026").get_data(True)
    assert "沿用113年度目標87%" in page and "已達目標" in page
    reader, _reader = login_as("supervisor", locale="en")
    english = reader.get("/reports/2026").get_data(True)
    assert "carried over from the 2024 target 87%" in english
    card_page = client.get("/agency/scorecard?agency=social-welfare&year=2026").get_data(True)
    assert "沿用113年度目標87%" in card_page

    api = client.get("/api/v1/reports/yearly?year=2026").get_json()["dispatch"]
    assert (api["target"], api["target_year"], api["target_carried"]) == (87, 2024, True)
    scorecard_api = client.get("/api/v1/agencies/social-welfare/scorecard?year=2026").get_json()
    assert (scorecard_api["target"], scorecard_api["target_carried"]) == (87, True)

    rows = list(csv.reader(io.StringIO(client.get("/reports/2026/report.csv").get_data(True))))
    assert ["2026", "dispatch", "", "target", "87"] in rows
    assert ["2026", "dispatch", "", "target_year", "2024"] in rows
    assert ["2026", "dispatch", "", "target_carried", "true"] in rows

    book = load_workbook(io.BytesIO(client.get("/reports/2026/report.xlsx").data))
    summary = {row[0]: row[1:] for row in book.worksheets[0].iter_rows(values_only=True)}
    assert summary["目標值（%）"][0] == 87
    assert summary["目標值訂定年度"][0] == 2024

    # The monthly digest judges January 2026 against the same carried target.
    centre, _agencies = month_standing(2026, 1, clock.now())
    assert (centre["year"]["target"], centre["year"]["target_carried"]) == (87, True)
    from models.reports.digest import chief_payload

    payload = chief_payload(centre, [], [], 2026, 1, clock.now())
    assert payload["year_figures"]["target_text"] == "87%（沿用113年度目標）"
    assert payload["year_figures"]["target_text_en"] == "87% (carried over from the 2024 target)"
    assert payload["warning"] is False  # 90.00% meets the carried 87%


def test_the_narrative_with_a_carried_target_ends_with_its_verdict(in_2026):
    nine_of_ten_in_2026()
    first = yearly_report(2026)["narrative"][0]
    assert first == (
        "115年度民眾臨櫃陳情，經本處通知主管機關派員到場服務案件共計10件。"
        "其中計有1件超過10分鐘到場，年度達成率為90.00%，已達沿用113年度訂定之87%目標值。"
    )
    # Missed: two more late ones in February bring the rate to 75.00%.
    rd.dispatch("2026-02-02 10:00", "labor", arrived=15)
    rd.dispatch("2026-02-03 10:00", "labor", arrived=15)
    db.session.commit()
    first = yearly_report(2026)["narrative"][0]
    assert first.endswith("年度達成率為75.00%，未達沿用113年度訂定之87%目標值。")
    assert re.search("(已達|未達)[^。]*目標值。$", first)


def test_a_year_before_any_target_has_none_and_says_so(in_2026, login_as):
    rd.dispatch("2022-05-03 10:00", "labor", arrived=4)
    rd.dispatch("2022-05-04 10:00", "labor", arrived=14)
    db.session.commit()
    report = yearly_report(2022)
    d = report["dispatch"]
    assert (d["rate"], d["target"], d["target_year"], d["target_carried"]) == (
        50.0,
        None,
        None,
        False,
    )
    assert d["target_met"] is None
    assert report["narrative"][0].endswith("年度達成率為50.00%。")  # no verdict without a target
    assert "已達" not in report["narrative"][0] and "未達" not in report["narrative"][0]

    client, _user = login_as("supervisor")
    page = client.get("/reports/2022").get_data(True)
    assert "尚未訂定目標" in page
    # May's bar is neither met (blue) nor missed (red): there is nothing to meet.
    bar = re.search(r'<rect class="([^"]*)"[^>]*><title>5月', page).group(1)
    assert "chart-bar-plain" in bar and "chart-bar-below" not in bar
    assert "chart-target" not in page
    reader, _reader = login_as("supervisor", locale="en")
    english = reader.get("/reports/2022").get_data(True)
    assert "No target set" in english and "at or above the target" not in english
    card = client.get("/agency/scorecard?agency=labor&year=2022").get_data(True)
    assert "尚未訂定目標" in card and "chart-bar-below" not in card


def test_a_year_with_a_target_colours_its_months_against_it(in_2026, login_as):
    nine_of_ten_in_2026()
    client, _user = login_as("supervisor")
    page = client.get("/reports/2026").get_data(True)
    january = re.search(r'<rect class="([^"]*)"[^>]*><title>[^<]*1[^0-9<]', page).group(1)
    assert january == "chart-bar"  # 90% against the carried 87%: met
    assert "chart-target" in page


def test_no_close_button_for_a_year_without_records_and_close_refuses_it(in_2026, login_as):
    rd.dispatch("2024-05-03 10:00", "labor", arrived=4)
    db.session.commit()
    client, chief = login_as("supervisor")
    empty = client.get("/reports/2025").get_data(True)
    assert 'action="/reports/2025/close"' not in empty
    with_records = client.get("/reports/2024").get_data(True)
    assert 'action="/reports/2024/close"' in with_records

    from models.core.errors import InvalidInput

    with pytest.raises(InvalidInput, match="沒有任何紀錄"):
        close_year(2025, by=chief)
    db.session.rollback()
    reader, _reader = login_as("supervisor", locale="en")
    response = reader.post("/reports/2025/close", follow_redirects=True)
    assert "2025 has no records: there is nothing to close." in response.get_data(True)
    from models.reports import snapshot

    assert snapshot(2025) is None
