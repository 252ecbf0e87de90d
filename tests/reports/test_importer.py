"""Import of past records: whole-file validation, all or nothing, idempotent, CLI and admin page."""

import io
import json
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from models.core import audit, db
from models.core.errors import InvalidInput
from models.dispatch import Dispatch, Outcome
from models.facility import Defect
from models.reports import yearly_report
from models.reports.importer import apply, check
from webapp.cli import cli

DISPATCH_HEADER = "reference,agency,notified_at,outcome,arrived_at,closed_at,sla_seconds,subject"
DEFECT_HEADER = "reference,category,zone,floor,found_at,fixed_at,source,description"


def csv_bytes(*lines: str, bom: bool = False) -> bytes:
    """A CSV file from lines (CRLF, as Excel writes), optionally with a BOM."""
    data = "\r\n".join(lines).encode() + b"\r\n"
    return (b"\xef\xbb\xbf" + data) if bom else data


def dispatch_count() -> int:
    return db.session.scalar(select(func.count()).select_from(Dispatch))


def defect_count() -> int:
    return db.session.scalar(select(func.count()).select_from(Defect))


def run(kind: str, data: bytes):
    result = check(kind, data)
    if result.ok:
        with audit.acting_as(audit.Actor(None, "test")):
            apply(result, source="test.csv")
        db.session.commit()
    else:
        db.session.rollback()
    return result


GOOD_DISPATCHES = csv_bytes(
    DISPATCH_HEADER + ",extra column",
    "D-1,social-welfare,2023-03-05 14:03,arrived,2023-03-05 14:09,,,陳情,ignored",
    "D-2,社會局,2023-03-05T14:03:00+08:00,arrived,2023-03-05T14:20:00+08:00,,,,x",
    "D-3,衛生局,2023-04-01 09:00,cancelled,,2023-04-01 09:05,,,",
    "D-4,labor,2023-04-02 09:00,transferred,,2023-04-02 09:03,,,",
    "D-5,labor,2023-04-03 09:00,open,,,900,,",
    bom=True,
)


def test_a_good_file_with_bom_and_taipei_times_is_imported(frozen_clock):
    result = run("dispatches", GOOD_DISPATCHES)
    assert result.ok, [str(p) for p in result.problems]
    assert (result.rows, result.added, result.identical) == (5, 5, 0)
    rows = {d.reference: d for d in db.session.scalars(select(Dispatch))}
    # "2023-03-05 14:03" is Taipei time: the same instant as 14:03+08:00, 06:03 UTC.
    expected = datetime(2023, 3, 5, 6, 3, tzinfo=UTC)
    assert rows["D-1"].notified_at == rows["D-2"].notified_at == expected
    assert rows["D-1"].agency.code == rows["D-2"].agency.code == "social-welfare"
    assert rows["D-1"].subject == "陳情" and rows["D-1"].state == "arrived"
    assert rows["D-1"].sla_seconds == 600 and rows["D-5"].sla_seconds == 900
    assert rows["D-1"].deadline_at == datetime(2023, 3, 5, 6, 13, tzinfo=UTC)
    assert rows["D-3"].state == "cancelled" and rows["D-3"].ended_at is not None
    assert rows["D-5"].state == "notified" and rows["D-5"].arrived_at is None
    d = yearly_report(2023)["dispatch"]
    assert (d["on_time"], d["late"], d["excluded"]) == (
        1,
        2,  # D-2 arrived after 17 minutes; D-5 is still open long past its deadline
        {"cancelled": 1, "transferred": 1},
    )


def test_importing_the_same_file_again_changes_nothing(frozen_clock):
    run("dispatches", GOOD_DISPATCHES)
    before = dispatch_count()
    again = run("dispatches", GOOD_DISPATCHES)
    assert again.ok and (again.added, again.identical) == (0, 5)
    assert dispatch_count() == before
    # A file with one new row and the old ones adds just the new one.
    more = GOOD_DISPATCHES + b"D-6,labor,2023-05-01 09:00,arrived,2023-05-01 09:04,,,\r\n"
    third = run("dispatches", more)
    assert (third.added, third.identical) == (1, 5)
    assert dispatch_count() == before + 1


def test_an_existing_reference_with_different_data_is_refused(english, frozen_clock):
    run("dispatches", GOOD_DISPATCHES)
    changed = csv_bytes(
        DISPATCH_HEADER,
        "D-7,labor,2023-05-01 09:00,arrived,2023-05-01 09:04,,,",
        "D-1,social-welfare,2023-03-05 14:03,arrived,2023-03-05 14:19,,,陳情",
    )
    result = run("dispatches", changed)
    assert not result.ok
    assert [(p.line, p.column) for p in result.problems] == [(3, "reference")]
    assert "arrived_at" in str(result.problems[0])
    assert db.session.scalar(select(Dispatch).where(Dispatch.reference == "D-7")) is None


BAD_DISPATCH_ROWS = [
    ("D-9,nowhere,2023-03-05 14:03,arrived,2023-03-05 14:09,,,", "agency", "nowhere"),
    ("D-9,labor,05/03/2023 14:03,arrived,2023-03-05 14:09,,,", "notified_at", "ISO 8601"),
    ("D-9,labor,2023-02-30 14:03,open,,,,", "notified_at", "2023-02-30"),
    ("D-9,labor,2023-03-05 14:03,arrived,2023-03-05 14:00,,,", "arrived_at", "earlier"),
    ("D-9,labor,2023-03-05 14:03,arrived,,,,", "arrived_at", "required"),
    ("D-9,labor,2023-03-05 14:03,cancelled,,,,", "closed_at", "required"),
    ("D-9,labor,2023-03-05 14:03,gone,,,,", "outcome", "gone"),
    ("D-9,labor,2023-03-05 14:03,open,,,ten,", "sla_seconds", "seconds"),
    ("D-9,labor,2030-03-05 14:03,open,,,,", "notified_at", "future"),
    (",labor,2023-03-05 14:03,open,,,,", "reference", "required"),
    ("D-9,labor,2023-03-05 14:03,open,2023-03-05 14:09,,,", "arrived_at", "arrival time"),
]


@pytest.mark.parametrize(("row", "column", "words"), BAD_DISPATCH_ROWS)
def test_each_kind_of_bad_dispatch_row_stops_the_whole_file(
    english, frozen_clock, row, column, words
):
    data = csv_bytes(
        DISPATCH_HEADER,
        "D-1,labor,2023-03-05 14:03,arrived,2023-03-05 14:09,,,",
        row,
        "D-2,labor,2023-03-06 14:03,arrived,2023-03-06 14:09,,,",
    )
    result = run("dispatches", data)
    assert not result.ok
    problem = result.problems[0]
    assert (problem.line, problem.column) == (3, column)
    assert words in str(problem)
    assert str(problem).startswith("line 3, column " + column)
    assert dispatch_count() == 0  # not even the good rows


def test_a_duplicate_reference_in_the_file(english, frozen_clock):
    data = csv_bytes(
        DISPATCH_HEADER,
        "D-1,labor,2023-03-05 14:03,arrived,2023-03-05 14:09,,,",
        "D-2,labor,2023-03-05 14:03,arrived,2023-03-05 14:09,,,",
        "D-1,health,2023-03-07 14:03,arrived,2023-03-07 14:09,,,",
    )
    result = run("dispatches", data)
    assert [(p.line, p.column) for p in result.problems] == [(4, "reference")]
    assert "first on line 2" in str(result.problems[0])
    assert dispatch_count() == 0


@pytest.mark.parametrize("repeat_differs", [False, True], ids=["same", "changed"])
def test_a_repeat_of_an_already_imported_reference_is_one_problem_on_the_repeat(
    english, frozen_clock, repeat_differs
):
    """D-1 is stored; a file with D-1 twice gets exactly one problem: the repeat appears twice.
    The first D-1 matches the stored record (skipped, no problem) and the repeat is never
    compared with the stored record, even when its data differs (no second problem)."""
    run("dispatches", GOOD_DISPATCHES)
    before = dispatch_count()
    stored = "D-1,social-welfare,2023-03-05 14:03,arrived,2023-03-05 14:09,,,陳情"
    changed = "D-1,social-welfare,2023-03-05 14:03,arrived,2023-03-05 14:19,,,陳情"
    data = csv_bytes(
        DISPATCH_HEADER,
        stored,
        "D-8,labor,2023-05-01 09:00,arrived,2023-05-01 09:04,,,",
        changed if repeat_differs else stored,
    )
    result = run("dispatches", data)
    assert [str(p) for p in result.problems] == [
        "line 4, column reference: D-1 appears twice (first on line 2)"
    ]
    assert dispatch_count() == before  # not even D-8


def test_every_problem_is_listed_not_only_the_first(frozen_clock):
    data = csv_bytes(
        DISPATCH_HEADER,
        "D-1,nowhere,yesterday,gone,,,,",
        "D-2,labor,2023-03-05 14:03,arrived,2023-03-05 14:09,,,",
        "D-3,labor,2023-03-05 14:03,arrived,2023-03-05 13:00,,,",
    )
    result = run("dispatches", data)
    assert [(p.line, p.column) for p in result.problems] == [
        (2, "agency"),
        (2, "notified_at"),
        (2, "outcome"),
        (4, "arrived_at"),
    ]


def test_a_missing_required_column(english, frozen_clock):
    data = csv_bytes("reference,agency,outcome", "D-1,labor,open")
    result = run("dispatches", data)
    assert [(p.line, p.column) for p in result.problems] == [(1, "notified_at")]
    assert "column is missing" in str(result.problems[0])


def test_a_file_that_is_not_utf8_or_empty(english, frozen_clock):
    latin = (DISPATCH_HEADER + "\r\nD-1,labor,2023-03-05 14:03,open,,,,caf\xe9\r\n").encode(
        "latin-1"
    )
    result = run("dispatches", latin)
    assert [(p.line, p.column) for p in result.problems] == [(2, "")]
    assert "UTF-8" in str(result.problems[0])
    assert not run("dispatches", b"").ok
    header_only = run("dispatches", csv_bytes(DISPATCH_HEADER))
    assert "no data rows" in str(header_only.problems[0])


def test_a_quoted_field_over_two_lines_keeps_line_numbers_right(frozen_clock):
    data = csv_bytes(
        DISPATCH_HEADER,
        'D-1,labor,2023-03-05 14:03,open,,,,"two\r\nlines"',
        "D-2,nowhere,2023-03-05 14:03,open,,,,",
    )
    result = run("dispatches", data)
    assert [(p.line, p.column) for p in result.problems] == [(4, "agency")]


def test_imported_text_that_cannot_be_stored_is_a_problem_and_nothing_is_imported(
    english, frozen_clock
):
    """The one text rule (models.core.text): NUL is refused with its line and column, never
    stripped, in dispatch and defect files alike."""
    dispatches = csv_bytes(
        DISPATCH_HEADER,
        "D-1,labor,2023-03-05 14:03,arrived,2023-03-05 14:09,,,fine",
        "D-2,labor,2023-03-06 14:03,arrived,2023-03-06 14:09,,,bad\x00subject",
    )
    result = run("dispatches", dispatches)
    assert [(p.line, p.column) for p in result.problems] == [(3, "subject")]
    assert str(result.problems[0]).startswith("line 3, column subject:")
    assert "not allowed" in str(result.problems[0])
    assert dispatch_count() == 0
    defects = csv_bytes(
        DEFECT_HEADER,
        "F-1,corridor,northeast,3F,2023-05-02 10:00,,inspection,紙箱\x00",
        "F\x002,corridor,northeast,3F,2023-05-02 10:00,,inspection,",
    )
    result = run("defects", defects)
    assert [(p.line, p.column) for p in result.problems] == [(2, "description"), (3, "reference")]
    assert defect_count() == 0


def test_imported_deadline_is_notified_at_plus_the_rows_own_sla(frozen_clock):
    """The deadline rule (models.dispatch.deadline_after) with the row's own SLA of 5 minutes,
    not the 10 in force: an arrival after 7 minutes falls between the two and is late."""
    data = csv_bytes(
        DISPATCH_HEADER,
        "D-1,labor,2023-03-05 14:00,arrived,2023-03-05 14:07,,300,",
        "D-2,labor,2023-03-05 15:00,arrived,2023-03-05 15:07,,,",
    )
    result = run("dispatches", data)
    assert result.ok, [str(p) for p in result.problems]
    rows = {d.reference: d for d in db.session.scalars(select(Dispatch))}
    own, default = rows["D-1"], rows["D-2"]
    assert own.sla_seconds == 300 and default.sla_seconds == 600
    assert own.deadline_at == datetime(2023, 3, 5, 6, 5, tzinfo=UTC)  # 14:05 in Taipei
    assert own.deadline_at == own.notified_at + timedelta(seconds=300)
    assert default.deadline_at == datetime(2023, 3, 5, 7, 10, tzinfo=UTC)  # 15:10 in Taipei
    assert own.outcome(frozen_clock.now()) == Outcome.LATE
    assert default.outcome(frozen_clock.now()) == Outcome.ON_TIME
    d = yearly_report(2023)["dispatch"]
    assert (d["on_time"], d["late"], d["rate"]) == (1, 1, 50.0)


def test_apply_imports_nothing_from_a_checked_file_with_problems(english, frozen_clock):
    """All or nothing: apply() of a check that found problems refuses, even though some of the
    rows were valid (without the guard those would be imported: a partial import)."""
    data = csv_bytes(
        DISPATCH_HEADER,
        "D-1,labor,2023-03-05 14:00,arrived,2023-03-05 14:07,,,",
        "D-2,nowhere,2023-03-05 15:00,open,,,,",
        "D-3,labor,2023-03-06 15:00,open,,,,",
    )
    result = check("dispatches", data)
    assert not result.ok and len(result.new_rows) == 2
    with (
        audit.acting_as(audit.Actor(None, "test")),
        pytest.raises(InvalidInput, match=r"^The file has problems; nothing was imported$"),
    ):
        apply(result, source="test.csv")
    db.session.commit()
    assert dispatch_count() == 0
    assert result.added == 0


def test_an_import_is_audited_with_its_file_digest_and_counts(frozen_clock):
    """One audit entry per applied file: its name, SHA-256 and what was read, added, skipped."""
    run(
        "dispatches",
        csv_bytes(DISPATCH_HEADER, "D-3,衛生局,2023-04-01 09:00,cancelled,,2023-04-01 09:05,,,"),
    )
    result = check("dispatches", GOOD_DISPATCHES)
    counted = []
    with audit.acting_as(audit.Actor(None, "test")):
        assert apply(result, progress=counted.append) == 4
    db.session.commit()
    assert counted == [4]
    digest = __import__("hashlib").sha256(GOOD_DISPATCHES).hexdigest()
    entry = db.session.scalars(select(audit.AuditEntry).order_by(audit.AuditEntry.seq)).all()[-1]
    assert (entry.action, entry.object_type, entry.object_id, entry.before) == (
        "import.dispatches",
        "import",
        digest[:16],
        None,
    )
    assert entry.after == {"file": "", "sha256": digest, "rows": 5, "added": 4, "skipped": 1}


def test_references_added_meanwhile_refuse_the_whole_file(english, frozen_clock):
    """A reference another import added after the check: Conflict, and nothing is imported."""
    from models.core.errors import Conflict

    result = check("dispatches", GOOD_DISPATCHES)
    assert result.ok
    run("dispatches", csv_bytes(DISPATCH_HEADER, "D-5,labor,2023-04-03 09:00,open,,,900,,"))
    message = (
        r"^Some of these references were added by someone else meanwhile; check the file again$"
    )
    with audit.acting_as(audit.Actor(None, "test")), pytest.raises(Conflict, match=message):
        apply(result, source="late.csv")
    db.session.rollback()
    assert dispatch_count() == 1


GOOD_DEFECTS = csv_bytes(
    DEFECT_HEADER,
    "F-1,corridor,northeast,3F,2023-05-02 10:00,2023-05-03 09:00,inspection,走道堆放紙箱",
    "F-2,天地無虞,東南區,b1,2023-05-02 10:00,,report,",
    "F-3,環境整潔,central-north,,2023-05-04 10:00,2023-05-04T15:00:00+08:00,巡檢,",
    bom=True,
)


def test_defects_are_imported_by_code_or_chinese_name(frozen_clock):
    result = run("defects", GOOD_DEFECTS)
    assert result.ok, [str(p) for p in result.problems]
    rows = {d.reference: d for d in db.session.scalars(select(Defect))}
    assert rows["F-1"].state == "fixed" and rows["F-1"].floor.code == "3F"
    assert rows["F-2"].category.code == "ceiling_floor" and rows["F-2"].zone.code == "southeast"
    assert rows["F-2"].state == "reported" and rows["F-2"].floor.code == "B1"
    assert rows["F-3"].floor is None and rows["F-3"].source == "inspection"
    # Found on Tuesday 2023-05-02; a corridor defect is due one working day later.
    assert rows["F-1"].due_on == date(2023, 5, 3)
    assert rows["F-2"].due_on == date(2023, 5, 5)  # 天地無虞: three working days
    f = yearly_report(2023)["defects"]
    assert (f["found"], f["fixed"], f["open"]) == (3, 2, 1)
    again = run("defects", GOOD_DEFECTS)
    assert (again.added, again.identical) == (0, 3) and defect_count() == 3


BAD_DEFECT_ROWS = [
    ("F-9,rubbish,northeast,3F,2023-05-02 10:00,,inspection,", "category", "rubbish"),
    ("F-9,corridor,attic,3F,2023-05-02 10:00,,inspection,", "zone", "attic"),
    ("F-9,corridor,northeast,99F,2023-05-02 10:00,,inspection,", "floor", "99F"),
    ("F-9,corridor,northeast,3F,2023-05-02 10:00,2023-05-01 10:00,report,", "fixed_at", "earlier"),
    ("F-9,corridor,northeast,3F,2023-05-02 10:00,,walk,", "source", "walk"),
    ("F-9,corridor,northeast,3F,,,report,", "found_at", "required"),
]


@pytest.mark.parametrize(("row", "column", "words"), BAD_DEFECT_ROWS)
def test_each_kind_of_bad_defect_row_stops_the_whole_file(
    english, frozen_clock, row, column, words
):
    data = csv_bytes(DEFECT_HEADER, "F-1,corridor,northeast,3F,2023-05-02 10:00,,inspection,", row)
    result = run("defects", data)
    assert [(p.line, p.column) for p in result.problems] == [(3, column)]
    assert words in str(result.problems[0])
    assert defect_count() == 0


# --- The CLI ----------------------------------------------------------------------------------


def test_cli_import_adds_then_skips(runner, tmp_path, frozen_clock):
    path = tmp_path / "dispatches.csv"
    path.write_bytes(GOOD_DISPATCHES)
    first = runner.invoke(cli, ["import", "dispatches", str(path), "--lang", "en"])
    assert first.exit_code == 0, first.output
    assert "5 rows read: 5 added, 0 skipped" in first.output
    second = runner.invoke(cli, ["import", "dispatches", str(path), "--lang", "en"])
    assert second.exit_code == 0 and "0 added, 5 skipped" in second.output
    assert dispatch_count() == 5


def test_cli_import_lists_problems_and_exits_non_zero(runner, tmp_path, frozen_clock):
    path = tmp_path / "bad.csv"
    path.write_bytes(
        csv_bytes(
            DISPATCH_HEADER,
            "D-1,labor,2023-03-05 14:03,arrived,2023-03-05 14:09,,,",
            "D-2,nowhere,2023-03-05 14:03,arrived,2023-03-05 14:01,,,",
        )
    )
    result = runner.invoke(cli, ["import", "dispatches", str(path), "--lang", "en"])
    assert result.exit_code == 1
    assert "line 3, column agency: unknown agency “nowhere”" in result.stderr
    assert "line 3, column arrived_at: earlier than notified_at" in result.stderr
    assert "Nothing was imported: 2 problem(s)" in result.stderr
    assert "Traceback" not in result.output + result.stderr
    assert dispatch_count() == 0
    chinese = runner.invoke(cli, ["import", "dispatches", str(path)])
    assert "第 3 行，欄位 agency：未知的機關「nowhere」" in chinese.stderr


def test_cli_import_of_a_missing_file(runner, frozen_clock):
    result = runner.invoke(cli, ["import", "defects", "/nonexistent/file.csv"])
    assert result.exit_code == 2 and "does not exist" in result.stderr


def test_cli_report_formats(runner, frozen_clock):
    from tests.reports import data as rd

    rd.published_2023()
    as_json = runner.invoke(cli, ["report", "yearly", "--year", "2023", "--format", "json"])
    assert as_json.exit_code == 0
    data = json.loads(as_json.stdout)
    expected = yearly_report(2023)
    for key in ("dispatch", "defects", "narrative", "previous_year"):
        assert data[key] == expected[key]
    as_csv = runner.invoke(cli, ["report", "yearly", "--year", "2023", "--format", "csv"])
    assert "2023,dispatch,,rate,86.44" in as_csv.stdout
    text = runner.invoke(cli, ["report", "yearly", "--year", "2023", "--format", "text"])
    assert text.exit_code == 0
    assert "年度達成率為86.44%，已達112年度訂定之85%目標值。" in text.stdout
    assert text.stdout.startswith("112年度（2023） — 年度達成情形報告\n")
    english = runner.invoke(cli, ["report", "yearly", "--year", "2023", "--lang", "en"])
    assert "On-time rate (%): 86.44" in english.stdout


def test_cli_report_bad_year(runner, frozen_clock):
    result = runner.invoke(cli, ["report", "yearly", "--year", "2031", "--lang", "en"])
    assert result.exit_code == 1 and "2031 has not started yet" in result.stderr
    nonsense = runner.invoke(cli, ["report", "yearly", "--year", "abc", "--lang", "en"])
    assert nonsense.exit_code == 1
    assert "“abc” is not a year: type it as an ROC year (such as 113)" in nonsense.stderr


def test_cli_report_takes_an_roc_year(runner, frozen_clock):
    roc = runner.invoke(cli, ["report", "yearly", "--year", "112", "--format", "json"])
    gregorian = runner.invoke(cli, ["report", "yearly", "--year", "2023", "--format", "json"])
    assert roc.exit_code == 0 and json.loads(roc.stdout)["year"] == 2023
    assert json.loads(roc.stdout)["dispatch"] == json.loads(gregorian.stdout)["dispatch"]


# --- The admin page ---------------------------------------------------------------------------


def upload(client, data: bytes, kind: str = "dispatches", name: str = "records.csv"):
    return client.post(
        "/admin/import",
        data={"kind": kind, "file": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
    )


def test_admin_page_checks_then_imports_on_confirm(login_as, frozen_clock):
    client, _user = login_as("admin")
    page = upload(client, GOOD_DISPATCHES)
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "5 列均無問題：將新增 5 筆" in html
    assert dispatch_count() == 0  # nothing until confirmed
    import re

    token = re.search(r'name="token" type="hidden" value="([0-9a-f]{32})"', html).group(1)
    done = client.post("/admin/import/confirm", data={"token": token}, follow_redirects=True)
    assert "讀取 5 列：新增 5 筆，略過 0 筆" in done.get_data(as_text=True)
    assert dispatch_count() == 5
    # The token is spent.
    assert client.post("/admin/import/confirm", data={"token": token}).status_code == 404


def test_confirming_after_the_records_changed_meanwhile_imports_nothing(login_as, frozen_clock):
    """The file is checked again on confirm: a row that now conflicts with a record imported
    in between refuses the whole file (without the checks, 4 of its 5 rows were imported)."""
    import re

    client, _user = login_as("admin")
    html = upload(client, GOOD_DISPATCHES).get_data(as_text=True)
    assert "5 列均無問題：將新增 5 筆" in html
    token = re.search(r'name="token" type="hidden" value="([0-9a-f]{32})"', html).group(1)
    meanwhile = csv_bytes(
        DISPATCH_HEADER, "D-3,衛生局,2023-04-01 09:00,cancelled,,2023-04-01 09:07,,,"
    )
    assert run("dispatches", meanwhile).ok
    done = client.post("/admin/import/confirm", data={"token": token}, follow_redirects=True)
    text = done.get_data(as_text=True)
    assert "檔案目前有問題（期間紀錄已有變動），未匯入任何資料。" in text
    assert "新增 5 筆" not in text and "新增 4 筆" not in text
    db.session.expire_all()
    assert dispatch_count() == 1
    assert db.session.scalar(select(Dispatch.reference)) == "D-3"


def test_admin_page_lists_problems_and_imports_nothing(login_as, frozen_clock):
    client, _user = login_as("supervisor")
    data = csv_bytes(DISPATCH_HEADER, "D-1,nowhere,2023-03-05 14:03,open,,,,")
    html = upload(client, data).get_data(as_text=True)
    assert "1 個問題：不會匯入任何資料" in html
    assert "未知的機關「nowhere」" in html and "confirm" not in html.split("check-title")[1]
    assert dispatch_count() == 0


def test_admin_page_is_for_supervisors_and_admins(login_as, frozen_clock):
    client, _user = login_as("clerk")
    assert client.get("/admin/import").status_code == 403
    assert upload(client, GOOD_DISPATCHES).status_code == 403
    assert dispatch_count() == 0


def test_admin_page_refuses_bad_tokens_and_missing_files(login_as, frozen_clock):
    # (one signed-in user per test: the test app context shares flask-login's g)
    admin, _user = login_as("admin")
    assert admin.post("/admin/import/confirm", data={"token": "../../etc"}).status_code == 400
    missing = admin.post("/admin/import/confirm", data={"token": "0" * 32})
    assert missing.status_code == 404
    no_file = admin.post("/admin/import", data={"kind": "dispatches"})
    assert "請選擇 CSV 檔" in no_file.get_data(as_text=True)


# --- Files the CSV reader cannot read: a problem with line and column, never a traceback ------

UNREADABLE = {
    # name: (file, (line, column) of the problem, words of the message)
    "NUL in an ignored column": (
        csv_bytes(DISPATCH_HEADER + ",note", "D-1,labor,2023-03-05 14:03,open,,,,s,a\x00b"),
        (2, "note"),
        "not allowed",
    ),
    "NUL in the header": (
        csv_bytes(DISPATCH_HEADER + ",n\x00te", "D-1,labor,2023-03-05 14:03,open,,,,s,a"),
        (1, "9"),
        "not allowed",
    ),
    "a 200,000-character field": (
        csv_bytes(
            DISPATCH_HEADER,
            "D-1,labor,2023-03-05 14:03,open,,,,s",
            "D-2,labor,2023-03-05 14:03,open,,,," + "x" * 200_000,
        ),
        (3, "subject"),
        "a value over 131072 characters",
    ),
    "an unterminated quote": (
        csv_bytes(
            DISPATCH_HEADER,
            'D-1,labor,"2023-03-05 14:03,open,,,,s',
            "D-2,labor,2023-03-05 14:03,open,,,,s",
        ),
        (2, "notified_at"),
        "this quote is never closed",
    ),
    "text after a closing quote": (
        csv_bytes(DISPATCH_HEADER, 'D-1,labor,2023-03-05 14:03,open,,,,"s"x'),
        (2, "subject"),
        "text after the closing quote",
    ),
}


@pytest.mark.parametrize("name", list(UNREADABLE))
def test_an_unreadable_file_is_a_problem_with_line_and_column(name, english, frozen_clock):
    data, where, words = UNREADABLE[name]
    result = run("dispatches", data)
    assert [(p.line, p.column) for p in result.problems] == [where]
    assert words in str(result.problems[0])
    assert dispatch_count() == 0


def test_a_nul_in_a_field_is_refused_on_the_database_too(english, frozen_clock):
    """SQLite would store a NUL, PostgreSQL refuses it: the check lists it first."""
    data = csv_bytes(DISPATCH_HEADER, '1,labor,2023-03-05 14:03,open,,,,"a\x00"')
    result = run("dispatches", data)
    assert [(p.line, p.column) for p in result.problems] == [(2, "subject")]
    assert dispatch_count() == 0


def test_a_quote_spanning_lines_reports_the_line_where_it_opens(english, frozen_clock):
    data = csv_bytes(
        DISPATCH_HEADER,
        'D-1,labor,2023-03-05 14:03,open,,,,"two\r\nlines"',
        'D-2,labor,2023-03-05 14:03,open,,,,"never\r\nclosed',
    )
    result = run("dispatches", data)
    assert [(p.line, p.column) for p in result.problems] == [(4, "subject")]


@pytest.mark.parametrize("name", list(UNREADABLE))
def test_admin_page_lists_an_unreadable_file_and_refuses_confirm(name, login_as, frozen_clock):
    data, (line, column), _words = UNREADABLE[name]
    client, _user = login_as("admin")
    page = upload(client, data)
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "1 個問題：不會匯入任何資料" in html
    cells = f'<td class="num">{line}</td><td><code>{column}</code></td>'
    assert cells in html
    assert 'name="token"' not in html  # no Confirm button
    assert dispatch_count() == 0


def test_admin_confirm_of_a_nul_file_imports_nothing(login_as, frozen_clock):
    """Confirm checks again: a token of a file with a NUL is refused, not a 500."""
    import re

    client, _user = login_as("admin")
    html = upload(client, GOOD_DISPATCHES).get_data(as_text=True)
    token = re.search(r'name="token" type="hidden" value="([0-9a-f]{32})"', html).group(1)
    from webapp.reports.imports import _paths

    with client.application.app_context():
        _paths(token)[0].write_bytes(UNREADABLE["NUL in an ignored column"][0])
    done = client.post("/admin/import/confirm", data={"token": token}, follow_redirects=True)
    assert done.status_code == 200 and "未匯入任何資料" in done.get_data(as_text=True)
    assert dispatch_count() == 0


@pytest.mark.parametrize("name", list(UNREADABLE))
def test_cli_import_of_an_unreadable_file_exits_1(name, runner, tmp_path, frozen_clock):
    data, (line, column), words = UNREADABLE[name]
    path = tmp_path / "bad.csv"
    path.write_bytes(data)
    result = runner.invoke(cli, ["import", "dispatches", str(path), "--lang", "en"])
    assert result.exit_code == 1
    assert f"line {line}, column {column}: " in result.stderr and words in result.stderr
    assert "Nothing was imported: 1 problem(s)" in result.stderr
    assert "Traceback" not in result.output + result.stderr
    assert dispatch_count() == 0


def test_cli_lists_the_first_100_problems_and_counts_the_rest(runner, tmp_path, frozen_clock):
    rows = [f"D-{n},nowhere,2023-03-05 14:03,open,,,," for n in range(250)]
    path = tmp_path / "bad.csv"
    path.write_bytes(csv_bytes(DISPATCH_HEADER, *rows))
    result = runner.invoke(cli, ["import", "dispatches", str(path), "--lang", "en"])
    assert result.exit_code == 1
    listed = [line for line in result.stderr.splitlines() if line.startswith("line ")]
    assert len(listed) == 100 and listed[-1].startswith("line 101,")
    assert "… and 150 more problem(s)." in result.stderr
    assert "Nothing was imported: 250 problem(s)" in result.stderr
    assert dispatch_count() == 0
