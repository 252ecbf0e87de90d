"""The audit trail as a supervisor reads it (issue 15): names, actions in words, the object as a
link with its reference, each change as before → after in words with ROC dates; filters by
person, action, object and dates (ROC or Western); the filtered view as XLSX for 內控."""

import ast
import io
import re
from pathlib import Path

import pytest
from flask import current_app
from openpyxl import load_workbook

from models.core import audit, clock, db
from models.dispatch.escalation import AUDIT_ACTIONS
from models.reports.importer import KINDS
from tests.facility.support import move, new_ticket, to_fixed
from webapp.admin.audit_trail import ACTION_LABELS, parse_day, readable
from webapp.facility.labels import STATE_LABELS as TICKET_STATES

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def verified(create_user, frozen_clock):
    """A ticket filed by a clerk, fixed by facility staff and verified by 王股長."""
    people = {
        "clerk": create_user(role="clerk", username="clerk-a", name="陳專員"),
        "tech": create_user(role="facility", username="tech-a", name="林技士"),
        "tech2": create_user(role="facility", username="tech-b", name="張技士"),
        "boss": create_user(role="supervisor", username="boss-w", name="王股長"),
    }
    defect = to_fixed(new_ticket(people["clerk"]), people)
    move(defect, people["boss"], "verify")
    return people, defect


def _state_names(*codes: str) -> tuple[str, ...]:
    """The tickets' state names as the Chinese pages show them."""
    with current_app.test_request_context(headers={"Accept-Language": "zh-TW"}):
        return tuple(str(TICKET_STATES[code]) for code in codes)


def _page(client, query=""):
    response = client.get("/admin/audit" + query)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def _rows(page: str) -> list[str]:
    return re.findall(r"<tr>\s*<td data-label.*?</tr>", page, re.S)


def test_a_ticket_verification_reads_in_words_with_a_link(verified, login_as):
    people, defect = verified
    client, _sup = login_as("supervisor")
    page = _page(client, "?action=defect.verify")
    rows = _rows(page)
    assert len(rows) == 1
    row = rows[0]
    assert "王股長" in row and "boss-w" in row  # the name, and the username beside it
    assert "驗收報修單" in row and "defect.verify" not in row.replace('title="defect.verify"', "")
    assert f'href="/facility/tickets/{defect.id}"' in row and f"#{defect.id}" in row
    # The change field by field in words (狀態 已修復 → the verified state's name), no JSON.
    state = re.search(r"狀態</span>：<del>([^<]+)</del> → <ins>([^<]+)</ins>", row)
    assert state and state.groups() == _state_names("fixed", "verified"), row
    assert "{" not in row and "\\u" not in row and "&#34;" not in row
    taipei = clock.local(db.session.scalar(audit.search(action="defect.verify")).at)
    assert f"{taipei.year - 1911}/{taipei:%m/%d %H:%M}" in row  # ROC date and Taipei time


def test_a_failed_sign_in_reads_in_words(client, login_as, create_user):
    create_user(role="clerk", username="wu", name="吳科員")
    client.post("/login", data={"username": "wu", "password": "wrong-password"})
    sup, _user = login_as("supervisor")
    rows = _rows(_page(sup, "?action=auth.login_failed"))
    assert len(rows) == 1 and "登入失敗" in rows[0] and "吳科員" in rows[0]


def test_filters_by_person_action_object_and_dates(verified, login_as):
    people, defect = verified
    client, _sup = login_as("supervisor")
    by_boss = _rows(_page(client, "?person=王股長"))
    assert by_boss and all("王股長" in r for r in by_boss)
    assert _rows(_page(client, "?person=boss-w")) == by_boss  # the username finds the same
    ticket = _rows(_page(client, f"?object_type=defect&reference=%23{defect.id}"))
    actions = [re.search(r'data-label="動作"><span[^>]*>([^<]+)<', r).group(1) for r in ticket]
    assert {"指派報修單", "驗收報修單"} <= set(actions) and "登入" not in actions
    assert all(f"#{defect.id}" in r for r in ticket)
    day = clock.local(clock.now()).date()
    roc = f"{day.year - 1911}/{day:%m/%d}"
    assert _rows(_page(client, f"?action=defect.verify&since={roc}&until={roc}"))
    assert _rows(_page(client, f"?action=defect.verify&since={day.isoformat()}"))
    after = f"{day.year - 1910}/01/01"  # next year: nothing yet
    assert not _rows(_page(client, f"?action=defect.verify&since={after}"))
    page = _page(client, "?since=115/13/45")
    assert "沒有這一天：115/13/45" in page  # the reader is in Chinese


def test_days_are_read_as_roc_or_western():
    assert parse_day("115/11/26") == parse_day("2026-11-26") == parse_day("115年11月26日")
    assert parse_day("2026/11/26").isoformat() == "2026-11-26"
    for bad in ("", "yesterday", "115/02/30"):
        with pytest.raises(ValueError):
            parse_day(bad)


def test_the_export_is_the_filtered_view_in_chinese(verified, login_as):
    people, defect = verified
    client, _sup = login_as("supervisor")
    response = client.get("/admin/audit.xlsx?object_type=defect&reference=" + str(defect.id))
    assert response.status_code == 200 and "attachment" in response.headers["Content-Disposition"]
    book = load_workbook(io.BytesIO(response.data))
    assert book.sheetnames == ["稽核軌跡", "篩選條件"]
    about = dict(book["篩選條件"].iter_rows(values_only=True))
    assert about["對象類型"] == "報修單" and about["對象編號"] == str(defect.id)
    assert about["動作"] == "全部" and about["匯出者"] == _sup.name
    assert re.fullmatch(r"1\d\d/\d\d/\d\d \d\d:\d\d", about["匯出時間"])
    header, *lines = list(book.active.iter_rows(values_only=True))
    assert header[:7] == ("時間", "操作者", "帳號", "動作", "對象", "編號", "變更內容")
    actions = [line[3] for line in lines]
    assert "驗收報修單" in actions and "登入" not in actions  # the filter holds
    verify = lines[actions.index("驗收報修單")]
    assert verify[1] == "王股長" and verify[2] == "boss-w" and verify[5] == f"報修單 #{defect.id}"
    fixed, verified_name = _state_names("fixed", "verified")
    assert f"狀態：{fixed} → {verified_name}" in verify[6]
    assert re.fullmatch(r"1\d\d/\d\d/\d\d \d\d:\d\d", verify[0])  # an ROC date
    sheet = book["稽核軌跡"]
    assert sheet.print_title_rows == "$1:$1" and sheet.page_setup.paperSize == 9


def test_an_export_cell_that_looks_like_a_formula_stays_text(login_as, create_user):
    create_user(role="clerk", username="evil", name='=HYPERLINK("http://x")')
    client, _sup = login_as("supervisor")
    data = client.get("/admin/audit.xlsx?action=user.create").data
    book = load_workbook(io.BytesIO(data))
    cells = [c for row in book.active.iter_rows() for c in row if "HYPERLINK" in str(c.value)]
    assert cells and all(c.data_type == "s" for c in cells)


@pytest.mark.parametrize("role", ["clerk", "facility", "agency"])
def test_only_supervisors_and_administrators_read_or_export_it(login_as, role):
    client, _user = login_as(role)
    assert client.get("/admin/audit").status_code == 403
    assert client.get("/admin/audit.xlsx").status_code == 403


def _recorded_actions() -> set[str]:
    """Every action code written by `audit.record(...)` (or `_audited(...)`) in the code."""
    codes: set[str] = set()
    for folder in ("models", "demo", "jobs", "webapp"):
        for path in (ROOT / folder).rglob("*.py"):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if not isinstance(node, ast.Call) or not node.args:
                    continue
                name = getattr(node.func, "attr", getattr(node.func, "id", ""))
                first = node.args[0]
                literal = isinstance(first, ast.Constant) and isinstance(first.value, str)
                if name in ("record", "_audited") and literal and "." in first.value:
                    codes.add(first.value)
                if name == "record" and isinstance(first, ast.JoinedStr):
                    codes.update(f"import.{kind}" for kind in KINDS)  # f"import.{kind}"
    return codes | set(AUDIT_ACTIONS.values())


def test_every_action_written_anywhere_has_a_label():
    codes = _recorded_actions()
    assert len(codes) > 50  # the walk found the calls
    assert sorted(codes - set(ACTION_LABELS)) == []


def test_the_english_page_reads_in_english(verified, login_as):
    people, defect = verified
    client, _sup = login_as("supervisor")
    client.post("/language", data={"lang": "en"})
    row = _rows(_page(client, "?action=defect.verify"))[0]
    assert "Verified a repair ticket" in row and f"Ticket #{defect.id}" in row
    assert re.search(r"State</span>: <del>[A-Za-z ]+</del> → <ins>[A-Za-z ]+</ins>", row), row
    assert not re.search(r"[\u3000-\u303f\uff00-\uffef]", row)  # no full-width punctuation


def test_every_field_of_the_demo_trail_reads_in_words(demo_data, app):
    entries = db.session.scalars(audit.search()).all()
    assert len({e.action for e in entries}) > 10  # the demo wrote a varied trail
    with app.test_request_context(headers={"Accept-Language": "zh-TW"}):
        rows = readable(entries)
    raw = {
        (row.entry.action, c.label)
        for row in rows
        for c in row.changes
        if re.fullmatch(r"[a-z_0-9]+", c.label)
    }
    assert raw == set(), f"fields without a label: {sorted(raw)}"
    assert not [r.action for r in rows if "." in r.action]  # every action in words
