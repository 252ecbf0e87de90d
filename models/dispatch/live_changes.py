"""Has anything a live list shows changed? PostgreSQL's notices, as one web process saw them.

Migration 0020's triggers send `NOTIFY citydesk_live` at the commit of every write to the
tables a live list reads (`dispatch`, `visit`, `agency`, `"user"`, `inbox_presence`). A
process listens on a connection of its own and counts the notices that can change a list
(`ChangeWatch.generation()`): an answer read at one count holds while the count is the same
and its clock has not reached `LiveRows.holds_until()`. It also notes at which count each
user's row last changed, so that a poll answered without a statement is still refused to a
user deactivated or signed out since (`ChangeWatch.user_unchanged_since()`).

The notices are read on the poll's own thread, without waiting (no thread of their own); a
notice reaches the other processes a moment after its commit, so a poll in that moment may
still be answered as before: it is answered anew at the next poll, 2 s later. While the
listening connection is down (and on SQLite, which has no NOTIFY) there is no count, and
nothing is answered without its statement.
"""

import contextlib
import os
import threading

import psycopg

from models.dispatch.presence import INBOX_OPEN_SECONDS

CHANNEL = "citydesk_live"


class ChangeWatch:
    """One process's count of the notices that can change a live list."""

    def __init__(self, conninfo: str) -> None:
        self.conninfo = conninfo
        self._lock = threading.Lock()
        self._conn: psycopg.Connection | None = None
        self._pid: int | None = None
        self.count = 0
        self._user_changed: dict[int, int] = {}
        self._every_user_changed = 0

    def generation(self) -> int | None:
        """The count of changes so far, after reading the notices that have arrived (None
        while the listening connection cannot be had)."""
        with self._lock:
            try:
                if self._conn is None or self._pid != os.getpid():
                    self._listen()
                for notice in self._conn.notifies(timeout=0):
                    self.note(notice.payload)
            except psycopg.Error:
                self._drop()
                return None
            return self.count

    def user_unchanged_since(self, user_id: int, count: int) -> bool:
        """True when the user's row has not changed after the count `count`."""
        return max(self._user_changed.get(user_id, 0), self._every_user_changed) <= count

    def note(self, payload: str) -> None:
        """Count one notice (see migration 0020 for the payloads)."""
        kind, _, detail = payload.partition(":")
        # inbox: seconds since the agency's inbox was last seen; within INBOX_OPEN_SECONDS it
        # was open all along, and the lists are as they were
        if kind == "inbox" and detail != "new" and float(detail) <= INBOX_OPEN_SECONDS:
            return
        self.count += 1
        if kind == "user":
            if detail == "*":
                self._every_user_changed = self.count
            else:
                self._user_changed[int(detail)] = self.count

    def close(self) -> None:
        """Stop listening (the next `generation()` listens again)."""
        with self._lock:
            self._drop()

    def _listen(self) -> None:
        # A connection inherited from the parent process is the parent's: left as it is.
        self._conn = None
        conn = psycopg.connect(self.conninfo, autocommit=True)
        conn.execute(f"LISTEN {CHANNEL}")
        self._conn, self._pid = conn, os.getpid()
        # What happened while not listening is unknown: every earlier answer and user is stale.
        self.count += 1
        self._every_user_changed = self.count

    def _drop(self) -> None:
        if self._conn is not None and self._pid == os.getpid():
            with contextlib.suppress(psycopg.Error):  # a broken one: nothing more to do with it
                self._conn.close()
        self._conn = None
        self._pid = None
