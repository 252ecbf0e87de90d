"""The desk and agency pages: forms, permissions, masking, audited viewing, clear conflicts."""

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from models.core import audit, clock, db
from models.core.outbox import Notification
from models.dispatch import Dispatch, DispatchState, Visit, VisitNote, VisitStatus
from tests.conftest import login
from tests.dispatch.conftest import VISIT_FORM


def text(response) -> str:
    return response.get_data(as_text=True)


def flashes(client) -> str:
    """The page the client lands on next, for its flash messages."""
    return text(client.get("/"))


# --- The visit form ------------------------------------------------------------------------


def test_the_visit_form_is_in_chinese_and_lists_desk_agencies_first(clerk_client):
    page = text(clerk_client.get("/desk/visits/new"))
    assert "通知機關" in page
    assert 'list="agency-list"' in page
    options = re.findall(r'<option value="([^"]+)"', page.split('id="agency-list"')[1])
    assert options[:10] == [
        "衛生局", "勞動局", "社會局", "產業局", "地政局", "民政局", "商業處",
        "松山地政事務所", "信義戶政事務所", "秘書處",
    ]  # fmt: skip
    assert re.search(r'<input[^>]*autofocus[^>]*id="subject"', page)  # the cursor in 案由


def test_an_unknown_agency_is_said_at_the_agency_field_and_nothing_is_logged(
    clerk_client, notify_from_the_form
):
    response = clerk_client.post(
        "/desk/visits/new", data={**VISIT_FORM, "agency": "地政處", "notify": "1"}
    )
    assert response.status_code == 422
    page = text(response)
    agency = re.search(r'<input[^>]*id="agency"[^>]*>', page).group(0)
    assert 'aria-invalid="true"' in agency and "agency-error" in agency
    start = page.index('id="agency-error"')
    assert "地政處" in page[start : page.index("</p>", start)]
    assert db.session.scalar(select(func.count(Visit.id))) == 0

    dispatch = notify_from_the_form()  # the transfer panel says it at its field, and stays open
    response = clerk_client.post(
        f"/desk/dispatches/{dispatch.id}/transfer", data={"agency": "地政處", "reason": ""}
    )
    assert response.status_code == 422
    page = text(response)
    start = page.index('id="agency-error"')
    assert "地政處" in page[start : page.index("</p>", start)]
    panels = re.findall(r"<details class=\"card\"([^>]*)>\s*<summary>([^<]*)</summary>", page)
    assert [summary for attrs, summary in panels if "open" in attrs] == ["轉派其他機關"]


def test_log_and_notify_goes_to_the_dispatch_page_with_the_extension(frozen_clock, clerk_client):
    response = clerk_client.post("/desk/visits/new", data={**VISIT_FORM, "notify": "1"})
    dispatch = db.session.scalar(select(Dispatch))
    assert response.headers["Location"] == f"/desk/dispatches/{dispatch.id}"
    assert dispatch.agency.code == "social-welfare"
    assert dispatch.notified_at == clock.now()
    page = text(clerk_client.get(response.headers["Location"]))
    assert "分機 1103" in page  # the flash
    assert "<strong>1103</strong>" in page  # the call panel
    assert "10:00" in page  # the countdown
    assert 'data-deadline="2024-03-04T02:10:00+00:00"' in page


def test_settled_at_the_counter_makes_no_dispatch(clerk_client):
    response = clerk_client.post(
        "/desk/visits/new", data={**VISIT_FORM, "agency": "", "settle": "1"}
    )
    assert response.headers["Location"] == "/desk/visits/new"
    visit = db.session.scalar(select(Visit))
    assert visit.status == VisitStatus.SETTLED
    assert db.session.scalar(select(func.count(Dispatch.id))) == 0


def test_save_only_keeps_the_visit_open_and_it_can_be_notified_later(clerk_client):
    response = clerk_client.post("/desk/visits/new", data={**VISIT_FORM, "save": "1"})
    visit = db.session.scalar(select(Visit))
    assert response.headers["Location"] == f"/desk/visits/{visit.id}"
    assert visit.status == VisitStatus.OPEN
    page = text(clerk_client.get(f"/desk/visits/{visit.id}"))
    assert 'value="社會局"' in page
    response = clerk_client.post(f"/desk/visits/{visit.id}/notify", data={"agency": "勞動局"})
    dispatch = db.session.scalar(select(Dispatch))
    assert response.headers["Location"] == f"/desk/dispatches/{dispatch.id}"
    assert dispatch.agency.code == "labor"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"subject": ""}, "請輸入案由。"),  # its own message, not WTForms' generic one
        ({"agency": ""}, "請選擇要通知的機關"),
        ({"agency": "火星局"}, "火星局"),
        ({"petitioner_phone": "打給我"}, "電話"),
        ({"kind": "complaint"}, "種類"),
    ],
)
def test_bad_visit_input_shows_a_clear_message_and_saves_nothing(clerk_client, data, message):
    response = clerk_client.post("/desk/visits/new", data={**VISIT_FORM, **data, "notify": "1"})
    assert response.status_code == 422
    page = text(response)
    assert 'role="alert"' in page
    assert message in page
    assert db.session.scalar(select(func.count(Visit.id))) == 0


@pytest.mark.parametrize("role", ["agency", "facility", "supervisor", "admin"])
def test_only_clerks_log_visits(login_as, role):
    client, _user = login_as(role)
    assert client.get("/desk/visits/new").status_code == 403
    assert client.post("/desk/visits/new", data={**VISIT_FORM, "notify": "1"}).status_code == 403
    assert db.session.scalar(select(func.count(Visit.id))) == 0


# --- The dispatch page and its moves ----------------------------------------------------------


def test_arrival_on_time_is_said_on_the_page(frozen_clock, clerk_client, notify_from_the_form):
    dispatch = notify_from_the_form()
    clock.advance(seconds=600)
    response = clerk_client.post(f"/desk/dispatches/{dispatch.id}/arrive")
    assert response.status_code == 302
    page = text(clerk_client.get(f"/desk/dispatches/{dispatch.id}"))
    assert "到場登記完成：準時" in page
    assert 'data-outcome="on_time"' in page
    assert "10 分 00 秒" in page  # time to arrival


def test_a_second_click_gets_a_clear_message_not_a_second_change(
    frozen_clock, clerk_client, login_as, notify_from_the_form
):
    dispatch = notify_from_the_form()
    other, _user = login_as("clerk")
    clock.advance(seconds=100)
    other.post(f"/desk/dispatches/{dispatch.id}/arrive")
    clock.advance(seconds=5)
    response = clerk_client.post(f"/desk/dispatches/{dispatch.id}/arrive")
    assert response.status_code == 302
    page = flashes(clerk_client)
    assert f"派員 #{dispatch.id} 已結案" in page
    db.session.expire_all()
    row = db.session.get(Dispatch, dispatch.id)
    assert row.arrived_at == row.notified_at + timedelta(seconds=100)  # the first click's time


def test_cancel_needs_a_reason_said_at_the_field_in_the_open_panel(
    clerk_client, notify_from_the_form
):
    dispatch = notify_from_the_form()
    response = clerk_client.post(f"/desk/dispatches/{dispatch.id}/cancel", data={"reason": ""})
    assert response.status_code == 422
    page = text(response)
    panels = re.findall(r"<details class=\"card\"([^>]*)>\s*<summary>([^<]*)</summary>", page)
    opened = [summary for attrs, summary in panels if "open" in attrs]
    assert opened == ["取消派員"]  # the cancel panel stays open; transfer stays closed
    reason = re.search(r"<textarea[^>]*id=\"reason\"[^>]*>", page).group(0)
    assert 'aria-invalid="true"' in reason
    assert re.search(r'aria-describedby="[^"]*\breason-error\b', reason)
    error = re.search(r'<p class="error" id="reason-error"[^>]*>([^<]+)</p>', page)
    assert error and error.group(1).strip()  # the message, right under the field
    db.session.expire_all()
    assert db.session.get(Dispatch, dispatch.id).state == DispatchState.NOTIFIED
    clerk_client.post(f"/desk/dispatches/{dispatch.id}/cancel", data={"reason": "民眾先行離開"})
    db.session.expire_all()
    assert db.session.get(Dispatch, dispatch.id).state == DispatchState.CANCELLED


def test_transfer_from_the_page_starts_a_new_dispatch(clerk_client, notify_from_the_form):
    dispatch = notify_from_the_form()
    response = clerk_client.post(
        f"/desk/dispatches/{dispatch.id}/transfer", data={"agency": "勞動局", "reason": "勞資爭議"}
    )
    new = db.session.scalars(select(Dispatch).order_by(Dispatch.id.desc())).first()
    assert new.id != dispatch.id
    assert response.headers["Location"] == f"/desk/dispatches/{new.id}"
    assert "分機 1102" in flashes(clerk_client)
    page = text(clerk_client.get(f"/desk/dispatches/{dispatch.id}"))
    assert "勞資爭議" in page
    assert f"/desk/dispatches/{new.id}" in page


def test_the_clerk_records_an_acknowledgement_taken_by_phone(clerk_client, notify_from_the_form):
    dispatch = notify_from_the_form()
    clerk_client.post(
        f"/desk/dispatches/{dispatch.id}/acknowledge",
        data={"responder": "林專員", "eta_minutes": "4"},
    )
    db.session.expire_all()
    row = db.session.get(Dispatch, dispatch.id)
    assert (row.state, row.responder, row.eta_minutes) == ("acknowledged", "林專員", 4)


def test_notes_appear_in_the_timeline(clerk_client, notify_from_the_form):
    dispatch = notify_from_the_form()
    clerk_client.post(f"/desk/dispatches/{dispatch.id}/notes", data={"text": "已請民眾至等候區"})
    assert db.session.scalar(select(VisitNote.text)) == "已請民眾至等候區"
    page = text(clerk_client.get(f"/desk/dispatches/{dispatch.id}"))
    assert "已請民眾至等候區" in page
    assert "代為接待" in page


def test_the_timeline_shows_who_did_what_and_durations(
    frozen_clock, clerk_client, login_as, notify_from_the_form
):
    dispatch = notify_from_the_form()
    agency, _user = login_as("agency", agency="social-welfare", name="林社工")
    clock.advance(seconds=95)
    agency.post(f"/agency/dispatches/{dispatch.id}/acknowledge", data={"responder": "王專員"})
    clock.advance(seconds=300)
    clerk_client.post(f"/desk/dispatches/{dispatch.id}/arrive")
    page = text(clerk_client.get(f"/desk/dispatches/{dispatch.id}"))
    for expected in (
        "已登記來訪",
        "社會局 已通知",
        "林社工",
        "王專員",
        "1 分 35 秒",
        "6 分 35 秒",
        "陳櫃台",
    ):
        assert expected in page, expected


def _arrived_late_and_a_chief(clerk_client, login_as, notify_from_the_form):
    """A dispatch whose responder arrived 700 s after the notice, and a supervisor's client."""
    dispatch = notify_from_the_form()
    clock.advance(seconds=700)
    clerk_client.post(f"/desk/dispatches/{dispatch.id}/arrive")
    return dispatch, login_as("supervisor")[0]


def test_a_supervisor_corrects_a_time_from_the_page(
    frozen_clock, clerk_client, login_as, notify_from_the_form
):
    dispatch, chief = _arrived_late_and_a_chief(clerk_client, login_as, notify_from_the_form)
    response = chief.post(
        f"/desk/dispatches/{dispatch.id}/correct",
        data={"field": "arrived_at", "value": "2024-03-04T10:09:30", "reason": "依監視器畫面更正"},
    )
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Dispatch, dispatch.id).outcome() == "on_time"
    page = text(chief.get(f"/desk/dispatches/{dispatch.id}"))
    assert "依監視器畫面更正" in page
    assert "113/03/04 10:11:40" in page and "113/03/04 10:09:30" in page
    assert (
        clerk_client.post(
            f"/desk/dispatches/{dispatch.id}/correct",
            data={"field": "arrived_at", "value": "2024-03-04T10:09:00", "reason": "x"},
        ).status_code
        == 403
    )


@pytest.mark.parametrize(
    ("field", "value", "at", "message"),
    [
        ("arrived_at", "2024-03-04T11:00:00", "value", "登錄的時間不能晚於現在。"),
        ("arrived_at", "2024-03-04T10:11:40", "value", "更正後的時間與原登錄相同。"),
        ("acknowledged_at", "2024-03-04T10:05:00", "field", "本案尚未登錄此時間，無從更正。"),
    ],
)
def test_a_refused_time_correction_is_said_at_the_input_it_is_about(
    frozen_clock, clerk_client, login_as, notify_from_the_form, field, value, at, message
):
    """A time in the future or unchanged is refused at the time's input; a time the dispatch
    does not have, at the choice of which time; the page comes back with the panel open."""
    dispatch, chief = _arrived_late_and_a_chief(clerk_client, login_as, notify_from_the_form)
    response = chief.post(
        f"/desk/dispatches/{dispatch.id}/correct",
        data={"field": field, "value": value, "reason": "依監視器畫面更正"},
    )
    assert response.status_code == 422
    page = text(response)
    assert f'<p class="error" id="{at}-error" data-field-error>{message}</p>' in page
    assert re.search(r"<details open>\s*<summary>更正登錄時間</summary>", page)
    db.session.expire_all()
    assert db.session.get(Dispatch, dispatch.id).arrived_at == clock.now()


def test_supervisors_see_but_do_not_act(clerk_client, login_as, notify_from_the_form):
    dispatch = notify_from_the_form()
    chief, _user = login_as("supervisor")
    page = text(chief.get(f"/desk/dispatches/{dispatch.id}"))
    assert "更正時間" in page
    assert f"/desk/dispatches/{dispatch.id}/arrive" not in page
    assert chief.post(f"/desk/dispatches/{dispatch.id}/arrive").status_code == 403
    assert chief.get("/desk/board").status_code == 200


# --- Permissions and personal data -----------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/desk/board", "/desk/board/wall", "/desk/today", "/desk/dispatches"]
)
@pytest.mark.parametrize("role", ["agency", "facility", "admin"])
def test_desk_pages_are_for_the_counter_staff(login_as, path, role):
    client, _user = login_as(role)
    assert client.get(path).status_code == 403


def test_desk_dispatch_and_visit_pages_refuse_other_roles(
    clerk_client, login_as, notify_from_the_form
):
    dispatch = notify_from_the_form()
    for role in ("agency", "facility"):
        client, _user = login_as(role)
        assert client.get(f"/desk/dispatches/{dispatch.id}").status_code == 403
        assert client.get(f"/desk/visits/{dispatch.visit_id}").status_code == 403
    assert clerk_client.get("/desk/dispatches/9999").status_code == 404
    assert clerk_client.get("/desk/visits/9999").status_code == 404


def test_lists_mask_personal_data_and_the_detail_page_shows_it_audited(
    clerk_client, login_as, notify_from_the_form
):
    dispatch = notify_from_the_form()
    for path in ("/desk/today", "/desk/board", "/desk/dispatches"):
        page = text(clerk_client.get(path))
        assert "王小明" not in page, path
        assert "0912345123" not in page, path
    today = text(clerk_client.get("/desk/today"))
    assert "王○明" in today and "09xx-xxx-123" in today
    before = db.session.scalar(
        select(func.count(audit.AuditEntry.id)).where(
            audit.AuditEntry.action == "visit.view_personal_data"
        )
    )
    page = text(clerk_client.get(f"/desk/dispatches/{dispatch.id}"))
    assert "王小明" in page and "0912345123" in page
    chief, chief_user = login_as("supervisor")
    assert "王小明" in text(chief.get(f"/desk/visits/{dispatch.visit_id}"))
    views = db.session.scalars(audit.search(action="visit.view_personal_data")).all()
    assert len(views) == before + 2
    assert views[0].user_id == chief_user.id
    assert views[0].object_id == str(dispatch.visit_id)


def test_agency_staff_see_only_their_own_agency(clerk_client, login_as, notify_from_the_form):
    own_dispatch = notify_from_the_form()
    other_dispatch = notify_from_the_form(agency="勞動局", subject="勞資爭議")
    agency, _user = login_as("agency", agency="social-welfare")
    inbox = text(agency.get("/agency/"))
    assert "急難救助申請" in inbox and "勞資爭議" not in inbox
    assert agency.get(f"/agency/dispatches/{own_dispatch.id}").status_code == 200
    assert agency.get(f"/agency/dispatches/{other_dispatch.id}").status_code == 404
    response = agency.post(
        f"/agency/dispatches/{other_dispatch.id}/acknowledge", data={"responder": "x"}
    )
    assert response.status_code == 404
    db.session.expire_all()
    assert db.session.get(Dispatch, other_dispatch.id).state == DispatchState.NOTIFIED
    history = text(agency.get("/agency/history"))
    assert "急難救助申請" in history and "勞資爭議" not in history


def test_agency_pages_mask_the_petitioner_and_hide_the_clerks_notes(
    clerk_client, login_as, notify_from_the_form
):
    dispatch = notify_from_the_form()
    clerk_client.post(f"/desk/dispatches/{dispatch.id}/notes", data={"text": "民眾情緒激動"})
    agency, _user = login_as("agency", agency="social-welfare")
    for path in ("/agency/", f"/agency/dispatches/{dispatch.id}"):
        page = text(agency.get(path))
        assert "王小明" not in page and "0912345123" not in page
        assert "民眾情緒激動" not in page
    assert "王○明" in text(agency.get(f"/agency/dispatches/{dispatch.id}"))


@pytest.mark.parametrize("role", ["clerk", "facility", "supervisor", "admin"])
def test_the_inbox_is_for_agency_staff(login_as, role):
    client, _user = login_as(role)
    assert client.get("/agency/").status_code == 403


def test_agency_acknowledges_from_the_inbox(
    frozen_clock, clerk_client, login_as, notify_from_the_form
):
    dispatch = notify_from_the_form()
    agency, user = login_as("agency", agency="social-welfare", name="林社工")
    inbox = text(agency.get("/agency/"))
    assert f'action="/agency/dispatches/{dispatch.id}/acknowledge"' in inbox
    assert 'value="林社工"' in inbox  # the responder defaults to the signed-in user
    clock.advance(seconds=30)
    response = agency.post(
        f"/agency/dispatches/{dispatch.id}/acknowledge",
        data={"responder": "林社工", "eta_minutes": "3"},
    )
    assert response.headers["Location"] == "/agency/"
    assert "林社工" in flashes(agency)
    db.session.expire_all()
    row = db.session.get(Dispatch, dispatch.id)
    assert (row.acknowledged_by_id, row.eta_minutes) == (user.id, 3)
    # A colleague's second acknowledgement is refused with a clear message.
    colleague, _c = login_as("agency", agency="social-welfare")
    colleague.post(f"/agency/dispatches/{dispatch.id}/acknowledge", data={"responder": "張三"})
    assert f"派員 #{dispatch.id} 已於 10:00:30 確認（前往人員：林社工）" in flashes(colleague)


def test_bad_acknowledgement_input_is_refused(clerk_client, login_as, notify_from_the_form):
    dispatch = notify_from_the_form()
    agency, _user = login_as("agency", agency="social-welfare")
    agency.post(
        f"/agency/dispatches/{dispatch.id}/acknowledge",
        data={"responder": "", "eta_minutes": "abc"},
    )
    db.session.expire_all()
    assert db.session.get(Dispatch, dispatch.id).state == DispatchState.NOTIFIED


# --- Board, today, history -----------------------------------------------------------------


def test_the_board_lists_open_dispatches_overdue_first(
    frozen_clock, clerk_client, notify_from_the_form
):
    first = notify_from_the_form(subject="第一案")
    clock.advance(seconds=420)
    second = notify_from_the_form(subject="第二案")
    clock.advance(seconds=181)  # first: 601 s → overdue; second: 181 s in, 419 s left
    page = text(clerk_client.get("/desk/board"))
    assert page.index(f'data-id="{first.id}"') < page.index(f'data-id="{second.id}"')
    assert "urgency-overdue" in page and "urgency-ok" in page
    assert 'data-live="board"' in page
    assert "/static/js/live.js" in page
    assert "<script>" not in page and "style=" not in page
    wall = text(clerk_client.get("/desk/board/wall"))
    assert 'class="wall"' in wall


def test_the_warning_threshold_reaches_the_board_and_its_script_from_the_server(clerk_client):
    """The 3-minute warning is one server constant: the page hands it to live.js (with the
    shared countdown.js before it) and the legend words it."""
    from webapp.desk.labels import WARN_SECONDS

    page = text(clerk_client.get("/desk/board"))
    assert f'data-warn-seconds="{WARN_SECONDS}"' in page
    assert page.index("/static/js/countdown.js") < page.index("/static/js/live.js")
    assert page.index("/static/js/countdown.js") < page.index("/static/js/alerts.js")
    assert "剩 3 分鐘以上" in page and "剩 3 分鐘以內" in page


def test_the_board_words_an_acknowledgement_with_full_width_brackets(
    clerk_client, notify_from_the_form
):
    dispatch = notify_from_the_form()
    clerk_client.post(f"/desk/dispatches/{dispatch.id}/acknowledge", data={"responder": "黃科員"})
    page = text(clerk_client.get("/desk/board"))
    assert "黃科員 前往中" in page
    assert "（由 陳櫃台 於 " in page and " 確認）" in page
    assert "(由" not in page


def test_the_finished_dispatch_page_uses_full_width_punctuation(
    frozen_clock, clerk_client, notify_from_the_form
):
    dispatch = notify_from_the_form()
    clock.advance(seconds=300)
    clerk_client.post(f"/desk/dispatches/{dispatch.id}/arrive")
    page = text(clerk_client.get(f"/desk/dispatches/{dispatch.id}"))
    assert re.search(r"<h2>結果：<span [^>]*data-outcome=\"on_time\">準時</span></h2>", page)
    assert "113/03/04 10:10:00（時限 10 分 00 秒）" in page and "(時限" not in page
    assert f"來訪 #{dispatch.visit_id}：急難救助申請" in page
    assert f"來訪 #{dispatch.visit_id}:" not in page


def test_today_shows_the_rate_so_far(frozen_clock, clerk_client, notify_from_the_form):
    on_time, late, pending = (notify_from_the_form() for _ in range(3))
    clock.advance(seconds=300)
    clerk_client.post(f"/desk/dispatches/{on_time.id}/arrive")
    clock.advance(seconds=400)
    clerk_client.post(f"/desk/dispatches/{late.id}/arrive")
    notify_from_the_form()  # still within its deadline: not counted
    page = text(clerk_client.get("/desk/today"))
    assert "data-rate>33.33%" in page  # on time 1; late 2 (arrived late, open past deadline)
    assert pending.id


def test_history_filters(frozen_clock, login_as, notify_from_the_form):
    clerk_client, clerk = login_as("clerk")
    a = notify_from_the_form(clerk_client, subject="案甲")
    clock.advance(days=1)
    clerk_client.get("/")  # the idle session expired overnight: sign in again
    assert login(clerk_client, clerk.username).status_code == 302
    b = notify_from_the_form(clerk_client, subject="案乙", agency="勞動局")
    clerk_client.post(f"/desk/dispatches/{b.id}/arrive")

    def listed(query):
        page = text(clerk_client.get("/desk/dispatches" + query))
        return [name for name in ("案甲", "案乙") if name in page]

    assert listed("") == ["案甲", "案乙"]
    assert listed("?agency=labor") == ["案乙"]
    assert listed("?state=arrived") == ["案乙"]
    assert listed("?outcome=late") == ["案甲"]
    assert listed("?outcome=on_time") == ["案乙"]
    assert listed("?start=2024-03-05") == ["案乙"]
    assert listed("?end=2024-03-04") == ["案甲"]
    page = text(clerk_client.get("/desk/dispatches?start=2024-03-05&end=2024-03-01"))
    assert "結束日期早於開始日期" in page
    assert clerk_client.get("/desk/dispatches?start=garbage&state=nope").status_code == 200
    assert a.id


def test_notify_writes_in_app_notices_for_the_agency(
    clerk_client, create_user, notify_from_the_form
):
    user = create_user(role="agency", agency="social-welfare")
    dispatch = notify_from_the_form()
    notice = db.session.scalar(select(Notification))
    assert (notice.user_id, notice.dispatch_id, notice.channel) == (user.id, dispatch.id, "in_app")


def test_home_page_links_each_role_to_its_work(login_as):
    clerk, _u = login_as("clerk")
    page = text(clerk.get("/"))
    for link in ("/desk/visits/new", "/desk/board", "/desk/today", "/desk/dispatches"):
        assert link in page
    agency, _u = login_as("agency")
    page = text(agency.get("/"))
    assert "/agency/" in page and "/desk/board" not in page
