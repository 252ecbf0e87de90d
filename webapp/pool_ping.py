"""The connection pool's ping on PostgreSQL (issue 14): every connection taken from the pool
is pinged first, except a live poll's when the connection was in use a moment ago."""

import time
from contextvars import ContextVar

from flask import Flask
from sqlalchemy import event
from sqlalchemy.exc import InvalidatePoolError

from models.core import db


def poll_connection() -> None:
    """The live poll's connection, taken before its first statement: on PostgreSQL without a
    transaction (no BEGIN and ROLLBACK round trips: the poll only reads, and at most upserts
    one row) and not pinged when it was in use a moment ago (`ping_on_checkout`). Nothing
    when the request already has one (the session's first poll read its user) or on SQLite.
    A poll answered from its kept answer takes none."""
    if db.engine.dialect.name == "sqlite" or db.session().in_transaction():
        return
    taken = _POLL_CHECKOUT.set(True)
    try:
        db.session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
    finally:
        _POLL_CHECKOUT.reset(taken)


# A poll's connection is not pinged when it came back to the pool less than this many seconds
# ago (see ping_on_checkout).
POLL_UNPINGED_SECONDS = 30
_POLL_CHECKOUT: ContextVar[bool] = ContextVar("poll_checkout", default=False)


def ping_on_checkout(app: Flask) -> None:
    """On PostgreSQL every connection taken from the pool is pinged first (a restarted server
    or a dropped connection costs no request), except a poll's when the connection was in use
    a moment ago: polls are most of the requests and the ping is a round trip each (issue 14).
    If the server went away in that moment the poll fails once, its error invalidates the
    pool, and the page polls again 2 s later on a new connection."""
    if app.config["SQLALCHEMY_ENGINE_OPTIONS"].get("pool_pre_ping"):
        return  # configured: SQLAlchemy pings every checkout itself
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        return
    with app.app_context():
        engine = db.engine
    dialect = engine.dialect

    @event.listens_for(engine, "checkin")
    def returned(_dbapi_connection, record) -> None:
        if record is not None:
            record.info["returned_at"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def ping(dbapi_connection, record, _proxy) -> None:
        returned_at = record.info.get("returned_at")  # cleared when it reconnects
        if returned_at is None:
            return  # connected just now
        if _POLL_CHECKOUT.get() and time.monotonic() - returned_at < POLL_UNPINGED_SECONDS:
            return
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as exc:
            if dialect.is_disconnect(exc, dbapi_connection, None):
                # as SQLAlchemy's own pre-ping: the pool takes a new connection and drops the
                # others it held before now (the server most likely restarted)
                raise InvalidatePoolError from exc
            raise
