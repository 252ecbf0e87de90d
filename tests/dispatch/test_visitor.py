"""The visitor at the counter (issue 13): the whole wait across transfers, one-tap care notes on
the timeline, seniors and visitors needing accessibility first, and one answer per visit."""

from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from models.core import audit, clock, db
from models.core.errors import Conflict, InvalidInput
from models.core.outbox import Notification
from models.dispatch import (
    Dispatch,
    Outcome,
    Visit,
    VisitNote,
    VisitRating,
    arrive,
    care_notes,
    log_visit,
    notify,
    rate_visit,
    transfer,
    visit_of,
)
from tests.conftest import login

TEN = datetime(2024, 3, 4, 10, 0, tzinfo=clock.TAIPEI)


def text(response) -> str:
    return response.get_data(as_text=True)


def as_clerk(clerk):
    return audit.acting_as(audit.Actor(clerk.id, clerk.username))


@pytest.fixture
def transferred_and_served(frozen_clock, clerk):
    """Visit logged 10:00 and 社會局 notified; transferred to 衛生局 at 10:07; 衛生局 arrives at
    10:15. Returns (visit, first dispatch, second dispatch)."""
    with as_clerk(clerk):
        visit = log_visit(kind="petition", subject="長照補助", agency="social-welfare", by=clerk)
        first = notify(visit, by=clerk)
        clock.advance(seconds=7 * 60)
        second = transfer(first, "health", "業務不符", by=clerk)
        clock.advance(seconds=8 * 60)
        arrive(second, by=clerk)
    db.session.commit()
    return visit, first, second


# --- The whole wait -----------------------------------------------------------------------


def test_the_visitors_wait_runs_across_a_transfer_while_the_agency_clock_restarts(
    transferred_and_served,
):
    visit, first, second = transferred_and_served
    assert visit.created_at == TEN
    assert visit.served_dispatch is second
    assert visit.visitor_wait() == timedelta(minutes=15)
    assert visit.wait_seconds == 900
    # The second agency's own clock started at the transfer (10:07), so it arrived on time.
    assert second.notified_at == TEN + timedelta(minutes=7)
    assert second.deadline_at == TEN + timedelta(minutes=17)
    assert (second.arrived_at - second.notified_at) == timedelta(minutes=8)
    assert second.outcome() == Outcome.ON_TIME
    assert first.outcome() == Outcome.TRANSFERRED


def test_the_sql_rule_picks_the_same_serving_dispatch_as_the_visit(transferred_and_served):
    visit, first, second = transferred_and_served
    served = db.session.scalars(
        select(Dispatch.id).where(Dispatch.visit_id == visit.id, Dispatch.serves_visit_clause())
    ).all()
    assert served == [second.id]
    # With two arrivals on record (a later correction), the latest arrival served the visitor.
    first.arrived_at = second.arrived_at + timedelta(seconds=30)
    db.session.commit()
    db.session.expire_all()
    visit = db.session.get(Visit, visit.id)
    served = db.session.scalars(
        select(Dispatch.id).where(Dispatch.visit_id == visit.id, Dispatch.serves_visit_clause())
    ).all()
    assert served == [first.id] == [visit.served_dispatch.id]
    assert visit.wait_seconds == 15 * 60 + 30


def test_a_visit_nobody_arrived_for_has_no_wait_only_a_wait_so_far(frozen_clock, make_dispatch):
    dispatch = make_dispatch()
    clock.advance(seconds=125)
    visit = dispatch.visit
    assert visit.visitor_wait() is None and visit.wait_seconds is None  # not zero
    assert visit.wait_at(clock.now()) == timedelta(seconds=125)


def test_the_api_and_the_pages_show_the_whole_wait(transferred_and_served, clerk_api, login_as):
    visit, _first, second = transferred_and_served
    body = clerk_api.get(f"/dispatches/{second.id}").get_json()
    assert body["visitor_wait_seconds"] == 900
    assert body["visit_created_at"] == "2024-03-04T10:00:00+08:00"
    client, _user = login_as("clerk")
    page = text(client.get(f"/desk/dispatches/{second.id}"))
    assert "民眾等候總時間</dt><dd>15 分 00 秒" in page
    assert "（自 10:00:00 臨櫃登記起算）" in page
    assert "民眾等候總時間：15 分 00 秒" in text(client.get(f"/desk/visits/{visit.id}"))


def test_the_board_shows_the_visitors_wait_beside_the_agency_clock(
    frozen_clock, clerk, clerk_client
):
    with as_clerk(clerk):
        visit = log_visit(kind="petition", subject="長照補助", agency="social-welfare", by=clerk)
        clock.advance(seconds=90)  # the visitor waited 1:30 before the agency was notified
        first = notify(visit, by=clerk)
        clock.advance(seconds=60)
        second = transfer(first, "health", by=clerk)
    db.session.commit()
    clock.advance(seconds=30)
    page = text(clerk_client.get("/desk/board"))
    item = page[page.index(f'data-id="{second.id}"') :]
    item = item[: item.index("</li>")]
    assert 'data-visit-created="2024-03-04T02:00:00+00:00"' in item
    assert 'data-field="remaining">09:30<' in item  # the agency's clock: 30 s since transfer
    assert "民眾已等候" in item and 'data-field="wait">03:00<' in item  # the visitor: 3:00
    feed = clerk_client.get("/api/v1/dispatches/open").get_json()["dispatches"]
    assert feed[0]["visit_created_at"] == "2024-03-04T10:00:00+08:00"
    assert feed[0]["visitor_wait_seconds"] is None


# --- Care notes ---------------------------------------------------------------------------


def test_one_tap_care_notes_appear_on_the_timeline(frozen_clock, make_dispatch, login_as):
    dispatch = make_dispatch()
    client, clerk = login_as("clerk", name="林櫃台")
    page = text(client.get(f"/desk/dispatches/{dispatch.id}"))
    for label in ("已請入座", "已提供茶水", "已聆聽陳述"):
        assert f">{label}</button>" in page
    clock.advance(seconds=60)
    assert (
        client.post(f"/desk/dispatches/{dispatch.id}/care", data={"code": "seated"}).status_code
        == 302
    )
    clock.advance(seconds=60)
    client.post(f"/desk/dispatches/{dispatch.id}/care", data={"code": "tea"})
    client.post(f"/desk/dispatches/{dispatch.id}/notes", data={"text": "民眾情緒已平復"})

    notes = db.session.scalars(select(VisitNote).order_by(VisitNote.id)).all()
    assert [(n.kind, n.text) for n in notes] == [
        ("seated", "已請入座"),
        ("tea", "已提供茶水"),
        (None, "民眾情緒已平復"),
    ]
    assert notes[0].at == TEN + timedelta(minutes=1) and notes[0].by_id == clerk.id
    page = text(client.get(f"/desk/dispatches/{dispatch.id}"))
    timeline = page[page.index('class="timeline"') :]
    timeline = timeline[: timeline.index("</ol>")]
    assert timeline.count("代為接待") == 2
    assert (
        timeline.index("已請入座") < timeline.index("已提供茶水") < timeline.index("民眾情緒已平復")
    )
    assert "通知後 1 分 00 秒" in timeline
    # English readers see the configured English label; the agency sees no notes at all.
    client.post("/language", data={"lang": "en", "next": "/"})
    assert "Offered a seat" in text(client.get(f"/desk/dispatches/{dispatch.id}"))
    agency_client, _agency = login_as("agency", agency="social-welfare")
    assert "已請入座" not in text(agency_client.get(f"/agency/dispatches/{dispatch.id}"))
    actions = db.session.scalars(
        select(audit.AuditEntry.after)
        .where(audit.AuditEntry.action == "visit.note")
        .order_by(audit.AuditEntry.id)
    ).all()
    assert [a.get("kind") for a in actions] == ["seated", "tea", None]


def test_an_unknown_care_note_is_refused_and_nothing_is_stored(make_dispatch, clerk_client):
    dispatch = make_dispatch()
    clerk_client.post(f"/desk/dispatches/{dispatch.id}/care", data={"code": "massage"})
    assert db.session.scalar(select(func.count(VisitNote.id))) == 0
    assert "未知的接待紀錄" in text(clerk_client.get(f"/desk/dispatches/{dispatch.id}"))


def test_care_notes_are_configurable(app, monkeypatch, make_dispatch, clerk_client):
    monkeypatch.setitem(
        app.config,
        "CARE_NOTES",
        [{"code": "blanket", "zh": "已提供毛毯", "en": "Offered a blanket"}],
    )
    dispatch = make_dispatch()
    page = text(clerk_client.get(f"/desk/dispatches/{dispatch.id}"))
    assert ">已提供毛毯</button>" in page and "已請入座" not in page
    clerk_client.post(f"/desk/dispatches/{dispatch.id}/care", data={"code": "blanket"})
    clerk_client.post(f"/desk/dispatches/{dispatch.id}/care", data={"code": "seated"})
    assert db.session.scalars(select(VisitNote.kind)).all() == ["blanket"]


def test_a_malformed_care_note_list_names_the_problem(app, monkeypatch):
    monkeypatch.setitem(app.config, "CARE_NOTES", [{"code": "Seated!", "zh": "x", "en": "y"}])
    with pytest.raises(ValueError, match="code"):
        care_notes()
    monkeypatch.setitem(app.config, "CARE_NOTES", [{"code": "tea", "zh": "茶"}])
    with pytest.raises(ValueError, match="tea needs a zh and an en label"):
        care_notes()


# --- Seniors and accessibility first ------------------------------------------------------


def test_the_board_and_the_inbox_list_seniors_and_accessibility_first(
    frozen_clock, make_dispatch, clerk_client, login_as
):
    overdue = make_dispatch(subject="逾時一般案")
    clock.advance(seconds=601)  # overdue: 1 s past its deadline
    plain = make_dispatch(subject="一般案")
    senior = make_dispatch(subject="長者案", is_senior=True)
    access = make_dispatch(subject="身障案", needs_accessibility=True)
    expected = [senior.id, access.id, overdue.id, plain.id]

    page = text(clerk_client.get("/desk/board"))
    positions = [page.index(f'data-id="{d}"') for d in expected]
    assert positions == sorted(positions)
    senior_item = page[positions[0] : positions[1]]
    assert "is-priority" in senior_item and ">高齡<" in senior_item
    plain_item = page[positions[3] :]
    assert "is-priority" not in plain_item[: plain_item.index("</li>")]

    feed = clerk_client.get("/api/v1/dispatches/open").get_json()["dispatches"]
    assert [d["id"] for d in feed] == expected

    agency_client, _user = login_as("agency", agency="social-welfare")
    inbox = text(agency_client.get("/agency/"))
    positions = [inbox.index(f'data-id="{d}"') for d in expected]
    assert positions == sorted(positions)
    # The wall display by a link shows no care flags, so it keeps overdue first.
    from models.dispatch import dispatches_on_display

    assert [d.id for d in dispatches_on_display()][0] == overdue.id


# --- One answer per visit -----------------------------------------------------------------


@pytest.fixture
def arrived(frozen_clock, clerk):
    """A dispatch to 社會局 for a visit logged at 10:00, arrived at 10:12 (wait 12 min)."""
    with as_clerk(clerk):
        visit = log_visit(kind="petition", subject="低收入戶", agency="social-welfare", by=clerk)
        dispatch = notify(visit, by=clerk)
        clock.advance(seconds=12 * 60)
        arrive(dispatch, by=clerk)
    db.session.commit()
    return dispatch


def test_one_rating_per_visit_over_the_api(arrived, clerk_api, api_as):
    visit_id = arrived.visit_id
    early = clerk_api.post("/visits", {"kind": "inquiry", "subject": "詢問"}).get_json()
    answer = clerk_api.post(f"/visits/{early['id']}/rating", {"score": "satisfied"})
    assert answer.status_code == 409  # nobody arrived for that one
    assert clerk_api.post(f"/visits/{visit_id}/rating", {"score": "great"}).status_code == 422
    for role in ("supervisor", "agency"):
        other = api_as(role)
        assert other.post(f"/visits/{visit_id}/rating", {"score": "neutral"}).status_code == 403

    first = clerk_api.post(f"/visits/{visit_id}/rating", {"score": "neutral"})
    assert first.status_code == 201, first.get_json()
    assert first.get_json() == {
        "visit_id": visit_id,
        "dispatch_id": arrived.id,
        "agency": "social-welfare",
        "score": "neutral",
        "at": "2024-03-04T10:12:00+08:00",
        "visitor_wait_seconds": 720,
    }
    second = clerk_api.post(f"/visits/{visit_id}/rating", {"score": "satisfied"})
    assert second.status_code == 409
    assert "已" in second.get_json()["message"]
    assert db.session.scalars(select(VisitRating.score)).all() == ["neutral"]
    assert clerk_api.get(f"/dispatches/{arrived.id}").status_code == 200


def test_one_rating_per_visit_on_the_page(arrived, login_as):
    client, clerk = login_as("clerk")
    visit_id = arrived.visit_id
    dispatch_page = text(client.get(f"/desk/dispatches/{arrived.id}"))
    assert f'href="/desk/visits/{visit_id}/rating"' in dispatch_page

    page = text(client.get(f"/desk/visits/{visit_id}/rating"))
    assert page.count('name="score"') == 3
    for word in ("滿意", "普通", "不滿意"):
        assert f">{word}</button>" in page
    assert "<nav" not in page and "site-header" not in page and "<a " not in page

    done = client.post(f"/desk/visits/{visit_id}/rating", data={"score": "satisfied"})
    assert done.status_code == 302
    thanks = text(client.get(done.headers["Location"]))
    assert "謝謝您的寶貴意見" in thanks and 'name="score"' not in thanks
    assert thanks.count("<a ") == 1 and f'href="/desk/dispatches/{arrived.id}"' in thanks

    again = client.post(f"/desk/visits/{visit_id}/rating", data={"score": "dissatisfied"})
    assert again.status_code == 409
    assert "已" in text(again) and 'name="score"' not in text(again)
    rating = db.session.scalar(select(VisitRating))
    assert (rating.score, rating.by_id, rating.dispatch_id) == ("satisfied", clerk.id, arrived.id)
    assert "民眾評價：滿意" in text(client.get(f"/desk/dispatches/{arrived.id}"))

    supervisor, _user = login_as("supervisor")
    assert supervisor.get(f"/desk/visits/{visit_id}/rating").status_code == 403


def test_the_database_refuses_a_second_rating_row(arrived, clerk):
    rate_visit(arrived.visit, "satisfied", by=clerk)
    db.session.commit()
    with pytest.raises(Conflict):
        rate_visit(arrived.visit, "neutral", by=clerk)
    db.session.rollback()
    db.session.add(
        VisitRating(
            visit_id=arrived.visit_id,
            dispatch_id=arrived.id,
            score="neutral",
            at=clock.now(),
        )
    )
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


def test_dissatisfied_tells_the_chief_at_once_through_the_outbox(arrived, clerk, create_user):
    chief = create_user(role="supervisor", email="chief@city.example", receives_escalations=True)
    create_user(role="supervisor", email="other@city.example")  # not the chief
    notified = db.session.scalar(select(func.count(Notification.id)))
    with as_clerk(clerk):
        rate_visit(arrived.visit, "dissatisfied", by=clerk)
    db.session.commit()
    rows = db.session.scalars(
        select(Notification).where(Notification.kind == "visit.dissatisfied")
    ).all()
    assert sorted((r.channel, r.recipient) for r in rows) == [
        ("email", "chief@city.example"),
        ("in_app", f"user:{chief.id}"),
    ]
    payload = rows[0].payload
    assert payload["visit_id"] == arrived.visit_id and payload["agency"] == "social-welfare"
    assert payload["wait_minutes"] == 12.0 and payload["dispatch_id"] == arrived.id
    assert payload["path"] == f"/desk/dispatches/{arrived.id}"
    assert db.session.scalar(select(func.count(Notification.id))) == notified + 2


def test_satisfied_and_neutral_tell_nobody(arrived, clerk, create_user, make_dispatch):
    create_user(role="supervisor", email="chief@city.example", receives_escalations=True)
    rate_visit(arrived.visit, "satisfied", by=clerk)
    other = make_dispatch()
    with as_clerk(clerk):
        arrive(other, by=clerk)
        rate_visit(other.visit, "neutral", by=clerk)
    db.session.commit()
    kinds = db.session.scalars(select(Notification.kind)).all()
    assert "visit.dissatisfied" not in kinds


def test_the_chiefs_in_app_notice_names_the_visit_the_agency_and_the_wait(
    arrived, clerk, app, create_user
):
    from jobs.relay import relay

    chief = create_user(role="supervisor", username="chief", receives_escalations=True)
    rate_visit(arrived.visit, "dissatisfied", by=clerk)
    db.session.commit()
    relay(app)
    client = app.test_client()
    login(client, chief.username)
    page = text(client.get("/notifications"))
    assert f"來訪 #{arrived.visit_id}" in page and "社會局" in page and "12.0" in page


@pytest.mark.postgres_only(reason="two uncommitted inserts on one key need PostgreSQL")
def test_two_taps_at_once_record_exactly_one_answer(arrived, clerk):
    from tests.dispatch.test_concurrency import run_race

    dispatch_id, clerk_id = arrived.id, clerk.id
    db.session.remove()

    def tap(score):
        return lambda dispatch, user: rate_visit(dispatch.visit, score, by=user)

    outcome = run_race(dispatch_id, clerk_id, tap("satisfied"), tap("dissatisfied"))
    assert sorted(outcome) == ["conflict", "won"]
    [score] = db.session.scalars(select(VisitRating.score)).all()
    assert score == ("satisfied" if outcome[0] == "won" else "dissatisfied")


def test_a_note_about_the_visitor_needs_a_dispatch_with_a_visit(make_dispatch):
    """An imported dispatch has no visit: the desk's note and care-note buttons refuse it in one
    place (visit_of), and a dispatch with a visit gives that visit."""
    with pytest.raises(InvalidInput):
        visit_of(Dispatch())
    dispatch = make_dispatch()
    assert visit_of(dispatch) is dispatch.visit


def test_the_wait_in_minutes_rounds_half_up():
    """183 s is 3.05 min: 3.1 half up (banker's rounding would give 3.0)."""
    from models.dispatch.visitors import wait_minutes

    assert wait_minutes(183) == 3.1
    assert wait_minutes(177) == 3.0  # 2.95 → 3.0
    assert wait_minutes(None) is None
