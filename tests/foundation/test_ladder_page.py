"""The escalation ladder page (/admin/escalation, issue 13): supervisors and administrators keep
the default ladder and the agencies' own ladders; bad values are refused on their fields in
Traditional Chinese; every change is a new version and an audit row with before and after."""

import re

import pytest
import sqlalchemy as sa

from models.core import db
from models.core.audit import AuditEntry
from models.dispatch.ladder import EscalationLadder, Rungs

PAGE = "/admin/escalation"
DEFAULT = {
    "default-reminder_minutes": "5",
    "default-repeat_minutes": "2",
    "default-breach_to_supervisors": "y",
    "default-chief_minutes": "5",
    "default-submit": "1",
}
LABOR = {
    "agency-agency": "labor",
    "agency-reminder_minutes": "4",
    "agency-repeat_minutes": "",
    "agency-chief_minutes": "10",
    "agency-submit": "1",
}


def _versions() -> list[EscalationLadder]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(EscalationLadder).order_by(EscalationLadder.id)))


def _field_errors(html: str) -> dict[str, str]:
    """{field id: its error message} as the page shows them."""
    return dict(re.findall(r'<p class="error" id="([\w-]+)-error"[^>]*>([^<]*)</p>', html))


def _audit(action: str) -> list[AuditEntry]:
    stmt = sa.select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
    return list(db.session.scalars(stmt))


def test_the_page_shows_the_configured_ladder_until_a_supervisor_saves_one(login_as):
    client, _user = login_as("supervisor")
    html = client.get(PAGE).get_data(as_text=True)
    assert "尚未儲存：目前適用下列系統設定值。" in html
    assert 'name="default-reminder_minutes" step="any" type="number" value="3"' in html
    assert 'name="default-chief_minutes" step="any" type="number" value="5"' in html
    assert "目前沒有機關設有專屬程序" in html


def test_a_supervisor_saves_the_default_and_an_agency_ladder_as_new_versions(login_as):
    client, supervisor = login_as("supervisor", name="林科長")
    response = client.post(PAGE, data=DEFAULT, follow_redirects=True)
    assert "已儲存預設程序（第 1 版），自現在起通知的案件適用。" in response.get_data(as_text=True)
    response = client.post(PAGE, data=LABOR, follow_redirects=True)
    html = response.get_data(as_text=True)
    assert "已儲存勞動局專屬程序（第 2 版）" in html
    [default, labor] = _versions()
    assert default.agency_id is None and default.rungs == Rungs(300, 120, True, 300)
    assert labor.agency.code == "labor" and labor.rungs == Rungs(240, None, False, 600)
    assert default.created_by_id == labor.created_by_id == supervisor.id
    assert "期限前 4 分鐘" in html and "期限後 10 分鐘" in html  # the agencies' table
    # The same values again: nothing new.
    html = client.post(PAGE, data=DEFAULT, follow_redirects=True).get_data(as_text=True)
    assert "內容未變更。" in html and len(_versions()) == 2
    # Editing an agency starts from its own values.
    html = client.get(PAGE + "?agency=labor").get_data(as_text=True)
    assert '<option selected value="labor">' in html
    assert 'name="agency-chief_minutes" step="any" type="number" value="10"' in html


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"default-reminder_minutes": "0.2"}, "default-reminder_minutes", "請填期限前 0.5 至 240"),
        ({"default-reminder_minutes": "10"}, "default-reminder_minutes", "到場時限為 10 分鐘"),
        ({"default-reminder_minutes": "三"}, "default-reminder_minutes", "不是有效的十進位數值"),
        ({"default-reminder_minutes": "NaN"}, "default-reminder_minutes", "請輸入分鐘數"),
        (
            {"default-reminder_minutes": "", "default-repeat_minutes": "2"},
            "default-repeat_minutes",
            "須先設定到場提醒",
        ),
        (
            {"default-reminder_minutes": "3", "default-repeat_minutes": "3"},
            "default-repeat_minutes",
            "間隔須短於此",
        ),
        ({"default-repeat_minutes": "0"}, "default-repeat_minutes", "請填 1 至 60 之整數分鐘"),
        ({"default-repeat_minutes": "1.5"}, "default-repeat_minutes", "不是有效的整數"),
        ({"default-chief_minutes": "241"}, "default-chief_minutes", "請填期限後 0.5 至 240"),
    ],
)
def test_bad_values_are_refused_on_their_field_and_nothing_is_saved(
    login_as, fields, field, message
):
    client, _user = login_as("supervisor")
    response = client.post(PAGE, data=DEFAULT | fields)
    assert response.status_code == 200
    errors = _field_errors(response.get_data(as_text=True))
    assert list(errors) == [field] and message in errors[field]
    assert _versions() == [] and _audit("escalation_ladder.save") == []


def test_an_agency_ladder_needs_an_agency(login_as):
    client, _user = login_as("supervisor")
    response = client.post(PAGE, data=LABOR | {"agency-agency": ""})
    assert list(_field_errors(response.get_data(as_text=True))) == ["agency-agency"]
    assert _versions() == []


@pytest.mark.parametrize("role", ["clerk", "agency", "facility"])
def test_only_supervisors_and_administrators_keep_the_ladder(login_as, role):
    client, _user = login_as(role)
    assert client.get(PAGE).status_code == 403
    assert client.post(PAGE, data=DEFAULT).status_code == 403
    assert client.post(PAGE + "/agencies/labor/remove").status_code == 403
    assert _versions() == []
    admin, _admin = login_as("admin")
    assert admin.post(PAGE, data=DEFAULT).status_code == 302
    assert len(_versions()) == 1


def test_every_change_is_audited_with_before_and_after(login_as):
    client, supervisor = login_as("supervisor")
    client.post(PAGE, data=DEFAULT)
    client.post(PAGE, data=DEFAULT | {"default-repeat_minutes": ""})
    client.post(PAGE, data=LABOR)
    client.post(PAGE + "/agencies/labor/remove", follow_redirects=True)
    first, second, labor = _audit("escalation_ladder.save")
    assert (first.object_type, first.object_id, first.user_id) == (
        "escalation_ladder",
        "default",
        supervisor.id,
    )
    configured = {"reminder_before": 180, "repeat_every": None, "breach_to_supervisors": True}
    assert first.before == {"source": "configuration", **configured, "chief_after": 300}
    assert first.after == {
        "version": 1,
        "reminder_before": 300,
        "repeat_every": 120,
        "breach_to_supervisors": True,
        "chief_after": 300,
    }
    assert second.before["version"] == 1 and second.before["repeat_every"] == 120
    assert second.after["version"] == 2 and second.after["repeat_every"] is None
    assert labor.object_id == "labor" and labor.before is None
    assert labor.after["reminder_before"] == 240
    [removed] = _audit("escalation_ladder.remove_override")
    assert removed.object_id == "labor"
    assert removed.before["version"] == 3 and removed.before["chief_after"] == 600
    assert removed.after == {"version": 4, "inherit": True}
    versions = _versions()
    assert versions[-1].inherit and versions[-1].agency.code == "labor"
    # Ending an override that is not there changes nothing.
    html = client.post(PAGE + "/agencies/labor/remove", follow_redirects=True).get_data(
        as_text=True
    )
    assert "勞動局 已適用預設程序。" in html and len(_versions()) == 4
