"""The agency's alerts on the server: the sound setting per user (on by default), and whether
an agency's inbox is open right now (seen within 10 s), which the clerk's board shows."""

import re

from sqlalchemy import select

from models.core import clock, db
from models.dispatch import INBOX_OPEN_SECONDS, InboxPresence, open_inboxes, record_inbox_seen
from models.reference import agency_by_code
from models.users import User

POLL = {"X-CityDesk-Poll": "1"}


def sound_setting(user) -> bool:
    """The user's stored sound setting, read afresh."""
    return db.session.scalar(select(User.sound_alerts).where(User.id == user.id))


def test_sound_alerts_are_on_by_default_and_each_agency_user_can_switch_them_off(login_as):
    client, user = login_as("agency", agency="social-welfare")
    assert sound_setting(user) is True
    assert 'data-sound="on"' in client.get("/agency/").get_data(as_text=True)

    response = client.post("/agency/sound", data={"on": "0"})
    assert response.status_code == 302
    assert sound_setting(user) is False
    page = client.get("/agency/").get_data(as_text=True)
    assert 'data-sound="off"' in page and "已關閉提示音" in page

    # The inbox's script asks for JSON.
    response = client.post(
        "/agency/sound", data={"on": "1"}, headers={"Accept": "application/json"}
    )
    assert response.status_code == 200 and response.json == {"sound_alerts": True}
    assert sound_setting(user) is True


def test_a_bad_sound_setting_is_refused_and_changes_nothing(login_as):
    client, user = login_as("agency", agency="social-welfare")
    response = client.post(
        "/agency/sound", data={"on": "loud"}, headers={"Accept": "application/json"}
    )
    assert response.status_code == 422 and response.json["message"] == "請選擇開或關。"
    assert sound_setting(user) is True


def test_an_inbox_is_open_when_it_polled_within_10_seconds(frozen_clock):
    agency = agency_by_code("social-welfare")
    record_inbox_seen(agency.id)
    db.session.commit()
    assert open_inboxes() == {agency.id}
    clock.advance(seconds=INBOX_OPEN_SECONDS)
    assert open_inboxes() == {agency.id}  # exactly 10 s: still open
    clock.advance(seconds=1)
    assert open_inboxes() == set()


def test_inbox_polls_are_written_at_most_once_every_3_seconds(frozen_clock):
    agency = agency_by_code("social-welfare")
    first = clock.now()
    record_inbox_seen(agency.id)
    clock.advance(seconds=2)
    record_inbox_seen(agency.id)  # too soon: not written
    db.session.commit()
    assert db.session.get(InboxPresence, agency.id).seen_at == first
    clock.advance(seconds=1)
    record_inbox_seen(agency.id)
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(InboxPresence, agency.id).seen_at == clock.now()


def test_the_live_feed_says_per_dispatch_whether_the_agencys_inbox_is_open(
    frozen_clock, login_as, clerk_client, make_dispatch
):
    social = make_dispatch("social-welfare")
    labor = make_dispatch("labor")
    agency, _user = login_as("agency", agency="social-welfare")
    clerk_client.get("/api/v1/dispatches/open?inbox=1", headers=POLL)  # a clerk: not an inbox
    assert agency.get("/api/v1/dispatches/open?inbox=1", headers=POLL).status_code == 200

    def inbox_open() -> dict:
        rows = clerk_client.get("/api/v1/dispatches/open", headers=POLL).json["dispatches"]
        return {row["id"]: row["inbox_open"] for row in rows}

    assert inbox_open() == {social.id: True, labor.id: False}
    clock.advance(seconds=INBOX_OPEN_SECONDS + 1)  # the inbox was closed meanwhile
    assert inbox_open() == {social.id: False, labor.id: False}


def test_the_board_shows_per_dispatch_whether_the_agencys_inbox_is_open(
    frozen_clock, login_as, clerk_client, make_dispatch
):
    social = make_dispatch("social-welfare")
    labor = make_dispatch("labor")
    agency, _user = login_as("agency", agency="social-welfare")
    agency.get("/api/v1/dispatches/open?inbox=1", headers=POLL)
    page = clerk_client.get("/desk/board").get_data(as_text=True)

    def state(dispatch) -> str:
        item = re.search(rf'<li class="live-item[^"]*" data-id="{dispatch.id}".*?</li>', page, re.S)
        return re.search(r'data-field="inbox">([^<]*)<', item.group(0)).group(1)

    assert state(social) == "收件匣開啟中"
    assert state(labor) == "收件匣未開啟，請以電話通知"
