"""The idle agency inbox locks like a screen saver: its alert feed goes on with minimal data,
every other page asks for the password again, and the password unlocks it."""

import pytest
from sqlalchemy import func, select

from models.core import audit, clock, db
from models.dispatch import log_visit, notify
from models.users import FREE_FAILURES, LoginFailure
from tests.conftest import TEST_PASSWORD, login, sets_session_cookie

POLL = {"X-CityDesk-Poll": "1"}
FEED = "/api/v1/dispatches/open?inbox=1"
SUBJECT = "低收入戶補助申請"
VISITOR = "王小明"


@pytest.fixture
def locked_inbox(app, create_user, frozen_clock):
    """(client, user, dispatch): an agency user whose inbox went idle past the timeout, with
    one open dispatch for the agency."""
    clerk = create_user(role="clerk", username="lock-clerk")
    user = create_user(role="agency", agency="social-welfare", username="lock-a", name="林社工")
    with audit.acting_as(audit.Actor(clerk.id, clerk.username)):
        visit = log_visit(kind="petition", subject=SUBJECT, petitioner_name=VISITOR, by=clerk)
        dispatch = notify(visit, "social-welfare", by=clerk)
    db.session.commit()
    client = app.test_client()
    assert login(client, user.username).status_code == 302
    assert SUBJECT in client.get("/agency/").get_data(as_text=True)
    for _minute in range(16):  # the inbox polls on for half an hour with no one at it
        clock.advance(minutes=2)
        client.get(FEED, headers=POLL)
    return client, user, dispatch


def test_a_locked_inbox_feed_still_lists_the_dispatches_but_nothing_personal(locked_inbox):
    client, _user, dispatch = locked_inbox
    response = client.get(FEED, headers=POLL)
    assert response.status_code == 200 and response.json["locked"] is True
    [row] = response.json["dispatches"]
    assert row["id"] == dispatch.id and row["acknowledged_at"] is None
    assert row["deadline_at"] and row["agency_name"] == "社會局"
    text = response.get_data(as_text=True)
    assert SUBJECT not in text and VISITOR not in text and "subject" not in row


def test_an_idle_clerk_is_still_signed_out_not_locked(app, create_user, frozen_clock):
    create_user(role="clerk", username="idle-clerk")
    client = app.test_client()
    login(client, "idle-clerk")
    clock.advance(minutes=31)
    response = client.get("/api/v1/dispatches/open", headers=POLL)
    assert response.status_code == 401 and response.json["message"] == "Session expired"


def test_a_locked_session_sends_every_page_to_the_lock_screen(locked_inbox):
    client, _user, dispatch = locked_inbox
    response = client.get("/agency/")  # a reload of the inbox
    assert response.status_code == 302 and "/unlock?next=/agency/" in response.location
    lock_screen = client.get(response.location).get_data(as_text=True)
    assert "畫面已鎖定" in lock_screen and 'data-live="lock"' in lock_screen
    assert SUBJECT not in lock_screen and VISITOR not in lock_screen
    assert "林社工" not in lock_screen  # not even the user's own name in the header

    for path in (f"/agency/dispatches/{dispatch.id}", "/agency/history", "/notifications"):
        response = client.get(path)
        assert response.status_code == 302 and "/unlock" in response.location, path
    response = client.post(
        f"/agency/dispatches/{dispatch.id}/acknowledge", data={"responder": "王專員"}
    )
    assert response.status_code == 302 and "/unlock" in response.location
    db.session.refresh(dispatch)
    assert dispatch.acknowledged_at is None
    response = client.get(f"/api/v1/dispatches/{dispatch.id}")
    assert response.status_code == 401 and response.json["message"] == "Session locked"


def test_the_password_unlocks_and_a_wrong_one_counts_as_a_failed_sign_in(locked_inbox):
    client, user, _dispatch = locked_inbox
    response = client.post("/unlock?next=/agency/", data={"password": "not-the-password"})
    assert response.status_code == 200 and "密碼錯誤" in response.get_data(as_text=True)
    failures = select(func.count(LoginFailure.id)).where(LoginFailure.account == user.username)
    assert db.session.scalar(failures) == 1
    assert client.get("/agency/").status_code == 302  # still locked

    response = client.post("/unlock?next=/agency/", data={"password": TEST_PASSWORD})
    assert response.status_code == 302 and response.location.endswith("/agency/")
    assert SUBJECT in client.get("/agency/").get_data(as_text=True)
    assert client.get(FEED, headers=POLL).json.get("locked") is None


def test_too_many_wrong_passwords_on_the_lock_screen_sign_out(locked_inbox):
    client, _user, _dispatch = locked_inbox
    for _attempt in range(FREE_FAILURES + 1):
        response = client.post("/unlock", data={"password": "wrong-wrong"})
    assert response.status_code == 302 and "/login" in response.location
    assert client.get(FEED, headers=POLL).status_code == 401


def test_sign_out_from_the_lock_screen(locked_inbox):
    client, _user, _dispatch = locked_inbox
    response = client.post("/logout")
    assert response.status_code == 302 and "/login" in response.location
    assert client.get(FEED, headers=POLL).status_code == 401


def test_the_poll_sends_the_cookie_only_to_renew_it_half_way_to_expiry(
    app, create_user, frozen_clock
):
    """The live poll does not re-sign the session cookie every 2 s (issue 14), yet a tab that
    only polls, locked or not, gets it renewed before it expires: the session cookie lives
    30 minutes and is sent again at most 15 minutes after the last time."""
    user = create_user(role="agency", agency="social-welfare", username="renew-a")
    client = app.test_client()
    assert login(client, user.username).status_code == 302
    sent = []
    for minute in range(70):
        response = client.get(FEED, headers=POLL)
        assert response.status_code == 200
        if sets_session_cookie(response):
            sent.append(minute)
        clock.advance(minutes=1)
    # 16: renewed; 31: the session locks (a change); then renewed every 16 minutes.
    assert sent == [16, 31, 32, 48, 64]
    assert client.get(FEED, headers=POLL).json["locked"] is True
