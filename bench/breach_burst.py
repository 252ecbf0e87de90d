"""Breach burst (issue 14): 2,000 deadlines at one instant, on PostgreSQL, with the real clock.

    python bench/breach_burst.py                    # 2,000 dispatches, this checkout
    python bench/breach_burst.py --count 500        # a smaller burst
    python bench/breach_burst.py --code /work/main  # the jobs process runs another checkout

A fresh database (`cd_burst_<time>`, dropped afterwards unless --keep) is migrated with
`citydesk db upgrade`; ten agencies get two staff and one e-mail address each, and one
supervisor has an address. `citydesk jobs` (the process a multi-worker deployment runs beside
gunicorn; `citydesk serve` runs the same JobRunner in its own process) is started with its
default settings and an aiosmtpd sink as its mail server. Then:

1. **one dispatch alone** (the baseline): its deadline a few seconds ahead;
2. **the burst**: COUNT dispatches whose deadlines fall on one instant a few seconds ahead.

The dispatches are acknowledged ten minutes before their deadline (so no reminder is due; the
chief's step comes five minutes after, beyond the run). Each breach tells the agency's two
staff in-app and its address by e-mail, and the supervisor in-app and by e-mail: 3 in-app
notices and 2 e-mails per dispatch.

Delays are read from the database and the sink, each against the deadline:

- **breach recorded**: `dispatch_escalation.recorded_at` (the sweep's time stamp) and the
  moment a watcher connection first sees the committed row (polling every --poll seconds);
- **in-app notice visible**: the moment the watcher first sees the notice delivered (`sent`)
  for its user (and `notification.sent_at`, the job's stamp);
- **e-mail handed to SMTP**: the time the sink accepted the message (end of DATA), and how many
  SMTP connections carried them.

Also printed: the bare SQL (one INSERT ... SELECT of the 2,000 step rows, rolled back) and the
ratios burst ÷ one dispatch. Not a test: nothing here runs in the test suite.
"""

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BIN = Path(sys.executable).parent
sys.path.insert(0, str(HERE))

from common import free_port, machine, pg_admin  # noqa: E402

AGENCIES = [
    "health",
    "labor",
    "social-welfare",
    "economic-development",
    "land-administration",
    "civil-affairs",
    "commerce",
    "songshan-land-office",
    "xinyi-household-registration",
    "secretariat",
]
GOALS = {"breach": 2.0, "in_app": 3.0, "email_p95": 30.0}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--count", type=int, default=2000, help="dispatches in the burst (2000)")
    p.add_argument("--lead", type=float, default=8, help="seconds from insert to deadline (8)")
    p.add_argument("--poll", type=float, default=0.02, help="watcher poll interval, s (0.02)")
    p.add_argument("--timeout", type=float, default=300, help="give up after this long, s")
    p.add_argument(
        "--postgres-prefix",
        default=os.environ.get("BENCH_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1/"),
        help="URL without the database name",
    )
    p.add_argument("--code", default=str(ROOT), help="checkout the jobs process runs")
    p.add_argument("--keep", action="store_true", help="keep the database and the files")
    return p.parse_args(argv)


# --- The SMTP sink ------------------------------------------------------------------------


class Sink:
    """aiosmtpd handler: the time each message was accepted, its event and recipients, and
    how many connections were opened."""

    def __init__(self):
        self.accepted: list[tuple[float, str, list[str]]] = []
        self.connections = 0

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        event = ""
        for line in envelope.content.split(b"\r\n"):
            if not line:
                break
            if line.lower().startswith(b"x-citydesk-event:"):
                event = line.split(b":", 1)[1].strip().decode()
        self.accepted.append((time.time(), event, list(envelope.rcpt_tos)))
        return "250 Message accepted"


def start_sink(port: int):
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import SMTP

    sink = Sink()

    class Counting(SMTP):
        def connection_made(self, transport):
            sink.connections += 1
            super().connection_made(transport)

    class SinkController(Controller):
        def factory(self):
            return Counting(self.handler, **self.SMTP_kwargs)

    controller = SinkController(sink, hostname="127.0.0.1", port=port)
    controller.start()
    return sink, controller


# --- The database -------------------------------------------------------------------------


def make_app(env):
    os.environ.update(env)
    from webapp import create_app

    return create_app()


def setup_people(app) -> None:
    """Ten agencies with two staff and one address each; one supervisor with an address."""
    from models.core import audit, db
    from models.reference import agency_by_code, update_agency
    from models.users import create_user

    with app.app_context(), audit.acting_as(audit.Actor(None, "bench")):
        for n, code in enumerate(AGENCIES):
            update_agency(agency_by_code(code), emails=f"desk@{code}.example")
            for i in range(2):
                create_user(f"staff-{n}-{i}", f"pw-{n}-{i}-bench!", "agency", agency=code)
        create_user("boss", "pw-boss-bench!", "supervisor", email="boss@city.example")
        db.session.commit()


def insert_dispatches(app, count: int, deadline: datetime) -> list[int]:
    """`count` acknowledged dispatches (with their visits) due at `deadline`, in one
    transaction, as the operations would have recorded them ten minutes earlier."""
    from sqlalchemy import insert

    from models.core import db
    from models.dispatch import Dispatch
    from models.dispatch.ladder import default_version
    from models.dispatch.tables import Visit
    from models.reference import agency_by_code

    notified = deadline - timedelta(seconds=600)
    with app.app_context():
        ladder = default_version()
        agency_ids = [agency_by_code(code).id for code in AGENCIES]
        visit_ids = db.session.scalars(
            insert(Visit).returning(Visit.id, sort_by_parameter_order=True),
            [
                {
                    "kind": "petition",
                    "subject": f"陳情 {n}",
                    "created_at": notified,
                    "agency_id": agency_ids[n % len(agency_ids)],
                }
                for n in range(count)
            ],
        ).all()
        ids = db.session.scalars(
            insert(Dispatch).returning(Dispatch.id, sort_by_parameter_order=True),
            [
                {
                    "visit_id": visit_ids[n],
                    "agency_id": agency_ids[n % len(agency_ids)],
                    "subject": f"陳情 {n}",
                    "state": "acknowledged",
                    "notified_at": notified,
                    "acknowledged_at": notified + timedelta(seconds=30),
                    "responder": "值班同仁",
                    "sla_seconds": 600,
                    "deadline_at": deadline,
                    "ladder_id": ladder.id if ladder else None,
                }
                for n in range(count)
            ],
        ).all()
        db.session.commit()
        return list(ids)


class Watcher(threading.Thread):
    """Polls the database on its own connection: when each breach row and each in-app breach
    notice (delivered) was first seen committed."""

    MARGIN = timedelta(seconds=5)  # a row may commit this long after its own time stamp

    def __init__(self, engine, first_id: int, poll: float):
        super().__init__(daemon=True)
        self.engine, self.first_id, self.poll = engine, first_id, poll
        self.breach: dict[int, float] = {}
        self.in_app: dict[int, float] = {}
        self.stop = threading.Event()
        self.want_breach = self.want_in_app = None

    def run(self):
        from sqlalchemy import text

        breach_sql = text(
            "SELECT dispatch_id FROM dispatch_escalation WHERE step = 'breach' "
            "AND dispatch_id >= :first"
        )
        # Only rows stamped lately: those seen earlier are not fetched again and again.
        in_app_sql = text(
            "SELECT id, sent_at FROM notification WHERE kind = 'dispatch.breach' "
            "AND channel = 'in_app' AND state = 'sent' AND dispatch_id >= :first "
            "AND sent_at >= :since"
        )
        since = datetime(2000, 1, 1, tzinfo=UTC)
        with self.engine.connect() as conn:
            while not self.stop.is_set():
                if len(self.breach) < self.want_breach:
                    rows = conn.execute(breach_sql, {"first": self.first_id}).scalars().all()
                    now = time.time()
                    for dispatch_id in rows:
                        self.breach.setdefault(dispatch_id, now)
                if len(self.in_app) < self.want_in_app:
                    rows = conn.execute(in_app_sql, {"first": self.first_id, "since": since}).all()
                    now = time.time()
                    for notice_id, sent_at in rows:
                        self.in_app.setdefault(notice_id, now)
                        since = max(since, sent_at - self.MARGIN)
                conn.rollback()
                self.stop.wait(self.poll)


def stamps(app, first_id: int) -> tuple[list[float], list[float]]:
    """The jobs' own stamps: recorded_at − deadline per breach, sent_at − deadline per in-app
    breach notice (seconds)."""
    from sqlalchemy import text

    from models.core import db

    with app.app_context():
        recorded = db.session.execute(
            text(
                "SELECT EXTRACT(EPOCH FROM e.recorded_at - d.deadline_at) "
                "FROM dispatch_escalation e JOIN dispatch d ON d.id = e.dispatch_id "
                "WHERE e.step = 'breach' AND d.id >= :f"
            ),
            {"f": first_id},
        ).scalars()
        recorded = [float(v) for v in recorded]
        sent = db.session.execute(
            text(
                "SELECT EXTRACT(EPOCH FROM n.sent_at - d.deadline_at) FROM notification n "
                "JOIN dispatch d ON d.id = n.dispatch_id WHERE n.kind = 'dispatch.breach' "
                "AND n.channel = 'in_app' AND n.state = 'sent' AND d.id >= :f"
            ),
            {"f": first_id},
        ).scalars()
        sent = [float(v) for v in sent]
        db.session.rollback()
    return recorded, sent


def bare_sql(app, first_id: int) -> float:
    """Seconds for the bare SQL: one INSERT ... SELECT of a step row per burst dispatch
    (rolled back)."""
    from sqlalchemy import text

    from models.core import db

    with app.app_context():
        started = time.perf_counter()
        db.session.execute(
            text(
                "INSERT INTO dispatch_escalation (dispatch_id, step, due_at, recorded_at, notices) "
                "SELECT id, 'bare', deadline_at, now(), 0 FROM dispatch "
                "WHERE id >= :f AND state IN ('notified', 'acknowledged') AND deadline_at < now()"
            ),
            {"f": first_id},
        )
        elapsed = time.perf_counter() - started
        db.session.rollback()
    return elapsed


# --- One scenario ---------------------------------------------------------------------------


def scenario(app, engine, sink, count: int, lead: float, poll: float, timeout: float) -> dict:
    """Insert `count` dispatches due `lead` s from now; wait for every breach, in-app notice
    and e-mail; the delays (seconds after the deadline)."""
    deadline = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=lead)
    sent_before, connections_before = len(sink.accepted), sink.connections
    ids = insert_dispatches(app, count, deadline)
    first = min(ids)
    watcher = Watcher(engine, first, poll)
    watcher.want_breach, watcher.want_in_app = count, 3 * count
    watcher.start()
    started = time.monotonic()
    wanted_mail = 2 * count
    events = {f"dispatch:{i}:breach" for i in ids}
    while time.monotonic() - started < timeout:
        mails = [a for a in sink.accepted[sent_before:] if a[1] in events]
        if (
            len(watcher.breach) >= count
            and len(watcher.in_app) >= 3 * count
            and len(mails) >= wanted_mail
        ):
            break
        time.sleep(0.2)
    watcher.stop.set()
    watcher.join(5)
    due = deadline.timestamp()
    mails = [a for a in sink.accepted[sent_before:] if a[1] in events]
    recorded, sent_at = stamps(app, first)
    return {
        "count": count,
        "deadline": deadline,
        "first_id": first,
        "breach_seen": [t - due for t in watcher.breach.values()],
        "breach_recorded": recorded,
        "in_app_seen": [t - due for t in watcher.in_app.values()],
        "in_app_stamp": sent_at,
        "email": [t - due for t, _e, _r in mails],
        "connections": sink.connections - connections_before,
        "complete": (len(watcher.breach), len(watcher.in_app), len(mails)),
    }


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def describe(values: list[float]) -> str:
    if not values:
        return "none seen"
    return (
        f"max {max(values):6.2f} s  p95 {pct(values, 95):6.2f} s  "
        f"median {statistics.median(values):6.2f} s  (n={len(values)})"
    )


def report(single: dict, burst: dict, bare: float, poll: float) -> bool:
    """Print the figures side by side; True when every goal holds."""
    rows = [
        ("breach recorded (watcher: committed row)", "breach_seen", "max", GOALS["breach"]),
        ("breach recorded (recorded_at stamp)", "breach_recorded", "max", None),
        ("in-app notice visible (watcher)", "in_app_seen", "max", GOALS["in_app"]),
        ("in-app notice sent_at stamp", "in_app_stamp", "max", None),
        ("e-mail handed to SMTP", "email", "p95", GOALS["email_p95"]),
        ("e-mail handed to SMTP (max)", "email", "max", None),
    ]
    ok = True
    print()
    print(f"{'delay after the deadline':44} {'1 dispatch':>11} {'burst':>9} {'ratio':>8}  goal")
    for label, key, stat, goal in rows:
        pick = max if stat == "max" else (lambda v: pct(v, 95))
        one = pick(single[key]) if single[key] else float("nan")
        many = pick(burst[key]) if burst[key] else float("nan")
        ratio = many / one if one and one > 0 else float("nan")
        verdict = ""
        if goal is not None:
            met = many == many and many <= goal and len(burst[key]) > 0
            ok = ok and met
            verdict = f"{stat} ≤ {goal:g} s: {'met' if met else 'MISSED'}"
        print(f"{label + ' ' + stat:44} {one:9.2f} s {many:7.2f} s {ratio:7.1f} ×  {verdict}")
    print()
    for name, result in (("1 dispatch", single), (f"burst of {burst['count']}", burst)):
        print(f"{name}:")
        print(f"  breach (watcher)    {describe(result['breach_seen'])}")
        print(f"  breach (stamp)      {describe(result['breach_recorded'])}")
        print(f"  in-app (watcher)    {describe(result['in_app_seen'])}")
        print(f"  e-mail (sink)       {describe(result['email'])}")
        print(
            f"  seen: {result['complete'][0]} breaches, {result['complete'][1]} in-app notices, "
            f"{result['complete'][2]} e-mails over {result['connections']} SMTP connection(s)"
        )
    print()
    print(
        f"bare SQL: one INSERT ... SELECT of {burst['count']} step rows: {bare * 1000:.0f} ms "
        f"(the burst's slowest breach, seen committed: "
        f"{max(burst['breach_seen'], default=float('nan')):.2f} s after the deadline)"
    )
    print(f"watcher resolution: {poll * 1000:.0f} ms polls")
    if burst["complete"] != (burst["count"], 3 * burst["count"], 2 * burst["count"]):
        print("INCOMPLETE: not everything arrived before the timeout")
        ok = False
    return ok


def main(argv=None) -> int:
    args = parse_args(argv)
    stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    work = Path(tempfile.mkdtemp(prefix="cd_burst_"))
    instance = work / "instance"
    instance.mkdir()
    dbname = f"cd_burst_{stamp}_{os.getpid()}"
    url = args.postgres_prefix.rstrip("/") + "/" + dbname
    port = free_port()
    env = {
        "CITYDESK_INSTANCE_PATH": str(instance),
        "DATABASE_URL": url,
        "CITYDESK_MAIL_SERVER": "127.0.0.1",
        "CITYDESK_MAIL_PORT": str(port),
        "CITYDESK_MAIL_SENDER": "CityDesk <citydesk@city.example>",
        "PYTHONUNBUFFERED": "1",
    }
    full_env = {k: v for k, v in os.environ.items() if k != "TEST_DATABASE_URL"} | env
    jobs_env = full_env | {"PYTHONPATH": args.code}
    load = os.getloadavg()
    print(
        f"CityDesk breach burst {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {machine()}; "
        f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; jobs code {args.code}; "
        f"database {dbname}; files in {work}"
    )
    pg_admin(args.postgres_prefix, f'CREATE DATABASE "{dbname}"')
    jobs = controller = None
    try:
        subprocess.run(  # noqa: S603
            [str(BIN / "citydesk"), "db", "upgrade"],
            env=full_env,
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
        app = make_app(env)
        setup_people(app)
        from models.core import db

        with app.app_context():
            engine = db.engine
            print(f"PostgreSQL {engine.dialect.server_version_info}")
        sink, controller = start_sink(port)
        jobs_log = work / "jobs.log"
        jobs = subprocess.Popen(  # noqa: S603
            [str(BIN / "citydesk"), "jobs"],
            env=jobs_env,
            cwd=ROOT,
            stdout=jobs_log.open("w"),
            stderr=subprocess.STDOUT,
        )
        wait_for_leader(app, jobs, jobs_log)
        single = scenario(app, engine, sink, 1, args.lead, args.poll, 60)
        burst = scenario(app, engine, sink, args.count, args.lead, args.poll, args.timeout)
        bare = bare_sql(app, burst["first_id"])
        load = os.getloadavg()
        ok = report(single, burst, bare, args.poll)
        print(f"load average after {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
        return 0 if ok else 1
    finally:
        if jobs is not None:
            jobs.terminate()
            try:
                jobs.wait(20)
            except subprocess.TimeoutExpired:
                jobs.kill()
        if controller is not None:
            controller.stop()
        try:
            from models.core import db

            with app.app_context():
                db.engine.dispose()
        except Exception:  # noqa: S110 - the app may not exist
            pass
        if not args.keep:
            pg_admin(args.postgres_prefix, f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')


def wait_for_leader(app, jobs, log: Path, seconds: float = 60) -> None:
    """Until `citydesk jobs` holds the scheduler and ran the sweep once."""
    from jobs.records import job_statuses
    from models.core import db

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if jobs.poll() is not None:
            raise SystemExit(f"citydesk jobs exited:\n{log.read_text()}")
        with app.app_context():
            status = job_statuses().get("overdue_sweep")
            runs = status.runs if status is not None else 0
            db.session.rollback()
        if runs:
            return
        time.sleep(0.2)
    raise SystemExit(f"citydesk jobs did not start in {seconds} s:\n{log.read_text()}")


if __name__ == "__main__":
    asyncio.set_event_loop_policy(None)
    sys.exit(main())
