"""Reading dispatches: who sees which (one visibility rule) and "today" (one query)."""

from datetime import datetime

import pytest
from sqlalchemy import select

from models.core import clock, db
from models.core.errors import Forbidden, NotFound
from models.dispatch import (
    Dispatch,
    DispatchFilter,
    arrive,
    dispatch_for,
    outcome_counts,
    search_dispatches,
    today_for,
    visible_condition,
    visible_dispatches,
    visible_open_dispatches,
)


def _ids(dispatches) -> set[int]:
    return {d.id for d in dispatches}


@pytest.mark.parametrize(
    ("role", "agency", "sees"),
    [
        ("clerk", None, {"social-welfare", "labor"}),
        ("supervisor", None, {"social-welfare", "labor"}),
        ("agency", "labor", {"labor"}),
        ("facility", None, set()),
        ("admin", None, set()),
    ],
)
def test_dispatch_visibility_is_one_rule_for_lists_counts_and_pages(
    frozen_clock, make_dispatch, create_user, role, agency, sees
):
    made = {code: make_dispatch(code) for code in ("social-welfare", "labor")}
    expected = {made[code].id for code in sees}
    user = create_user(role=role, agency=agency)
    assert _ids(db.session.scalars(visible_dispatches(user))) == expected
    assert _ids(db.session.scalars(select(Dispatch).where(visible_condition(user)))) == expected
    assert _ids(db.session.scalars(search_dispatches(user, DispatchFilter()))) == expected
    assert _ids(visible_open_dispatches(user)) == expected
    assert _ids(today_for(user).dispatches) == expected
    assert outcome_counts(visible_condition(user)).total == len(expected)
    for code, dispatch in made.items():
        if code in sees:
            assert dispatch_for(user, dispatch.id) == dispatch
        else:
            with pytest.raises((NotFound, Forbidden)):
                dispatch_for(user, dispatch.id)


def test_today_lists_what_the_user_may_see_notified_this_taipei_day(
    make_dispatch, create_user, clerk, login_as
):
    # 2024-03-03 23:59 in Taipei is yesterday, even though it is the same UTC day as 00:01.
    clock.freeze(datetime(2024, 3, 3, 23, 59, tzinfo=clock.TAIPEI))
    yesterday = make_dispatch(subject="昨日案")
    clock.advance(minutes=2)
    done = make_dispatch(subject="已到場案")
    clock.advance(minutes=3)
    arrive(done, by=clerk)
    waiting = make_dispatch(subject="等候中案")
    other = make_dispatch("labor", subject="勞動局案")
    db.session.commit()
    clock.advance(minutes=1)

    desk = today_for(clerk)
    assert desk.day.isoformat() == "2024-03-04"
    assert [d.id for d in desk.dispatches] == [other.id, waiting.id, done.id]  # newest first
    assert _ids(desk.open) == {waiting.id, other.id} and _ids(desk.finished) == {done.id}
    assert (desk.counts.on_time, desk.counts.pending) == (1, 2)
    assert yesterday.id not in _ids(desk.dispatches)

    staff = create_user(role="agency", agency="social-welfare")
    inbox = today_for(staff)
    assert _ids(inbox.dispatches) == {waiting.id, done.id}
    assert (inbox.counts.on_time, inbox.counts.pending) == (1, 1)

    # Both pages show what the one query gives.
    client, _user = login_as("clerk")
    page = client.get("/desk/today").get_data(as_text=True)
    assert "勞動局案" in page and "已到場案" in page and "昨日案" not in page
    agency_client, _user = login_as("agency", agency="social-welfare")
    page = agency_client.get("/agency/").get_data(as_text=True)
    assert "已到場案" in page and "等候中案" in page and "勞動局案" not in page
    assert "昨日案" in page  # still open: the inbox lists every open one, not only today's
