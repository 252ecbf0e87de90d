"""The live poll (GET /api/v1/dispatches/open, issue 14): one statement, the same body as the
schema's, a validator that answers an unchanged list with 304, and the bound of the live list
(today's open dispatches; the earlier ones counted and settled at the end of day, 日結)."""

import json
import re
from datetime import datetime, timedelta

from sqlalchemy import event, select

from models.core import audit, clock, db
from models.dispatch import (
    EARLIER_COUNT_CAP,
    Dispatch,
    acknowledge,
    dispatch_for,
    log_visit,
    notify,
    open_inboxes,
    record_inbox_seen,
    transfer,
    visible_open_dispatches,
)
from tests.conftest import csrf_token
from webapp.api.dispatch_schemas import LiveSchema
from webapp.api.dispatches import dispatch_data

NOON = datetime(2024, 3, 4, 12, 0, tzinfo=clock.TAIPEI)


def _dispatch(clerk, agency="social-welfare", **visit):
    with audit.acting_as(audit.Actor(clerk.id, clerk.username)):
        v = log_visit(kind="petition", subject=visit.pop("subject", "補助申請"), by=clerk, **visit)
        d = notify(v, agency, by=clerk)
    db.session.commit()
    return d


def _get(api, etag=None, **query):
    headers = {"Authorization": f"Bearer {api.token}"}
    if etag:
        headers["If-None-Match"] = etag
    return api.client.get("/api/v1/dispatches/open", headers=headers, query_string=query)


# --- The body -----------------------------------------------------------------------------


def test_live_body_is_the_schema_dump_of_the_dispatches(app, frozen_clock, clerk, api_as):
    """The fast body (plain rows, no schema dump) is exactly what LiveSchema made of
    dispatch_data before: every field of every kind of open dispatch."""
    staff = api_as("agency", agency="labor", name="林專員")
    senior = _dispatch(clerk, "labor", is_senior=True, subject="長者陪同")
    clock.advance(seconds=30)
    with audit.acting_as(audit.Actor(staff.user.id, staff.user.username)):
        acknowledge(senior, "王專員", 5, by=staff.user)
    moved = _dispatch(clerk, "health", needs_accessibility=True)
    clock.advance(seconds=20)
    with audit.acting_as(audit.Actor(clerk.id, clerk.username)):
        successor = transfer(moved, "social-welfare", "轉社會局", by=clerk)
    db.session.commit()
    _dispatch(clerk, "commerce")
    clock.advance(seconds=500)
    _dispatch(clerk, "labor", subject="最新")
    clock.advance(seconds=120)  # the first ones are overdue now
    record_inbox_seen(successor.agency_id)
    db.session.commit()
    at = clock.now()
    for api, locale in ((api_as("clerk"), "zh"), (staff, "zh")):
        body = _get(api).get_json()
        with app.test_request_context(headers={"Accept-Language": locale}):
            reachable = open_inboxes(at)
            rows = visible_open_dispatches(api.user, at)
            expected = LiveSchema().dump(
                {
                    "server_time": at,
                    "earlier_open": 0,
                    "dispatches": [
                        {**dispatch_data(d, at), "inbox_open": d.agency_id in reachable}
                        for d in rows
                    ],
                }
            )
        assert body == json.loads(json.dumps(expected))
    assert [d["overdue"] for d in body["dispatches"]] == [True, False]


def test_live_poll_is_one_statement(app, frozen_clock, clerk, api_as):
    """A poll reads the list in one statement (plus the bearer token's look-up)."""
    for agency in ("labor", "health", "commerce"):
        _dispatch(clerk, agency, is_senior=agency == "health")
    api = api_as("clerk")
    seen = []
    listener = lambda *args: seen.append(args[2])  # noqa: E731
    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        assert len(_get(api).get_json()["dispatches"]) == 3
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)
    assert len([s for s in seen if "FROM dispatch" in s or "dispatch." in s]) == 1, seen
    assert len(seen) <= 2, seen


# --- The validator --------------------------------------------------------------------------


def test_unchanged_list_is_a_304_with_no_body_and_a_change_a_new_etag(frozen_clock, clerk, api_as):
    d = _dispatch(clerk, "labor")
    api = api_as("clerk")
    first = _get(api)
    etag = first.headers["ETag"]
    assert first.status_code == 200 and etag.startswith('W/"')
    assert first.headers["Cache-Control"] == "no-store"
    clock.advance(seconds=5)  # only the clock moved
    again = _get(api, etag)
    assert again.status_code == 304
    assert again.get_data() == b""
    assert again.headers["ETag"] == etag
    staff = api_as("agency", agency="labor")
    with audit.acting_as(audit.Actor(staff.user.id, staff.user.username)):
        acknowledge(d, "王專員", by=staff.user)
    db.session.commit()
    changed = _get(api, etag)
    assert changed.status_code == 200
    assert changed.headers["ETag"] != etag
    assert changed.get_json()["dispatches"][0]["acknowledged_at"] is not None
    assert _get(api, changed.headers["ETag"]).status_code == 304


def test_etag_follows_the_viewers_scope(frozen_clock, clerk, api_as):
    """Another agency's new dispatch changes the desk's list, not this agency's; the same
    list seen by the desk and by the agency has different validators."""
    _dispatch(clerk, "labor")
    labor = api_as("agency", agency="labor")
    desk = api_as("clerk")
    labor_tag = _get(labor).headers["ETag"]
    desk_tag = _get(desk).headers["ETag"]
    assert labor_tag != desk_tag  # one dispatch in both lists, two scopes
    _dispatch(clerk, "health")
    assert _get(labor, labor_tag).status_code == 304
    assert _get(desk, desk_tag).status_code == 200
    _dispatch(clerk, "labor", subject="再一件")
    assert _get(labor, labor_tag).status_code == 200
    assert _get(desk, labor_tag).status_code == 200  # a tag of another scope never matches


def test_etag_changes_when_a_dispatch_becomes_overdue(frozen_clock, clerk, api_as):
    """What follows the clock is judged on the server too: the moment a deadline passes the
    list changes (overdue, outcome, order), so the validator changes."""
    _dispatch(clerk, "labor")
    api = api_as("clerk")
    tag = _get(api).headers["ETag"]
    clock.advance(seconds=600)  # exactly at the deadline: not overdue yet
    assert _get(api, tag).status_code == 304
    clock.advance(seconds=1)
    late = _get(api, tag)
    assert late.status_code == 200
    assert late.get_json()["dispatches"][0]["overdue"] is True


def test_etag_changes_when_an_agency_inbox_opens(frozen_clock, clerk, api_as):
    """The desk sees whether each agency's inbox is open: the validator follows it."""
    _dispatch(clerk, "labor")
    desk = api_as("clerk")
    tag = _get(desk).headers["ETag"]
    labor = api_as("agency", agency="labor")
    assert _get(labor, inbox=1).status_code == 200  # the inbox polls: noted open
    opened = _get(desk, tag)
    assert opened.status_code == 200
    assert opened.get_json()["dispatches"][0]["inbox_open"] is True
    clock.advance(seconds=11)  # nobody polled since: closed again
    closed = _get(desk, opened.headers["ETag"])
    assert closed.status_code == 200
    assert closed.get_json()["dispatches"][0]["inbox_open"] is False


def test_inbox_poll_notes_the_inbox_at_most_every_few_seconds(frozen_clock, clerk, api_as):
    from models.dispatch import InboxPresence

    labor = api_as("agency", agency="labor")
    _get(labor, inbox=1)
    first = db.session.scalar(select(InboxPresence.seen_at))
    clock.advance(seconds=2)
    _get(labor, inbox=1)
    db.session.expire_all()
    assert db.session.scalar(select(InboxPresence.seen_at)) == first
    clock.advance(seconds=2)
    _get(labor, inbox=1)
    db.session.expire_all()
    assert db.session.scalar(select(InboxPresence.seen_at)) == clock.now()


# --- The bound and the end of day (日結) -----------------------------------------------------


def _yesterday_open(clerk, agency="labor"):
    """A dispatch notified yesterday at noon and still open now (today at noon)."""
    clock.freeze(NOON - timedelta(days=1))
    d = _dispatch(clerk, agency, subject="昨天的")
    clock.freeze(NOON)
    return d


def test_an_earlier_open_dispatch_is_counted_not_listed_and_settled_at_the_end_of_day(
    app, clerk, api_as, login_as
):
    old = _yesterday_open(clerk)
    try:
        today = _dispatch(clerk, "labor")
        api = api_as("clerk")
        body = _get(api).get_json()
        assert [d["id"] for d in body["dispatches"]] == [today.id]
        assert body["earlier_open"] == 1
        assert _get(api_as("agency", agency="labor")).get_json()["earlier_open"] == 1
        assert _get(api_as("agency", agency="health")).get_json()["earlier_open"] == 0
        client, _user = login_as("clerk")
        board = client.get("/desk/board").get_data(as_text=True)
        assert f'data-id="{old.id}"' not in board and f'data-id="{today.id}"' in board
        assert "/desk/end-of-day" in board
        page = client.get("/desk/end-of-day").get_data(as_text=True)
        assert f'data-earlier-id="{old.id}"' in page
        assert f'data-earlier-id="{today.id}"' not in page
        tag = _get(api).headers["ETag"]
        response = client.post(
            "/desk/end-of-day",
            data={
                "dispatch": [str(old.id)],
                "reason": "民眾已離開",
                "csrf_token": csrf_token(client, "/desk/end-of-day"),
            },
        )
        assert response.status_code == 302
        db.session.expire_all()
        settled = db.session.get(Dispatch, old.id)
        assert (settled.state, settled.end_reason) == ("cancelled", "民眾已離開")
        assert settled.outcome().value == "late"  # past its deadline: it counts as late
        after = _get(api, tag)
        assert after.status_code == 200 and after.get_json()["earlier_open"] == 0
        page = client.get("/desk/end-of-day").get_data(as_text=True)
        assert f'data-earlier-id="{old.id}"' not in page
        assert db.session.get(Dispatch, today.id).state == "notified"
    finally:
        clock.unfreeze()


def test_a_dispatch_whose_clock_still_runs_at_midnight_stays_on_the_board(clerk, api_as):
    """Notified at 23:55, its deadline 00:05: it is live until then, then for the end of day."""
    clock.freeze(datetime(2024, 3, 4, 23, 55, tzinfo=clock.TAIPEI))
    try:
        late_night = _dispatch(clerk, "labor")
        api = api_as("clerk")
        clock.freeze(datetime(2024, 3, 5, 0, 4, tzinfo=clock.TAIPEI))
        body = _get(api).get_json()
        assert [d["id"] for d in body["dispatches"]] == [late_night.id]
        assert body["earlier_open"] == 0
        clock.freeze(datetime(2024, 3, 5, 0, 5, 1, tzinfo=clock.TAIPEI))
        body = _get(api).get_json()
        assert (body["dispatches"], body["earlier_open"]) == ([], 1)
    finally:
        clock.unfreeze()


def test_settling_refuses_a_dispatch_of_today_and_changes_nothing(clerk, login_as):
    old = _yesterday_open(clerk)
    try:
        today = _dispatch(clerk, "labor")
        client, user = login_as("clerk")
        response = client.post(
            "/desk/end-of-day",
            data={
                "dispatch": [str(old.id), str(today.id)],
                "reason": "x",
                "csrf_token": csrf_token(client, "/desk/end-of-day"),
            },
            follow_redirects=True,
        )
        text = response.get_data(as_text=True)
        flashes = re.findall(r'class="flash[^"]*"[^>]*>([^<]*)', text)
        assert any(f"#{today.id} " in m for m in flashes), flashes
        db.session.expire_all()
        assert db.session.get(Dispatch, old.id).state == "notified"
        assert db.session.get(Dispatch, today.id).state == "notified"
    finally:
        clock.unfreeze()


def test_the_earlier_count_is_capped(clerk, api_as):
    clock.freeze(NOON - timedelta(days=3))
    try:
        with audit.acting_as(audit.Actor(clerk.id, clerk.username)):
            for _ in range(EARLIER_COUNT_CAP + 2):
                notify(log_visit(kind="other", subject="舊", by=clerk), "labor", by=clerk)
        db.session.commit()
        clock.freeze(NOON)
        assert _get(api_as("clerk")).get_json()["earlier_open"] == EARLIER_COUNT_CAP
    finally:
        clock.unfreeze()


def test_agency_staff_cannot_settle_the_end_of_day(clerk, login_as):
    old = _yesterday_open(clerk)
    try:
        client, user = login_as("agency", agency="labor")
        assert client.get("/desk/end-of-day").status_code == 403
        db.session.expire_all()
        assert dispatch_for(user, old.id).state == "notified"
    finally:
        clock.unfreeze()


# --- The signed-in session's poll -------------------------------------------------------------

FEED = "/api/v1/dispatches/open"
POLL = {"X-CityDesk-Poll": "1"}


def _statements(client, url=FEED):
    seen = []
    listener = lambda *args: seen.append(args[2])  # noqa: E731
    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        response = client.get(url, headers=POLL)
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)
    return response, seen


def test_a_sessions_poll_is_one_statement_once_its_viewer_is_known(frozen_clock, clerk, login_as):
    """The first poll of a session loads the user; the next ones check the user's row inside
    the list's own statement: one statement a poll."""
    _dispatch(clerk, "labor")
    client, _user = login_as("clerk")
    client.get(FEED, headers=POLL)
    response, seen = _statements(client)
    assert response.status_code == 200 and len(response.get_json()["dispatches"]) == 1
    assert len(seen) == 1, seen
    assert "FROM dispatch" in seen[0] and re.search(r'FROM "?user"?\s', seen[0])


def test_a_deactivated_or_signed_out_user_is_refused_at_the_next_poll(
    frozen_clock, clerk, login_as
):
    """The kept viewer is checked against the user's row at every poll: deactivated, or every
    session ended (the session version moved), the next poll is a 401 with no list, and the
    inbox is not noted."""
    from models.users import end_sessions, update_user

    _dispatch(clerk, "labor")
    for end in (lambda u: update_user(u, active=False), end_sessions):
        client, user = login_as("agency", agency="labor")
        assert client.get(f"{FEED}?inbox=1", headers=POLL).status_code == 200
        clock.advance(seconds=30)  # the inbox is due to be noted again
        seen_before = open_inboxes(clock.now() - timedelta(seconds=29))
        end(user)
        db.session.commit()
        response = client.get(f"{FEED}?inbox=1", headers=POLL)
        assert response.status_code == 401
        assert response.get_json()["message"] == "Sign in or send a valid bearer token"
        assert "dispatches" not in response.get_json()
        assert open_inboxes(clock.now() - timedelta(seconds=29)) == seen_before


def test_a_poll_follows_a_change_of_the_users_agency_or_language(frozen_clock, clerk, login_as):
    """A kept viewer whose row changed is read again in the same poll: an agency user moved to
    another agency sees that agency's list at once, and a changed language answers in it."""
    from models.users import update_user

    _dispatch(clerk, "labor", subject="勞工局的事")
    _dispatch(clerk, "health", subject="衛生局的事")
    client, user = login_as("agency", agency="labor")
    first = client.get(FEED, headers=POLL).get_json()["dispatches"]
    assert [d["subject"] for d in first] == ["勞工局的事"]
    update_user(user, agency="health")
    db.session.commit()
    moved = client.get(FEED, headers=POLL).get_json()["dispatches"]
    assert [d["subject"] for d in moved] == ["衛生局的事"]
    assert moved[0]["agency_name"] == "衛生局"
    update_user(user, locale="en")
    db.session.commit()
    assert client.get(FEED, headers=POLL).get_json()["dispatches"][0]["agency_name"] == (
        "Department of Health"
    )


def test_a_clerk_made_facility_staff_is_refused_at_the_next_poll(frozen_clock, clerk, login_as):
    """The kept viewer's role is checked too: a clerk moved to facility work (a role that sees
    no dispatches) gets a 403 at the next poll, not the list the clerk saw."""
    from models.users import update_user

    _dispatch(clerk, "labor")
    client, user = login_as("clerk")
    assert len(client.get(FEED, headers=POLL).get_json()["dispatches"]) == 1
    update_user(user, role="facility")
    db.session.commit()
    response = client.get(FEED, headers=POLL)
    assert response.status_code == 403
    assert "dispatches" not in response.get_json()


def test_facility_staff_made_a_clerk_sees_the_board_at_the_next_poll(frozen_clock, clerk, login_as):
    """A refused poll keeps nothing: facility staff (403) made a clerk get the list at once."""
    from models.users import update_user

    _dispatch(clerk, "labor")
    client, user = login_as("facility")
    assert client.get(FEED, headers=POLL).status_code == 403
    update_user(user, role="clerk")
    db.session.commit()
    response = client.get(FEED, headers=POLL)
    assert response.status_code == 200 and len(response.get_json()["dispatches"]) == 1
