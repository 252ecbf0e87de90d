"""The live poll's kept answers (issue 14): on PostgreSQL an unchanged list is a 304 with no
statement, until a change is told by NOTIFY (from any connection: the triggers of migration
0020), a deadline passes, an inbox opens or closes, or the user's own row changes."""

import time
from collections import namedtuple
from datetime import datetime, timedelta

import psycopg
import pytest
from sqlalchemy import event

from models.core import audit, clock, db
from models.dispatch import log_visit, notify, open_inboxes
from models.dispatch.live import LiveRows
from models.dispatch.live_changes import ChangeWatch
from models.dispatch.presence import INBOX_OPEN_SECONDS
from webapp.api.live_kept import change_count

FEED = "/api/v1/dispatches/open"
POLL = {"X-CityDesk-Poll": "1"}
ON_POSTGRES = pytest.mark.postgres_only(
    reason="the kept answers follow PostgreSQL's NOTIFY (on SQLite nothing is kept)"
)


@pytest.fixture
def keeping(app, monkeypatch):
    """Kept answers switched on (the suite's config runs every poll's statement)."""
    monkeypatch.setitem(app.config, "LIVE_KEEP_SECONDS", 10)


def _dispatch(clerk, agency="labor", subject="補助申請"):
    with audit.acting_as(audit.Actor(clerk.id, clerk.username)):
        visit = log_visit(kind="petition", subject=subject, by=clerk)
        dispatch = notify(visit, agency, by=clerk)
    db.session.commit()
    return dispatch


def _poll(client, etag=None, inbox=False):
    """One poll: (response, the SQL statements it ran)."""
    headers = dict(POLL)
    if etag:
        headers["If-None-Match"] = etag
    seen = []
    listener = lambda *args: seen.append(args[2])  # noqa: E731
    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        response = client.get(FEED + ("?inbox=1" if inbox else ""), headers=headers)
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)
    return response, seen


def _settled() -> int:
    """The change count once the notices of the test's commits so far have arrived."""
    count, end = change_count(), time.monotonic() + 5
    while time.monotonic() < end:
        time.sleep(0.05)
        again = change_count()
        if again == count:
            return count
        count = again
    raise AssertionError("the notices did not settle")


def _notice_after(before: int) -> None:
    """Wait (at most 5 s) until this process has read a notice counted after `before`."""
    end = time.monotonic() + 5
    while time.monotonic() < end:
        if change_count() != before:
            return
        time.sleep(0.01)
    raise AssertionError("no notice arrived")


def _steady_inbox(client) -> str:
    """Poll an inbox until its answer is kept: its first poll notes it as seen, which opens
    the inbox (a notice, and the rows' inbox flag); returns the kept answer's ETag."""
    _settled()
    _poll(client, inbox=True)
    _settled()
    tag = _poll(client, inbox=True)[0].headers["ETag"]
    response, seen = _poll(client, tag, inbox=True)
    assert response.status_code == 304 and seen == []
    return tag


def _by_hand(app, sql: str) -> None:
    """A write on a connection of its own, committed (as another process or psql would)."""
    url = app.config["SQLALCHEMY_DATABASE_URI"].replace("postgresql+psycopg", "postgresql")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql)


@ON_POSTGRES
def test_an_unchanged_list_is_a_304_with_no_statement(keeping, frozen_clock, clerk, login_as):
    """The second poll of an unchanged list is answered from the kept answer."""
    _dispatch(clerk)
    client, _user = login_as("clerk")
    _settled()
    first, _ = _poll(client)
    assert first.status_code == 200
    again, seen = _poll(client, first.headers["ETag"])
    assert again.status_code == 304 and again.headers["ETag"] == first.headers["ETag"]
    assert seen == []


@ON_POSTGRES
@pytest.mark.parametrize(
    ("sql", "shown"),
    [
        ("UPDATE dispatch SET subject = '手改的主旨'", True),
        ("UPDATE visit SET is_senior = true", True),
        ("UPDATE agency SET name_zh = '勞動局（手改）' WHERE code = 'labor'", True),
        # the clerk's name is not on the list (no acknowledgement): read again, the same list
        ("UPDATE \"user\" SET name = '改名' WHERE username = 'counter'", False),
        (
            "INSERT INTO inbox_presence (agency_id, seen_at) SELECT id, now() FROM agency "
            "WHERE code = 'labor'",
            True,  # the labor inbox opens
        ),
    ],
    ids=["dispatch", "visit", "agency", "user", "inbox"],
)
def test_a_write_on_another_connection_ends_the_kept_answer(
    keeping, app, frozen_clock, clerk, login_as, sql, shown
):
    """Every table the list reads tells the processes of a write, whoever made it: the next
    poll runs its statement again."""
    _dispatch(clerk)
    client, _user = login_as("clerk")
    before = _settled()
    first, _ = _poll(client)
    _by_hand(app, sql)
    _notice_after(before)
    again, seen = _poll(client, first.headers["ETag"])
    assert len(seen) == 1 and "FROM dispatch" in seen[0]
    assert again.status_code == (200 if shown else 304)


@ON_POSTGRES
def test_a_deadline_passing_ends_the_kept_answer(keeping, frozen_clock, clerk, login_as):
    """Kept up to the deadline (overdue is after it); one instant later the list is read again
    and the dispatch is overdue."""
    dispatch = _dispatch(clerk)
    client, _user = login_as("clerk")
    _settled()
    clock.freeze(dispatch.deadline_at - timedelta(seconds=5))  # within LIVE_KEEP_SECONDS
    first, _ = _poll(client)
    clock.freeze(dispatch.deadline_at)
    at_deadline, seen = _poll(client, first.headers["ETag"])
    assert at_deadline.status_code == 304 and seen == []
    clock.advance(seconds=1)
    after, seen = _poll(client, first.headers["ETag"])
    assert after.status_code == 200 and len(seen) == 1
    assert after.get_json()["dispatches"][0]["overdue"] is True


@ON_POSTGRES
def test_a_user_signed_out_everywhere_is_refused_though_the_list_is_unchanged(
    keeping, frozen_clock, clerk, login_as
):
    """Two clerks share the board's kept answer; one is signed out everywhere: that one's next
    poll is a 401, the other's a 304."""
    from models.users import end_sessions

    _dispatch(clerk)
    stays, _ = login_as("clerk")
    leaves, leaving = login_as("clerk")
    _settled()
    tag = _poll(stays)[0].headers["ETag"]
    assert _poll(leaves, tag)[0].status_code == 304
    before = _settled()
    end_sessions(leaving)
    db.session.commit()
    _notice_after(before)
    assert _poll(leaves, tag)[0].status_code == 401
    assert _poll(stays, tag)[0].status_code == 304


@ON_POSTGRES
def test_an_inbox_opening_and_closing_changes_the_boards_answer(
    keeping, frozen_clock, clerk, login_as
):
    """The board's kept answer ends when the agency's inbox opens (a notice) and when it
    counts as closed again (INBOX_OPEN_SECONDS after it was last seen, by the clock)."""
    _dispatch(clerk)
    board, _ = login_as("clerk")
    inbox, _ = login_as("agency", agency="labor")
    before = _settled()
    closed, _ = _poll(board)
    assert closed.get_json()["dispatches"][0]["inbox_open"] is False
    assert _poll(inbox, inbox=True)[0].status_code == 200  # notes the inbox as seen
    _notice_after(before)
    opened, _ = _poll(board, closed.headers["ETag"])
    assert opened.status_code == 200 and opened.get_json()["dispatches"][0]["inbox_open"]
    clock.advance(seconds=INBOX_OPEN_SECONDS)
    assert _poll(board, opened.headers["ETag"])[0].status_code == 304
    clock.advance(seconds=1)
    gone, _ = _poll(board, opened.headers["ETag"])
    assert gone.status_code == 200 and gone.get_json()["dispatches"][0]["inbox_open"] is False


@ON_POSTGRES
def test_another_agencys_answer_is_not_given(keeping, frozen_clock, clerk, login_as):
    """A kept answer is for its scope only: the health inbox sending the labor inbox's ETag
    gets its own list."""
    _dispatch(clerk, "labor", "勞工局的事")
    _dispatch(clerk, "health", "衛生局的事")
    labor, _ = login_as("agency", agency="labor")
    health, _ = login_as("agency", agency="health")
    tag = _steady_inbox(labor)
    other, seen = _poll(health, tag, inbox=True)
    assert other.status_code == 200 and len(seen) >= 1
    assert [d["subject"] for d in other.get_json()["dispatches"]] == ["衛生局的事"]


@ON_POSTGRES
def test_the_inbox_is_still_noted_when_answered_from_the_kept_answer(
    keeping, frozen_clock, clerk, login_as
):
    """An inbox answered without reading its list is still noted as seen (one upsert every
    few seconds), so the board still shows it open."""
    _dispatch(clerk)
    inbox, user = login_as("agency", agency="labor")
    tag = _steady_inbox(inbox)
    clock.advance(seconds=4)
    response, seen = _poll(inbox, tag, inbox=True)
    assert response.status_code == 304
    assert len(seen) == 1 and seen[0].startswith("INSERT INTO inbox_presence")
    assert user.agency_id in open_inboxes(clock.now() + timedelta(seconds=INBOX_OPEN_SECONDS))


# --- What a notice counts (no database) -------------------------------------------------


def test_an_inbox_seen_again_within_the_open_window_is_no_change():
    """Only an inbox opening again (last seen more than INBOX_OPEN_SECONDS before) or a new
    one counts; the 3-second notes of an open inbox do not."""
    watch = ChangeWatch("unused")
    for payload in ("inbox:3.000", f"inbox:{INBOX_OPEN_SECONDS}"):
        watch.note(payload)
    assert watch.count == 0
    for payload in (f"inbox:{INBOX_OPEN_SECONDS + 0.5}", "inbox:new", ""):
        watch.note(payload)
    assert watch.count == 3


def test_a_users_notice_marks_that_user_only_and_an_emptied_table_everyone():
    watch = ChangeWatch("unused")
    watch.note("user:7")
    assert watch.count == 1
    assert not watch.user_unchanged_since(7, 0) and watch.user_unchanged_since(7, 1)
    assert watch.user_unchanged_since(8, 0)
    watch.note("user:*")
    assert not watch.user_unchanged_since(8, 1) and watch.user_unchanged_since(8, 2)


# --- Until when a list holds by itself (no database) ----------------------------------------

Row = namedtuple("Row", "deadline_at inbox_seen_at")
NOW = datetime(2024, 3, 4, 10, 0, tzinfo=clock.TAIPEI)


def _holds_until(*rows) -> datetime:
    return LiveRows(rows=list(rows), earlier=0, own_seen_at=None, viewer_valid=True).holds_until(
        NOW
    )


def test_a_list_holds_until_the_instant_after_its_next_deadline():
    """Overdue is `deadline_at < at`: at the deadline itself the list is as it was."""
    soon, later = NOW + timedelta(minutes=4), NOW + timedelta(minutes=9)
    assert _holds_until(Row(later, None), Row(soon, None)) == soon + timedelta(microseconds=1)
    assert _holds_until(Row(NOW, None)) == NOW + timedelta(microseconds=1)


def test_an_overdue_dispatch_changes_nothing_more_by_itself():
    overdue = Row(NOW - timedelta(seconds=1), None)
    assert _holds_until(overdue) == clock.day_bounds(NOW.date())[1]  # Taipei midnight


def test_a_list_holds_until_a_listed_inbox_counts_as_closed():
    """Open is `seen_at >= at - INBOX_OPEN_SECONDS`: it closes one instant after that."""
    seen = NOW - timedelta(seconds=4)
    row = Row(NOW + timedelta(minutes=9), seen)
    closes = seen + timedelta(seconds=INBOX_OPEN_SECONDS, microseconds=1)
    assert _holds_until(row) == closes


def test_an_empty_list_holds_until_taipei_midnight():
    """At midnight today's dispatches become earlier ones."""
    assert _holds_until() == datetime(2024, 3, 5, 0, 0, tzinfo=clock.TAIPEI)
