"""Why a late dispatch was late: recorded by its own agency or a clerk, only on a late dispatch
(409 otherwise), replaced when sent again and audited each time; the list of reasons a
supervisor keeps, where `other` always stays."""

import pytest
from sqlalchemy import select

from models.core import audit, clock, db
from models.core.audit import AuditEntry
from models.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from models.dispatch import acknowledge, arrive, cancel, transfer
from models.dispatch.late import (
    OTHER,
    DispatchLateReason,
    LateReason,
    add_late_reason,
    late_reasons,
    set_late_reason,
    unexplained_late_dispatches,
    update_late_reason,
)
from tests.conftest import login


def text(response) -> str:
    return response.get_data(as_text=True)


def late_reason_audit(dispatch_id: int) -> list[AuditEntry]:
    db.session.expire_all()
    stmt = (
        select(AuditEntry)
        .where(
            AuditEntry.action == "dispatch.late_reason", AuditEntry.object_id == str(dispatch_id)
        )
        .order_by(AuditEntry.seq)
    )
    return list(db.session.scalars(stmt))


def current_reason(dispatch_id: int) -> DispatchLateReason | None:
    db.session.expire_all()
    return db.session.get(DispatchLateReason, dispatch_id)


@pytest.fixture
def late_dispatch(frozen_clock, make_dispatch, clerk):
    """A dispatch to 社會局 whose responder arrived 12 minutes after the notice (late)."""
    dispatch = make_dispatch()
    clock.advance(minutes=12)
    with audit.acting_as(audit.Actor(clerk.id, clerk.username)):
        arrive(dispatch, by=clerk)
    db.session.commit()
    return dispatch


# --- The rule -------------------------------------------------------------------------------


def test_the_seeded_reasons_are_in_order_with_other_last():
    reasons = [(r.code, r.label_zh, r.label_en) for r in late_reasons()]
    assert reasons == [
        ("away", "承辦人外出", "Away from the office"),
        ("not_reached", "未接到通知", "Notice not received"),
        ("short_staffed", "人力不足", "Short-staffed"),
        ("needs_records", "需調閱資料", "Needed to pull records"),
        ("other", "其他", "Other"),
    ]


def test_late_reason_refused_on_an_on_time_dispatch_with_409(frozen_clock, make_dispatch, api_as):
    agency = api_as("agency", agency="social-welfare")
    clerk = api_as("clerk")
    on_time = make_dispatch()
    clock.advance(minutes=10)  # exactly 10:00 is on time
    assert clerk.post(f"/dispatches/{on_time.id}/arrive").status_code == 200

    response = agency.post(f"/dispatches/{on_time.id}/late-reason", {"reason": "away"})

    assert response.status_code == 409, response.get_json()
    assert response.get_json()["error"] == "conflict"
    assert current_reason(on_time.id) is None
    assert late_reason_audit(on_time.id) == []


def test_late_reason_refused_while_within_the_deadline_cancelled_in_time_or_transferred(
    frozen_clock, make_dispatch, clerk
):
    pending = make_dispatch()
    cancelled = make_dispatch()
    moved = make_dispatch()
    clock.advance(minutes=9)
    cancel(cancelled, "民眾先行離開", by=clerk)
    transfer(moved, "labor", by=clerk)
    db.session.commit()
    for dispatch in (pending, cancelled, moved):
        with pytest.raises(Conflict):
            set_late_reason(dispatch, "away", by=clerk)
        db.session.rollback()
    clock.advance(minutes=2)  # now the pending one is past its deadline: late
    assert set_late_reason(pending, "away", by=clerk).reason.code == "away"


def test_late_reason_replaced_when_sent_again_and_audited_both_times(late_dispatch, api_as):
    agency = api_as("agency", agency="social-welfare", name="張社工")

    first = agency.post(f"/dispatches/{late_dispatch.id}/late-reason", {"reason": "away"})
    clock.advance(minutes=30)
    second = agency.post(
        f"/dispatches/{late_dispatch.id}/late-reason",
        {"reason": "short_staffed", "note": "兩位承辦人同時在外勤"},
    )

    assert first.status_code == 200, first.get_json()
    assert second.status_code == 200, second.get_json()
    assert second.get_json() == {
        "dispatch_id": late_dispatch.id,
        "reason": "short_staffed",
        "label": "人力不足",
        "note": "兩位承辦人同時在外勤",
        "recorded_at": "2024-03-04T10:42:00+08:00",
        "recorded_by": "張社工",
    }
    row = current_reason(late_dispatch.id)
    assert (row.reason.code, row.note, row.recorded_by_id) == (
        "short_staffed",
        "兩位承辦人同時在外勤",
        agency.user.id,
    )
    assert db.session.scalar(select(db.func.count()).select_from(DispatchLateReason)) == 1
    entries = late_reason_audit(late_dispatch.id)
    assert [(e.before, e.after, e.user_id) for e in entries] == [
        (None, {"reason": "away", "note": ""}, agency.user.id),
        (
            {"reason": "away", "note": ""},
            {"reason": "short_staffed", "note": "兩位承辦人同時在外勤"},
            agency.user.id,
        ),
    ]


def test_only_the_own_agency_or_a_clerk_may_set_it(late_dispatch, api_as):
    url = f"/dispatches/{late_dispatch.id}/late-reason"
    body = {"reason": "not_reached"}
    assert api_as("agency", agency="labor").post(url, body).status_code == 404
    for role in ("supervisor", "facility", "admin"):
        assert api_as(role).post(url, body).status_code == 403, role
    assert current_reason(late_dispatch.id) is None
    assert api_as("clerk").post(url, body).status_code == 200
    assert api_as("agency", agency="social-welfare").post(url, body).status_code == 200
    assert len(late_reason_audit(late_dispatch.id)) == 2


def test_the_operation_refuses_the_wrong_people_too(late_dispatch, create_user):
    with pytest.raises(NotFound):
        set_late_reason(late_dispatch, "away", by=create_user(role="agency", agency="health"))
    with pytest.raises(Forbidden):
        set_late_reason(late_dispatch, "away", by=create_user(role="supervisor"))


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"reason": "weather"}, "weather"),
        ({"reason": "other"}, "其他"),
        ({"reason": "other", "note": "   "}, "其他"),
        ({"reason": "away", "note": "x" * 501}, None),
        ({}, None),
    ],
)
def test_an_unknown_reason_or_other_without_a_note_is_refused(late_dispatch, api_as, body, message):
    response = api_as("clerk").post(f"/dispatches/{late_dispatch.id}/late-reason", body)
    assert response.status_code == 422, response.get_json()
    if message:
        assert message in response.get_json()["message"]
    assert current_reason(late_dispatch.id) is None


def test_other_with_a_note_is_recorded(late_dispatch, api_as):
    body = {"reason": "other", "note": "電梯故障，改走樓梯"}
    response = api_as("clerk").post(f"/dispatches/{late_dispatch.id}/late-reason", body)
    assert response.status_code == 200
    assert current_reason(late_dispatch.id).note == "電梯故障，改走樓梯"


def test_an_open_dispatch_past_its_deadline_is_late_and_takes_a_reason(
    frozen_clock, make_dispatch, create_user
):
    dispatch = make_dispatch()
    staff = create_user(role="agency", agency="social-welfare")
    acknowledge(dispatch, "張社工", by=staff)
    clock.advance(minutes=10, seconds=1)
    row = set_late_reason(dispatch, "needs_records", "調閱戶籍資料", by=staff)
    db.session.commit()
    assert row.reason.code == "needs_records"


# --- The pages ------------------------------------------------------------------------------


def test_the_agency_page_offers_the_form_only_when_late(frozen_clock, make_dispatch, login_as):
    client, _user = login_as("agency", agency="social-welfare")
    dispatch = make_dispatch()
    page = text(client.get(f"/agency/dispatches/{dispatch.id}"))
    assert "逾時原因" not in page and "late-reason" not in page

    clock.advance(minutes=11)
    page = text(client.get(f"/agency/dispatches/{dispatch.id}"))
    assert "逾時原因" in page and "尚未填寫原因" in page
    assert f'action="/agency/dispatches/{dispatch.id}/late-reason"' in page
    for label in ("承辦人外出", "未接到通知", "人力不足", "需調閱資料", "其他"):
        assert label in page

    response = client.post(
        f"/agency/dispatches/{dispatch.id}/late-reason",
        data={"reason": "away", "note": "承辦人至區公所開會"},
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/agency/dispatches/{dispatch.id}")
    page = text(client.get(f"/agency/dispatches/{dispatch.id}"))
    assert "逾時原因已儲存" in page
    assert "承辦人至區公所開會" in page
    assert current_reason(dispatch.id).reason.code == "away"


def test_the_clerk_records_it_on_the_desk_page_and_supervisors_only_read_it(
    late_dispatch, clerk_client, login_as
):
    url = f"/desk/dispatches/{late_dispatch.id}"
    assert f'action="{url}/late-reason"' in text(clerk_client.get(url))
    response = clerk_client.post(f"{url}/late-reason", data={"reason": "not_reached"})
    assert response.status_code == 302
    assert current_reason(late_dispatch.id).reason.code == "not_reached"

    supervisor, _user = login_as("supervisor")
    page = text(supervisor.get(url))
    assert "未接到通知" in page
    assert f'action="{url}/late-reason"' not in page
    assert supervisor.post(f"{url}/late-reason", data={"reason": "away"}).status_code == 403
    assert current_reason(late_dispatch.id).reason.code == "not_reached"


def test_a_page_post_on_an_on_time_dispatch_says_why_and_changes_nothing(
    frozen_clock, make_dispatch, clerk_client
):
    dispatch = make_dispatch()
    response = clerk_client.post(
        f"/desk/dispatches/{dispatch.id}/late-reason",
        data={"reason": "away"},
        follow_redirects=True,
    )
    assert "未逾時" in text(response)
    assert current_reason(dispatch.id) is None


@pytest.mark.parametrize(
    ("side", "data", "field", "message"),
    [
        ("agency", {"reason": ""}, "reason", "請選擇逾時原因。"),
        ("agency", {"reason": "other"}, "note", "選擇「其他」時，請於說明欄敘明情形。"),
        ("desk", {"reason": "other", "note": "  "}, "note", "選擇「其他」時，請於說明欄敘明情形。"),
    ],
)
def test_a_reason_with_bad_input_comes_back_on_the_page_at_its_field(
    late_dispatch, login_as, clerk_client, side, data, field, message
):
    """No reason chosen, or 「其他」 without a note: the dispatch page comes back (422) with the
    message at the field and what was typed kept; nothing is recorded. With a reason already
    recorded, the panel that changes it stays open."""
    client = clerk_client if side == "desk" else login_as("agency", agency="social-welfare")[0]
    url = f"/{side}/dispatches/{late_dispatch.id}"
    response = client.post(f"{url}/late-reason", data=data)
    assert response.status_code == 422
    page = text(response)
    assert f'<p class="error" id="{field}-error" data-field-error>{message}</p>' in page
    assert current_reason(late_dispatch.id) is None

    client.post(f"{url}/late-reason", data={"reason": "away"})
    page = text(client.post(f"{url}/late-reason", data=data))
    assert "<details open>" in page and f'id="{field}-error"' in page
    assert current_reason(late_dispatch.id).reason.code == "away"


def test_another_agency_cannot_reach_the_form(late_dispatch, login_as):
    client, _user = login_as("agency", agency="labor")
    url = f"/agency/dispatches/{late_dispatch.id}"
    assert client.get(url).status_code == 404
    assert client.post(f"{url}/late-reason", data={"reason": "away"}).status_code == 404
    assert current_reason(late_dispatch.id) is None


def test_the_inbox_lists_late_dispatches_still_without_a_reason(late_dispatch, login_as, clerk):
    client, user = login_as("agency", agency="social-welfare")
    assert [d.id for d in unexplained_late_dispatches(user.agency_id)] == [late_dispatch.id]
    page = text(client.get("/agency/"))
    assert "待填逾時原因" in page
    assert f'href="/agency/dispatches/{late_dispatch.id}"' in page
    set_late_reason(late_dispatch, "away", by=clerk)
    db.session.commit()
    assert unexplained_late_dispatches(user.agency_id) == []
    assert "待填逾時原因" not in text(client.get("/agency/"))


# --- The list a supervisor keeps ------------------------------------------------------------


def test_supervisor_adds_renames_and_deactivates_a_reason(late_dispatch, login_as, api_as):
    client, supervisor = login_as("supervisor")
    page = client.get("/admin/late-reasons")
    assert page.status_code == 200 and "承辦人外出" in text(page)

    response = client.post(
        "/admin/late-reasons",
        data={"code": "meeting", "label_zh": "開會中", "label_en": "In a meeting"},
    )
    assert response.status_code == 302
    assert [r.code for r in late_reasons()][-2:] == ["meeting", OTHER]  # other stays last

    response = client.post(
        "/admin/late-reasons/meeting",
        data={"label_zh": "參加會議", "label_en": "At a meeting", "active": "y"},
    )
    assert response.status_code == 302
    clerk = api_as("clerk")
    url = f"/dispatches/{late_dispatch.id}/late-reason"
    assert clerk.post(url, {"reason": "meeting"}).get_json()["label"] == "參加會議"

    response = client.post(
        "/admin/late-reasons/meeting", data={"label_zh": "參加會議", "label_en": "At a meeting"}
    )
    assert response.status_code == 302
    assert clerk.post(url, {"reason": "meeting"}).status_code == 422  # out of use
    assert current_reason(late_dispatch.id).reason.code == "meeting"  # what was given stays
    listed = clerk.get("/late-reasons").get_json()["reasons"]
    assert "meeting" not in [r["code"] for r in listed]

    db.session.expire_all()
    actions = [
        (e.action, e.object_id, e.user_id)
        for e in db.session.scalars(
            select(AuditEntry)
            .where(AuditEntry.object_type == "late_reason")
            .order_by(AuditEntry.seq)
        )
    ]
    assert actions == [
        ("late_reason.create", "meeting", supervisor.id),
        ("late_reason.update", "meeting", supervisor.id),
        ("late_reason.update", "meeting", supervisor.id),
    ]


def test_other_cannot_be_removed(login_as, create_user):
    client, _user = login_as("supervisor")
    response = client.post(
        "/admin/late-reasons/other", data={"label_zh": "其他原因", "label_en": "Other reason"}
    )
    assert response.status_code == 422
    assert "無法移除" in text(response)
    other = db.session.scalar(select(LateReason).where(LateReason.code == OTHER))
    db.session.refresh(other)
    assert (other.active, other.label_zh) == (True, "其他")
    with pytest.raises(Conflict):
        update_late_reason(
            other,
            label_zh="其他",
            label_en="Other",
            active=False,
            by=create_user(role="supervisor"),
        )
    db.session.rollback()
    # Renaming it is fine.
    response = client.post(
        "/admin/late-reasons/other",
        data={"label_zh": "其他原因", "label_en": "Other reason", "active": "y"},
    )
    assert response.status_code == 302
    db.session.refresh(other)
    assert (other.active, other.label_zh) == (True, "其他原因")


@pytest.mark.parametrize("code", ["none", "Meeting", "a", "bad code", "away"])
def test_a_new_code_is_new_lower_case_and_not_none(create_user, code):
    with pytest.raises(InvalidInput):
        add_late_reason(code, "中文", "English", by=create_user(role="supervisor"))


@pytest.mark.parametrize("role", ["clerk", "agency", "admin", "facility"])
def test_only_supervisors_keep_the_list(login_as, create_user, role):
    client, _user = login_as(role)
    assert client.get("/admin/late-reasons").status_code == 403
    data = {"code": "meeting", "label_zh": "開會", "label_en": "Meeting"}
    assert client.post("/admin/late-reasons", data=data).status_code == 403
    with pytest.raises(Forbidden):
        add_late_reason("meeting", "開會", "Meeting", by=create_user(role=role))
    assert "meeting" not in [r.code for r in late_reasons()]


def test_the_form_reaches_the_server_with_csrf(late_dispatch, csrf_app, create_user):
    """With CSRF on, as in production, the agency's form posts its token and is accepted."""
    from tests.conftest import csrf_token

    user = create_user(role="agency", agency="social-welfare")
    client = csrf_app.test_client()
    assert login(client, user.username, csrf=True).status_code == 302
    url = f"/agency/dispatches/{late_dispatch.id}"
    token = csrf_token(client, url)
    refused = client.post(f"{url}/late-reason", data={"reason": "away"})
    assert refused.status_code == 400
    response = client.post(f"{url}/late-reason", data={"reason": "away", "csrf_token": token})
    assert response.status_code == 302
    assert current_reason(late_dispatch.id).reason.code == "away"


def test_the_demo_explains_most_late_dispatches_and_leaves_some_owed(frozen_clock):
    from demo import load_demo
    from models.dispatch import Dispatch, Outcome

    load_demo()
    db.session.commit()
    late = list(
        db.session.scalars(
            select(Dispatch.id).where(Dispatch.outcome_expr(clock.now()) == Outcome.LATE.value)
        )
    )
    explained = db.session.scalars(
        select(DispatchLateReason).where(DispatchLateReason.dispatch_id.in_(late))
    ).all()
    assert 0 < len(explained) < len(late)
    assert {row.reason.code for row in explained} <= {r.code for r in late_reasons()}
    entries = db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "dispatch.late_reason")
    ).all()
    assert len(entries) == len(explained)


@pytest.mark.postgres_only(reason="row locking under concurrent transactions needs PostgreSQL")
def test_two_reasons_sent_at_once_are_recorded_one_after_the_other(late_dispatch, clerk):
    """The second waits for the first's lock, then replaces it: one row, two audit entries,
    the second's `before` being the first's `after` (no lost update, no duplicate row)."""
    from tests.dispatch.test_concurrency import run_race

    def first(dispatch, by):
        set_late_reason(dispatch, "away", "第一位", by=by)

    def second(dispatch, by):
        set_late_reason(dispatch, "short_staffed", "第二位", by=by)

    assert run_race(late_dispatch.id, clerk.id, first, second) == ["won", "won"]
    assert current_reason(late_dispatch.id).reason.code == "short_staffed"
    entries = late_reason_audit(late_dispatch.id)
    assert [(e.before, e.after) for e in entries] == [
        (None, {"reason": "away", "note": "第一位"}),
        ({"reason": "away", "note": "第一位"}, {"reason": "short_staffed", "note": "第二位"}),
    ]


def test_nobody_signed_in_may_record_a_late_reason(late_dispatch):
    """may_record_late_reason: no user (None) may not."""
    from models.dispatch.late import may_record_late_reason

    assert may_record_late_reason(None, late_dispatch) is False
