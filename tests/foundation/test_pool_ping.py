"""The connection pool on PostgreSQL: a connection the server dropped costs a request nothing
(it is pinged when taken from the pool), but a poll's connection in use a moment ago is not
pinged (issue 14: polls are most of the requests): such a poll fails once and the next one is
answered on a new connection."""

import psycopg
import pytest

from models.core import db
from webapp import pool_ping

FEED = "/api/v1/dispatches/open"
POLL = {"X-CityDesk-Poll": "1"}

pytestmark = pytest.mark.postgres_only(
    reason="the ping is PostgreSQL's (SQLite has no server to drop a connection)"
)


def _drop_pooled_connections(app) -> int:
    """The server ends every other connection to the test database (as a restart would)."""
    db.session.remove()
    url = app.config["SQLALCHEMY_DATABASE_URI"].replace("postgresql+psycopg", "postgresql")
    with psycopg.connect(url, autocommit=True) as admin:
        ended = admin.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchone()[0]
    return ended


def test_a_request_after_the_server_dropped_its_connection_gets_a_new_one(app, login_as):
    """A page or API call takes a pinged connection: the dropped one is replaced, no error."""
    client, _user = login_as("clerk")
    assert client.get("/api/v1/dispatches").status_code == 200
    assert _drop_pooled_connections(app) >= 1
    assert client.get("/api/v1/dispatches").status_code == 200


def test_a_poll_on_a_connection_used_a_moment_ago_is_not_pinged(app, login_as):
    """The poll right after the drop is not pinged, so it fails (a 500, logged); its error
    invalidates the pool and the next poll is answered."""
    client, _user = login_as("clerk")
    assert client.get(FEED, headers=POLL).status_code == 200
    assert _drop_pooled_connections(app) >= 1
    failed = client.get(FEED, headers=POLL)
    assert failed.status_code == 500 and failed.get_json()["error"] == "server_error"
    assert client.get(FEED, headers=POLL).status_code == 200


def test_a_poll_on_a_connection_idle_for_a_while_is_pinged(app, login_as, monkeypatch):
    """A connection back in the pool longer than POLL_UNPINGED_SECONDS is pinged for a poll
    too: the drop costs the poll nothing."""
    client, _user = login_as("clerk")
    assert client.get(FEED, headers=POLL).status_code == 200
    monkeypatch.setattr(pool_ping, "POLL_UNPINGED_SECONDS", 0)
    assert _drop_pooled_connections(app) >= 1
    assert client.get(FEED, headers=POLL).status_code == 200
