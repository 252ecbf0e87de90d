"""The baseline of bench/live_poll.py: a bare Flask app that answers the live list with ONE SQL
query through psycopg and `jsonify`s it: the same body as CityDesk's GET
/api/v1/dispatches/open for a clerk (zh), with no sign-in, no session, no validator.

    DATABASE_URL=postgresql://... gunicorn -w 4 'bench.bare_app:create_app()'
"""

import os
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

import psycopg
from flask import Flask, jsonify

TAIPEI = ZoneInfo("Asia/Taipei")
CAP = 100  # models.dispatch.EARLIER_COUNT_CAP

SQL = """
SELECT (SELECT count(*) FROM (SELECT 1 FROM dispatch e
          WHERE e.state IN ('notified', 'acknowledged') AND e.notified_at < %(day)s
            AND e.deadline_at < %(at)s LIMIT %(cap)s) c) AS earlier,
       d.id, d.visit_id, a.code, a.name_zh, a.extension, d.subject, d.state, v.kind,
       v.is_senior, v.needs_accessibility, d.notified_at, d.sla_seconds, d.deadline_at,
       d.acknowledged_at, u.name, d.responder, d.eta_minutes, d.arrived_at, d.ended_at,
       d.end_reason, d.transferred_to_id, v.created_at,
       (SELECT max(o.arrived_at) FROM dispatch o WHERE o.visit_id = d.visit_id) AS served,
       p.agency_id IS NOT NULL AS inbox_open
FROM dispatch d
JOIN agency a ON a.id = d.agency_id
LEFT JOIN visit v ON v.id = d.visit_id
LEFT JOIN "user" u ON u.id = d.acknowledged_by_id
LEFT JOIN inbox_presence p ON p.agency_id = d.agency_id AND p.seen_at >= %(since)s
WHERE d.state IN ('notified', 'acknowledged')
  AND (d.notified_at >= %(day)s OR d.deadline_at >= %(at)s)
ORDER BY CASE WHEN (v.is_senior OR v.needs_accessibility) THEN 0 ELSE 1 END,
         CASE WHEN d.deadline_at < %(at)s THEN 0 ELSE 1 END, d.deadline_at, d.id
"""


def _iso(value):
    return None if value is None else value.astimezone(TAIPEI).isoformat()


def _item(r, at):
    overdue = at > r[13]
    wait = None
    if r[22] is not None and r[23] is not None:
        exact = Decimal(str((r[23] - r[22]).total_seconds()))
        wait = int(exact.quantize(Decimal(1), ROUND_HALF_UP))
    return {
        "id": r[1],
        "visit_id": r[2],
        "agency": r[3],
        "agency_name": r[4],
        "agency_extension": r[5],
        "subject": r[6],
        "state": r[7],
        "kind": r[8],
        "is_senior": bool(r[9]),
        "needs_accessibility": bool(r[10]),
        "notified_at": _iso(r[11]),
        "sla_seconds": r[12],
        "deadline_at": _iso(r[13]),
        "acknowledged_at": _iso(r[14]),
        "acknowledged_by": r[15],
        "responder": r[16],
        "eta_minutes": r[17],
        "arrived_at": _iso(r[18]),
        "ended_at": _iso(r[19]),
        "end_reason": r[20],
        "transferred_to_id": r[21],
        "overdue": overdue,
        "on_time": False if overdue else None,
        "outcome": "late" if overdue else "pending",
        "remaining_seconds": int((r[13] - at).total_seconds()),
        "visit_created_at": _iso(r[22]),
        "visitor_wait_seconds": wait,
        "inbox_open": bool(r[24]),
    }


def create_app() -> Flask:
    """The bare app: one route, one query, jsonify."""
    app = Flask(__name__)
    url = os.environ["DATABASE_URL"].replace("postgresql+psycopg://", "postgresql://")
    state = {}

    @app.get("/open")
    def live():
        conn = state.get("conn")
        if conn is None:
            conn = state["conn"] = psycopg.connect(url, autocommit=True)
        at = datetime.now(UTC)
        local = at.astimezone(TAIPEI)
        day = datetime.combine(local.date(), datetime.min.time(), TAIPEI)
        rows = conn.execute(
            SQL, {"day": day, "at": at, "cap": CAP, "since": at - timedelta(seconds=10)}
        ).fetchall()
        return jsonify(
            server_time=_iso(at),
            earlier_open=rows[0][0] if rows else 0,
            dispatches=[_item(r, at) for r in rows],
        )

    return app
