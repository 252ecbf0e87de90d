"""The live poll's answers kept per process (issue 14): an unchanged list is a 304 with no
statement.

A poll's answer (its ETag) is kept per viewer scope — role, agency, the inbox or the board,
locked or not, language — with the change count it was read at (`ChangeWatch`, PostgreSQL's
notices) and the instant it stops holding (`LiveRows.holds_until`, at most
`LIVE_KEEP_SECONDS` later). A poll whose If-None-Match is that ETag, at the same count, before
that instant, by a user whose row has not changed since a statement last checked it, is
answered 304 from here. `LIVE_KEEP_SECONDS = 0` switches it off; on SQLite nothing is kept.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy.engine import Engine

from models.core import db
from models.dispatch.live_changes import ChangeWatch


@dataclass
class KeptAnswer:
    """One scope's last answer: its ETag, the change count and the instant it holds until
    (exclusive), and when this process last noted the scope's inbox as seen."""

    etag: str
    count: int
    until: datetime
    own_seen_at: datetime | None


_answers: dict[tuple, KeptAnswer] = {}
_checked: dict[int, int] = {}  # user id → the change count a poll's statement last checked it at
_watches: dict[Engine, ChangeWatch] = {}


def change_count() -> int | None:
    """This process's count of changes to the live lists (None: nothing may be kept)."""
    if not current_app.config["LIVE_KEEP_SECONDS"]:
        return None
    watch = _watch()
    return watch.generation() if watch is not None else None


def kept_answer(key: tuple, user_id: int, count: int | None, at: datetime) -> KeptAnswer | None:
    """The answer kept for `key` if it still holds at `at` for this user, else None."""
    answer = _answers.get(key)
    if count is None or answer is None or answer.count != count or at >= answer.until:
        return None
    watch = _watch()
    if watch is None or not watch.user_unchanged_since(user_id, _checked.get(user_id, -1)):
        return None
    return answer


def keep_answer(key: tuple, user_id: int, answer: KeptAnswer, at: datetime) -> None:
    """Keep `answer` for `key` (its statement has just checked the user's row)."""
    limit = at + timedelta(seconds=current_app.config["LIVE_KEEP_SECONDS"])
    answer.until = min(answer.until, limit)
    _answers[key] = answer
    _checked[user_id] = answer.count


def forget_answers() -> None:
    """Drop every kept answer and stop listening (tests, between two databases)."""
    _answers.clear()
    _checked.clear()
    for watch in _watches.values():
        watch.close()
    _watches.clear()


def _watch() -> ChangeWatch | None:
    engine = db.engine
    watch = _watches.get(engine)  # a dict look-up a poll: the URL is rendered once
    if watch is None:
        if engine.url.get_backend_name() != "postgresql":
            return None
        url = engine.url.set(drivername="postgresql")
        watch = _watches[engine] = ChangeWatch(url.render_as_string(hide_password=False))
    return watch
