"""The yearly roll-up pins every rule of DESIGN: the published 2023 figures, the narrative word for
word, a missed target, a year with nothing counted, the Taipei year boundary, half-up rounding,
and each outcome category."""

from datetime import date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction

import pytest

from models.core import audit, clock, db
from models.reference import set_target
from models.reports import (
    format_rate,
    format_target,
    needed_in_a_row,
    percentile,
    rate,
    yearly_report,
)
from models.reports.narrative import narrative
from models.reports.rules import target_met
from tests.reports import data as rd

PUBLISHED_1 = (
    "112年度民眾臨櫃陳情，經本處通知主管機關派員到場服務案件共計59件。"
    "其中計有8件超過10分鐘到場，年度達成率為86.44%，已達112年度訂定之85%目標值。"
)
PUBLISHED_2 = (
    "112年度缺失案件並完成改善總計198件(淨空走道95件、設施正常48件、環境整潔38件、天地無虞17件)。"
)


def test_reproduces_the_published_2023_report(in_2024):
    rd.published_2023()
    report = yearly_report(2023)
    d = report["dispatch"]
    assert (report["year"], report["roc_year"]) == (2023, 112)
    assert (d["counted"], d["on_time"], d["late"], d["pending"]) == (59, 51, 8, 0)
    assert d["excluded"] == {"cancelled": 0, "transferred": 0}
    assert d["rate"] == 86.44
    assert d["target"] == 85 and isinstance(d["target"], int)
    assert d["target_met"] is True
    assert d["year_to_date"] is None  # 2023 is over
    social = next(a for a in d["by_agency"] if a["agency"] == "social-welfare")
    assert (social["counted"], social["on_time"], social["late"], social["rate"]) == (
        12,
        11,
        1,
        91.67,
    )
    january = d["by_month"][0]
    assert (january["month"], january["counted"], january["on_time"], january["late"]) == (
        1,
        5,
        4,
        1,
    )
    assert january["rate"] == 80.0
    assert [m["month"] for m in d["by_month"]] == list(range(1, 13))
    assert sum(m["late"] for m in d["by_month"]) == 8
    assert sum(a["counted"] for a in d["by_agency"]) == 59
    f = report["defects"]
    assert (f["found"], f["fixed"], f["open"]) == (198, 198, 0)
    assert [(c["category"], c["found"], c["fixed"], c["open"]) for c in f["by_category"]] == [
        ("corridor", 95, 95, 0),
        ("facility", 48, 48, 0),
        ("cleanliness", 38, 38, 0),
        ("ceiling_floor", 17, 17, 0),
    ]
    assert report["narrative"] == [PUBLISHED_1, PUBLISHED_2]


def test_missed_target_says_未達_and_counts_what_is_needed(in_2024):
    for day in range(1, 11):
        rd.dispatch(f"2024-02-{day:02d} 10:00", arrived=12 if day <= 2 else 5)
    db.session.commit()
    d = yearly_report(2024)["dispatch"]
    assert (d["counted"], d["on_time"], d["late"], d["rate"]) == (10, 8, 2, 80.0)
    assert d["target"] == 87 and d["target_met"] is False
    # 13/15 = 86.67 < 87, 14/16 = 87.50 >= 87: six on-time arrivals in a row are needed.
    assert d["year_to_date"]["needed_in_a_row"] == 6
    sentence = yearly_report(2024)["narrative"][0]
    assert sentence == (
        "113年度民眾臨櫃陳情，經本處通知主管機關派員到場服務案件共計10件。"
        "其中計有2件超過10分鐘到場，年度達成率為80.00%，未達113年度訂定之87%目標值。"
    )


def test_a_target_with_a_fraction_is_written_without_trailing_zeros(in_2024):
    with audit.acting_as(audit.Actor(None, "test")):  # not a user left over by another test
        set_target(2024, Decimal("87.50"))
    rd.dispatch("2024-02-01 10:00", arrived=5)
    db.session.commit()
    report = yearly_report(2024)
    assert report["dispatch"]["target"] == 87.5
    assert report["narrative"][0].endswith("已達113年度訂定之87.5%目標值。")
    assert format_target(Decimal("85.00")) == "85"
    assert format_target(Decimal("100.00")) == "100"
    assert format_rate(Decimal("80")) == "80.00"


def test_a_year_with_nothing_counted_has_no_rate(in_2024):
    rd.dispatch("2024-03-04 09:55")  # open, within its deadline: pending
    rd.dispatch("2024-02-01 10:00", cancelled=3)  # cancelled in time: excluded
    rd.dispatch("2024-02-02 10:00", transferred=2)  # transferred: excluded
    db.session.commit()
    report = yearly_report(2024)
    d = report["dispatch"]
    assert (d["counted"], d["pending"], d["excluded"]) == (
        0,
        1,
        {"cancelled": 1, "transferred": 1},
    )
    assert d["rate"] is None and d["target_met"] is None
    assert report["narrative"][0] == (
        "113年度民眾臨櫃陳情，經本處通知主管機關派員到場服務案件共計0件。"
        "其中計有0件超過10分鐘到場，尚無可計算之年度達成率。"
    )
    assert format_rate(d["rate"]) == "—"
    # One on-time arrival would give 100%.
    assert d["year_to_date"]["needed_in_a_row"] == 1
    empty = yearly_report(2023)
    assert empty["dispatch"]["rate"] is None and empty["dispatch"]["counted"] == 0
    assert empty["defects"]["by_category"][3] == {
        **empty["defects"]["by_category"][3],
        "found": 0,
        "fixed": 0,
        "open": 0,
    }


def test_the_year_boundary_is_taipei_time(in_2024):
    rd.dispatch("2024-01-01 00:05", arrived=5)  # still 2023-12-31 in UTC
    rd.dispatch("2023-12-31 23:59", arrived=15)
    rd.defect("2024-01-01 00:05", "ceiling_floor")
    rd.defect("2023-12-31 23:59", "facility", fixed="2024-01-02 10:00")
    db.session.commit()
    assert datetime(2024, 1, 1, 0, 5, tzinfo=clock.TAIPEI).astimezone(clock.UTC).year == 2023
    y2024, y2023 = yearly_report(2024), yearly_report(2023)
    assert (y2024["dispatch"]["counted"], y2024["dispatch"]["on_time"]) == (1, 1)
    assert y2024["dispatch"]["by_month"][0]["counted"] == 1
    assert (y2023["dispatch"]["counted"], y2023["dispatch"]["late"]) == (1, 1)
    assert y2023["dispatch"]["by_month"][11]["late"] == 1
    assert y2024["defects"]["by_category"][3]["found"] == 1
    assert y2023["defects"]["by_category"][1]["fixed"] == 1
    assert y2024["defects"]["found"] == 1 and y2023["defects"]["found"] == 1


def test_taipei_month_boundaries(in_2024):
    rd.dispatch("2024-02-01 00:00", arrived=5)  # January 31 16:00 UTC → February
    rd.dispatch("2024-01-31 23:59:59", arrived=5)  # → January
    db.session.commit()
    months = yearly_report(2024)["dispatch"]["by_month"]
    assert (months[0]["counted"], months[1]["counted"]) == (1, 1)


def test_half_up_rounding_in_decimal():
    assert rate(797, 800) == Decimal("99.63")  # 99.625: half up, not half even
    assert rate(1, 3) == Decimal("33.33")
    assert rate(2, 3) == Decimal("66.67")
    assert rate(1, 8) == Decimal("12.50")
    assert rate(0, 5) == Decimal("0.00")
    assert rate(0, 0) is None


def test_half_up_rounding_through_the_database(in_2024):
    for i in range(800):
        rd.dispatch(f"2023-05-{1 + i % 28:02d} 10:00", arrived=12 if i < 3 else 4)
    db.session.commit()
    d = yearly_report(2023)["dispatch"]
    assert (d["counted"], d["on_time"], d["rate"]) == (800, 797, 99.63)
    assert "年度達成率為99.63%" in yearly_report(2023)["narrative"][0]


def test_each_outcome_is_counted_by_the_rules(in_2024):
    # now: 2024-03-04 10:00 Taipei
    rd.dispatch("2024-03-01 10:00", arrived=10)  # exactly 10:00 → on time
    rd.dispatch("2024-03-01 11:00", arrived=10.02)  # a second late → late
    rd.dispatch("2024-03-04 09:49")  # open past its deadline → late
    rd.dispatch("2024-03-04 09:51")  # open within its deadline → pending
    rd.dispatch("2024-03-01 12:00", cancelled=10)  # cancelled at the deadline → excluded
    rd.dispatch("2024-03-01 13:00", cancelled=11)  # cancelled after it, nobody came → late
    rd.dispatch("2024-03-01 14:00", transferred=15)  # transferred → excluded
    rd.dispatch("2024-03-01 15:00", arrived=25, sla=1800)  # its own 30-minute SLA → on time
    db.session.commit()
    d = yearly_report(2024)["dispatch"]
    assert (d["on_time"], d["late"], d["pending"]) == (2, 3, 1)
    assert d["excluded"] == {"cancelled": 1, "transferred": 1}
    assert d["counted"] == 5 and d["total"] == 8
    assert d["rate"] == 40.0
    assert d["sla_minutes"] is None  # mixed SLA lengths
    assert "超過規定時限到場" in yearly_report(2024)["narrative"][0]
    clock.advance(minutes=5)  # the pending one is now past its deadline
    d = yearly_report(2024)["dispatch"]
    assert (d["late"], d["pending"]) == (4, 0)


def test_the_time_limit_in_minutes_is_a_whole_number_when_whole(in_2024):
    """`sla_minutes` goes through the one minutes rule (models.core.clock.minutes) and is a JSON
    integer when whole (10, not 10.0); 603 s is 10.05 min, 10.1 half up."""
    rd.dispatch("2024-03-01 10:00", arrived=5)
    rd.dispatch("2023-03-01 10:00", arrived=5, sla=603)
    db.session.commit()
    whole = yearly_report(2024)["dispatch"]["sla_minutes"]
    assert whole == 10 and type(whole) is int
    assert "超過10分鐘到場" in yearly_report(2024)["narrative"][0]
    assert yearly_report(2023)["dispatch"]["sla_minutes"] == 10.1


def test_needed_in_a_row_uses_the_rounded_rate():
    assert needed_in_a_row(51, 59, Decimal(85)) == 0
    assert needed_in_a_row(8, 10, Decimal(87)) == 6
    assert needed_in_a_row(0, 0, Decimal(85)) == 1
    assert needed_in_a_row(5, 5, None) is None
    for on_time, counted, target in [(17, 20, Decimal("99.99")), (1, 9, Decimal("87.5"))]:
        n = needed_in_a_row(on_time, counted, target)
        assert rate(on_time + n, counted + n) >= target
        assert rate(on_time + n - 1, counted + n - 1) < target


def test_minutes_to_arrival_and_acknowledgement(in_2024):
    for minutes, ack in [(1, 0.5), (2, 1), (3, 1), (4, 2)]:
        rd.dispatch("2024-02-01 10:00", arrived=minutes, acknowledged=ack)
    rd.dispatch("2024-02-01 11:00", cancelled=3)  # no arrival: not in the arrival figures
    db.session.commit()
    d = yearly_report(2024)["dispatch"]
    assert d["minutes_to_arrival"] == {"count": 4, "median": 2.5, "p90": 3.7}
    assert d["minutes_to_acknowledgement"] == {"count": 4, "median": 1.0, "p90": 1.7}
    assert percentile([(10, 1)], Fraction(9, 10)) == 10
    assert percentile([], Fraction(1, 2)) is None


def test_defect_figures_by_category_zone_due_date_and_rounds(in_2024):
    # Dates in March 2024 (no public holiday). corridor is due in 1 working day, facility in 7.
    clock.freeze(datetime(2024, 3, 29, 17, 0, tzinfo=clock.TAIPEI))  # a Friday
    rd.defect("2024-03-08 09:00", "corridor", "northeast", fixed="2024-03-11 09:00")  # 1 day
    rd.defect("2024-03-08 10:00", "corridor", "northeast", fixed="2024-03-12 09:00")  # 2: late
    rd.defect("2024-03-08 11:00", "corridor", "southeast")  # open, past due
    rd.defect("2024-03-29 08:00", "corridor", "southeast")  # open, due on Monday
    rd.defect(
        "2024-03-08 12:00",
        "facility",
        "southeast",
        fixed="2024-03-26 09:00",  # 12 working days, but its own due date is later
        due_on=date(2024, 3, 28),
    )
    rd.defect(
        "2024-03-13 12:00", "facility", "southeast", fixed="2024-03-14 09:00", state="verified"
    )
    rd.defect(
        "2024-03-13 12:00", "facility", "southeast", fixed="2024-03-14 09:00", state="in_progress"
    )
    rd.plan("northeast", 7)
    rd.plan("southeast", 14)
    for day in (1, 8, 15):
        rd.inspection_round("northeast", f"2024-01-{day:02d} 09:00")
    rd.inspection_round("northeast", "2024-01-22 09:00", finished=False)  # not done
    db.session.commit()
    f = yearly_report(2024)["defects"]
    corridor, facility = f["by_category"][0], f["by_category"][1]
    assert (corridor["found"], corridor["fixed"], corridor["open"]) == (4, 2, 2)
    assert corridor["median_working_days_to_fix"] == 1.5
    assert (corridor["within_due"], corridor["past_due"], corridor["not_yet_due"]) == (1, 2, 1)
    assert corridor["share_within_due"] == 33.33
    # the reopened one (in progress again, fixed_at kept) is open, not fixed
    assert (facility["found"], facility["fixed"], facility["open"]) == (3, 2, 1)
    assert facility["within_due"] == 2
    assert facility["median_working_days_to_fix"] == 6.5  # 1 and 12 working days
    assert [(z["zone"], z["found"], z["fixed"], z["open"]) for z in f["by_zone"][:2]] == [
        ("northeast", 2, 2, 0),
        ("southeast", 5, 2, 3),
    ]
    assert all(z["found"] == 0 for z in f["by_zone"][2:])
    assert (f["found"], f["fixed"], f["open"]) == (7, 4, 3)
    rounds = {r["zone"]: (r["done"], r["planned"]) for r in f["inspection_rounds"]}
    # 2024-01-01 .. 2024-03-29 is 89 days: 12 weekly walks planned, 6 fortnightly.
    assert rounds == {"northeast": (3, 12), "southeast": (0, 6)}


def test_previous_year_is_beside_this_one(in_2024):
    rd.published_2023()
    rd.dispatch("2024-02-01 10:00", arrived=5)
    db.session.commit()
    report = yearly_report(2024)
    assert report["previous_year"]["year"] == 2023
    assert report["previous_year"]["dispatch"]["rate"] == 86.44
    assert report["dispatch"]["counted"] == 2  # the 2024-01-01 00:05 one and this one


def test_a_future_year_or_nonsense_is_refused(in_2024):
    from models.core.errors import InvalidInput

    with pytest.raises(InvalidInput):
        yearly_report(2025)
    with pytest.raises(InvalidInput):
        yearly_report(1999)
    with pytest.raises(InvalidInput):
        yearly_report("abc")


def test_every_taipei_month_boundary(in_2024):
    import calendar

    for month in range(1, 13):
        last = calendar.monthrange(2024, month)[1]
        rd.dispatch(f"2024-{month:02d}-01 00:00:00", arrived=5)  # first instant of the month
        rd.dispatch(f"2024-{month:02d}-{last:02d} 23:59:59.999999")  # its last instant
    db.session.commit()
    clock.freeze(datetime(2025, 2, 1, tzinfo=clock.TAIPEI))
    months = yearly_report(2024)["dispatch"]["by_month"]
    assert [(m["on_time"], m["late"]) for m in months] == [(1, 1)] * 12


def test_the_sql_month_agrees_with_taipei_time(in_2024):
    import random

    from sqlalchemy import select

    from models.dispatch import Dispatch
    from models.reports import month_expr

    rng = random.Random(6)
    start, end = clock.year_bounds(2023)
    span = int((end - start).total_seconds())
    for _ in range(200):
        row = rd.dispatch("2023-01-01 00:00", arrived=1)
        row.notified_at = start + timedelta(seconds=rng.randrange(span))
    db.session.commit()
    rows = db.session.execute(select(Dispatch.notified_at, month_expr(Dispatch.notified_at, 2023)))
    for notified, month in rows:
        assert month == clock.local(notified).month


def test_categories_are_listed_in_one_order(in_2024):
    """DESIGN "Defects": one ordered list of category codes (models.reference.CATEGORY_CODES),
    written by the seed and used by the report, the ticket pages and the API."""
    from models import facility
    from models.reference import CATEGORY_CODES, categories
    from webapp.api.facility_schemas import CATEGORY

    assert CATEGORY_CODES == ("corridor", "facility", "cleanliness", "ceiling_floor")
    assert [c.code for c in categories()] == list(CATEGORY_CODES)
    by_sort_order = sorted(categories(), key=lambda c: c.sort_order)
    assert [c.code for c in by_sort_order] == list(CATEGORY_CODES)  # as the seed wrote it
    assert [c.code for c in facility.categories()] == list(CATEGORY_CODES)
    report = yearly_report(2024)
    assert [c["category"] for c in report["defects"]["by_category"]] == list(CATEGORY_CODES)
    assert list(CATEGORY.choices) == list(CATEGORY_CODES)


def test_defect_due_dates_use_the_one_working_day_calendar(in_2024):
    """The report's due dates and working days to fix come from models.workdays, edits
    included, and agree with a ticket's own due date (models.facility.due_date)."""
    from models import facility, workdays
    from models.reports import DEFECT_ROW_KEYS, defect_rows

    # Found on Monday 2023-03-06; Tuesday is made a day off; fixed on Wednesday.
    with audit.acting_as(audit.Actor(None, "test")):
        workdays.set_day(date(2023, 3, 7), working=False, name="颱風停班")
    row = rd.defect("2023-03-06 09:00", "corridor", fixed="2023-03-08 09:00")
    db.session.commit()
    assert facility.due_date(row.found_at, row.category) == date(2023, 3, 8)
    [raw] = list(defect_rows(2023))
    assert tuple(raw) == DEFECT_ROW_KEYS  # the XLSX raw sheet's columns, in order
    assert raw["due_on"] == date(2023, 3, 8)  # not the 7th: that day is off now
    assert (raw["working_days_to_fix"], raw["due_status"]) == (1, "within_due")
    corridor = yearly_report(2023)["defects"]["by_category"][0]
    assert (corridor["within_due"], corridor["past_due"]) == (1, 0)
    assert corridor["median_working_days_to_fix"] == 1.0


def test_target_met_when_the_rate_equals_the_target(in_2024):
    """Target met means rate ≥ target: 87 of 100 against 2024's 87 is 已達 (not 未達)."""
    for i in range(100):
        rd.dispatch(f"2024-02-{1 + i % 28:02d} {8 + i // 28:02d}:00", arrived=5 if i < 87 else 15)
    db.session.commit()
    report = yearly_report(2024)
    d = report["dispatch"]
    assert (d["counted"], d["on_time"], d["rate"], d["target"]) == (100, 87, 87.0, 87)
    assert d["target_met"] is True
    assert d["year_to_date"]["needed_in_a_row"] == 0
    assert report["narrative"][0].endswith("年度達成率為87.00%，已達113年度訂定之87%目標值。")
    assert target_met(Decimal("87.00"), Decimal("87")) is True
    assert target_met(Decimal("86.99"), Decimal("87")) is False


def test_the_defect_sentence_counts_the_fixed_defects_not_the_found(in_2024):
    """The second sentence names the defects fixed (ticket fixed or verified) of those found in
    the year, in total and per category; a year where found ≠ fixed tells them apart."""
    rd.defect("2023-03-01 10:00", "corridor", fixed="2023-03-02 10:00")
    rd.defect("2023-03-01 11:00", "corridor", fixed="2023-03-03 10:00", state="verified")
    rd.defect("2023-03-01 12:00", "corridor")  # still open
    rd.defect("2023-04-01 10:00", "facility")
    rd.defect("2023-04-01 11:00", "facility", state="in_progress")
    rd.defect("2023-05-01 10:00", "cleanliness", fixed="2023-05-01 15:00")
    db.session.commit()
    report = yearly_report(2023)
    f = report["defects"]
    assert (f["found"], f["fixed"], f["open"]) == (6, 3, 3)
    assert [(c["category"], c["found"], c["fixed"]) for c in f["by_category"]] == [
        ("corridor", 3, 2),
        ("facility", 2, 0),
        ("cleanliness", 1, 1),
        ("ceiling_floor", 0, 0),
    ]
    assert report["narrative"][1] == (
        "112年度缺失案件並完成改善總計3件(淨空走道2件、設施正常0件、環境整潔1件、天地無虞0件)。"
    )


def test_a_record_at_the_first_instant_of_the_next_year_belongs_to_that_year(in_2024):
    """A year is [Taipei 1 January 00:00, next 1 January 00:00): a record exactly at Taipei
    2024-01-01 00:00:00 counts in 2024 and not in 2023; one at 2023-01-01 00:00:00 in 2023."""
    rd.dispatch("2024-01-01 00:00:00", arrived=5)
    rd.defect("2024-01-01 00:00:00", "corridor", fixed="2024-01-02 10:00")
    rd.dispatch("2023-01-01 00:00:00", arrived=15)
    rd.defect("2023-01-01 00:00:00", "facility", fixed="2023-01-03 10:00")
    db.session.commit()
    start, end = clock.year_bounds(2023)
    assert (start, end) == (
        datetime(2022, 12, 31, 16, tzinfo=clock.UTC),
        datetime(2023, 12, 31, 16, tzinfo=clock.UTC),
    )
    y2023, y2024 = yearly_report(2023), yearly_report(2024)
    assert (y2023["dispatch"]["counted"], y2023["dispatch"]["late"]) == (1, 1)
    assert y2023["dispatch"]["by_month"][0]["late"] == 1
    assert (y2024["dispatch"]["counted"], y2024["dispatch"]["on_time"]) == (1, 1)
    assert y2024["dispatch"]["by_month"][0]["on_time"] == 1
    assert [c["found"] for c in y2023["defects"]["by_category"]] == [0, 1, 0, 0]
    assert [c["found"] for c in y2024["defects"]["by_category"]] == [1, 0, 0, 0]


def test_the_narrative_without_a_target_states_the_rate_alone():
    """No target for the year: the first sentence ends with the rate, no 已達/未達; an unset
    target is written —."""
    dispatch = {"counted": 3, "late": 1, "rate": 66.67, "target": None, "target_met": None}
    defects = {"fixed": 0, "by_category": []}
    first, _second = narrative(2022, {**dispatch, "sla_minutes": 10}, defects)
    assert first == (
        "111年度民眾臨櫃陳情，經本處通知主管機關派員到場服務案件共計3件。"
        "其中計有1件超過10分鐘到場，年度達成率為66.67%。"
    )
    assert format_target(None) == "—"


def test_a_defect_is_past_due_only_after_its_due_date():
    """Open on its due date: not yet due; the day after: past due; fixed on it: within due."""
    from models.reports.rules import DueDates

    found, due = date(2024, 3, 4), date(2024, 3, 5)
    dues = DueDates()
    assert dues.due_status(found, None, due, 1, today=due) == "not_yet_due"
    assert dues.due_status(found, None, due, 1, today=due + timedelta(days=1)) == "past_due"
    assert dues.due_status(found, due, due, 1, today=due + timedelta(days=9)) == "within_due"


def test_a_rate_is_written_half_up_to_two_decimals():
    """format_rate rounds half up: 86.445 is 86.45 (banker's rounding would give 86.44)."""
    assert format_rate(Decimal("86.445")) == "86.45"
    assert format_rate(86.435) == "86.44"


def test_a_report_year_is_a_number_from_2000_to_2100_already_started(english):
    """check_year: 2000..2100 inclusive and not after the current Taipei year, each refusal
    with its own message."""
    from models.core.errors import InvalidInput
    from models.reports.rules import check_year

    in_2100 = datetime(2100, 6, 1, tzinfo=clock.UTC)
    assert check_year(2000, in_2100) == 2000
    assert check_year("2100", in_2100) == 2100
    for year in (1999, 2101):
        with pytest.raises(InvalidInput, match="^The year must be between 2000 and 2100$"):
            check_year(year, in_2100)
    with pytest.raises(InvalidInput, match="^“abc” is not a year: type it as an ROC year"):
        check_year("abc", in_2100)
    with pytest.raises(InvalidInput, match="^2031 has not started yet: there is no report for it$"):
        check_year(2031, datetime(2030, 6, 1, tzinfo=clock.UTC))


def test_needed_in_a_row_is_the_shortest_run_that_reaches_the_target():
    """needed_in_a_row agrees with counting one arrival at a time, for rates below, at and
    above the target (the target 100 is reached once the rate rounds to 100.00)."""
    for on_time, counted in [(0, 0), (0, 1), (1, 3), (8, 10), (51, 59), (79, 100)]:
        for target in ("50", "85", "87", "99.5", "100"):
            n = 0
            while (value := rate(on_time + n, counted + n)) is None or value < Decimal(target):
                n += 1
            needed = needed_in_a_row(on_time, counted, Decimal(target))
            # a count of arrivals: a whole number, shown as 3 (never 3.0)
            assert needed == n and type(needed) is int, (on_time, target, needed)
    assert needed_in_a_row(1, 2, Decimal("100.01")) is None
    assert needed_in_a_row(1, 2, None) is None


def test_on_time_at_answers_for_the_instant_asked(in_2024):
    """on_time_at(at) is the outcome at `at`, not now: open within its deadline now (pending),
    late once the deadline has passed."""
    d = rd.dispatch("2024-03-04 09:58")  # deadline 10:08; now is 10:00
    db.session.commit()
    assert d.on_time_at(clock.now()) is None
    assert d.on_time_at(clock.now() + timedelta(minutes=20)) is False
