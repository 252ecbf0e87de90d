"""CityDesk load test: a fresh database, gunicorn + `citydesk jobs`, locust headless, checks.

    python bench/loadtest/run.py                                  # PostgreSQL, 3 minutes
    python bench/loadtest/run.py --sqlite --scale 0.1             # SQLite, a tenth of the load
    python bench/loadtest/run.py --run-time 30s --no-latency-gate # CI: correctness strictly

Exits non-zero when a check fails. See bench/loadtest/README.md.
"""

import argparse
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
BIN = Path(sys.executable).parent
sys.path.insert(0, str(HERE.parent))

from common import free_port, pg_admin  # noqa: E402

FULL = {"clerk": 10, "agency": 40, "facility": 10, "supervisor": 1}
DESK_AGENCIES = [
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
PAGE_BUDGET_MS, REPORT_BUDGET_MS = 200, 1000
REPORT_NAMES = {"/api/v1/reports/yearly", "/reports/[year]"}
# Signing in checks a scrypt password hash (slow by design), once per session: shown, not gated.
UNGATED = {"/login", "/login [POST]"}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--run-time", default="3m", help="locust --run-time (default 3m)")
    p.add_argument("--scale", type=float, default=1.0, help="share of the 61 users (0.1 = tenth)")
    p.add_argument("--sqlite", action="store_true", help="a temporary SQLite instance")
    p.add_argument(
        "--postgres-prefix",
        default=os.environ.get("LOADTEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1/"),
        help="URL without the database name; a database cd_load_<time> is made and dropped",
    )
    p.add_argument("--workers", type=int, default=4, help="gunicorn workers (default 4)")
    p.add_argument(
        "--no-latency-gate",
        action="store_true",
        help="print the p95 figures but do not fail on them (CI on a shared machine)",
    )
    p.add_argument(
        "--warmup",
        type=float,
        default=10,
        help="seconds of ramp-up left out of the latency figures (default 10; all requests "
        "count for the error and row checks)",
    )
    p.add_argument("--keep", action="store_true", help="keep the database and the files")
    return p.parse_args(argv)


def counts_for(scale: float) -> dict[str, int]:
    return {role: max(1, round(n * scale)) for role, n in FULL.items()} | {"supervisor": 1}


def citydesk(env, *args, check=True, **kwargs):
    return subprocess.run([str(BIN / "citydesk"), *args], env=env, cwd=ROOT, check=check, **kwargs)


def make_accounts(env, counts) -> dict:
    """Users and tokens, made in one process with the operations the CLI calls."""
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        from models.core import audit, db
        from models.users import create_token, create_user
        from webapp import create_app

        app = create_app()
        # Clerks notify the desk agencies that have staff in this run (all ten at full load).
        staffed = DESK_AGENCIES[: min(len(DESK_AGENCIES), counts["agency"])]
        accounts: dict = {"agency_codes": staffed}
        with app.app_context(), audit.acting_as(audit.Actor(None, "loadtest")):
            for role, n in counts.items():
                accounts[role] = []
                for i in range(n):
                    agency = DESK_AGENCIES[i % len(DESK_AGENCIES)] if role == "agency" else None
                    password = f"pw-{role}-{i}-load!"
                    user = create_user(
                        f"load-{role}-{i + 1}",
                        password,
                        role,
                        agency=agency,
                        name=f"Load {role} {i + 1}",
                    )
                    db.session.flush()
                    _row, token = create_token(user, "load test")
                    accounts[role].append(
                        {
                            "username": user.username,
                            "password": password,
                            "token": token,
                            "agency": agency,
                        }
                    )
            db.session.commit()
        return accounts
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def wait_up(url: str, proc, seconds=120) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url + "/login", timeout=2) as r:  # noqa: S310
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise SystemExit("the server did not answer within two minutes")


def stop(proc, name) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        print(f"{name} did not stop on SIGTERM: killed")
        proc.kill()
        proc.wait()


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def database_counts(env) -> dict:
    """What the database holds after the run, for the checks."""
    os.environ.update(env)
    from sqlalchemy import func, select

    from models.core import db
    from models.core.audit import AuditEntry
    from models.core.outbox import Notification
    from models.dispatch import Dispatch
    from models.users import Role, User
    from webapp import create_app

    app = create_app()
    with app.app_context():
        s = db.session
        audit = Counter(
            dict(
                s.execute(select(AuditEntry.action, func.count()).group_by(AuditEntry.action)).all()
            )
        )
        per_object_dupes = s.execute(
            select(AuditEntry.action, AuditEntry.object_id, func.count())
            .where(
                AuditEntry.action.in_(
                    [
                        "dispatch.notify",
                        "dispatch.acknowledge",
                        "dispatch.arrive",
                        "dispatch.cancel",
                        "defect.report",
                        "defect.assign",
                        "defect.start",
                    ]
                )
            )
            .group_by(AuditEntry.action, AuditEntry.object_id)
            .having(func.count() > 1)
        ).all()
        dispatches = s.execute(
            select(
                Dispatch.id,
                Dispatch.agency_id,
                Dispatch.state,
                Dispatch.acknowledged_at,
                Dispatch.arrived_at,
            )
        ).all()
        staff = Counter(
            agency_id
            for (agency_id,) in s.execute(
                select(User.agency_id).where(User.role == Role.AGENCY, User.active)
            )
        )
        in_app = Counter(
            dict(
                s.execute(
                    select(Notification.dispatch_id, func.count())
                    .where(
                        Notification.kind == "dispatch.notified", Notification.channel == "in_app"
                    )
                    .group_by(Notification.dispatch_id)
                ).all()
            )
        )
        notice_dupes = s.execute(
            select(
                Notification.event_key, Notification.channel, Notification.recipient, func.count()
            )
            .group_by(Notification.event_key, Notification.channel, Notification.recipient)
            .having(func.count() > 1)
        ).all()
        outbox = Counter(
            dict(
                s.execute(
                    select(Notification.channel + ":" + Notification.state, func.count()).group_by(
                        Notification.channel, Notification.state
                    )
                ).all()
            )
        )
        from models.facility import Defect

        defects = s.scalar(select(func.count()).select_from(Defect))
    return {
        "audit": audit,
        "audit_dupes": per_object_dupes,
        "dispatches": dispatches,
        "staff": staff,
        "in_app": in_app,
        "notice_dupes": notice_dupes,
        "outbox": outbox,
        "defects": defects,
    }


def check(result: dict, db: dict, server_log: str, latency_gate: bool, warmup: float) -> list[str]:
    """Print the figures; return the failed checks."""
    failed: list[str] = []

    def verdict(ok: bool, text: str) -> None:
        print(f"  [{'ok' if ok else 'FAIL'}] {text}")
        if not ok:
            failed.append(text)

    requests = result["requests"]
    done = Counter(result["done"])
    by_name: dict[str, list] = defaultdict(list)
    for name, ms, status, race, problem, at in requests:
        by_name[name].append((ms, status, race, problem, at))

    print(
        f"\nPer endpoint (response times in ms after the first {warmup:.0f} s of ramp-up; "
        "409race = an expected acknowledge race; 2xx includes the sign-in redirect):"
    )
    header = f"{'endpoint':<40} {'requests':>8} {'2xx':>6} {'409race':>7} {'errors':>6} "
    header += f"{'median':>7} {'p95':>7} {'max':>7} {'budget':>7}"
    print(header)
    print("-" * len(header))
    errors: Counter = Counter()
    slow = []
    for name in sorted(by_name):
        rows = by_name[name]
        times = [r[0] for r in rows if r[4] >= warmup] or [r[0] for r in rows]
        ok2xx = sum(1 for r in rows if 200 <= r[1] < 400)
        races = sum(1 for r in rows if r[2])
        bad = [r for r in rows if r[3] or r[1] >= 500 or r[1] == 0]
        for r in bad:
            errors[(name, r[1], r[3][:120])] += 1
        budget = REPORT_BUDGET_MS if name in REPORT_NAMES else PAGE_BUDGET_MS
        q95 = p95(times)
        if q95 >= budget and name not in UNGATED:
            slow.append(f"{name} p95 {q95:.0f} ms ≥ {budget} ms")
        mark = "" if q95 < budget else (" (not gated)" if name in UNGATED else " *")
        print(
            f"{name:<40} {len(rows):>8} {ok2xx:>6} {races:>7} {len(bad):>6} "
            f"{sorted(times)[len(times) // 2]:>7.0f} {q95:>7.0f} {max(times):>7.0f} "
            f"{'<' + str(budget):>7}{mark}"
        )
    total = len(requests)
    seconds = result.get("seconds") or 1
    print(f"{'all':<40} {total:>8}   ({total / seconds:.1f} requests/s over {seconds:.0f} s)")

    print("\nWhat the simulated users did:", dict(sorted(done.items())))
    a = db["audit"]
    print(
        "Audit rows by action:",
        {k: a[k] for k in sorted(a) if not k.startswith("user.") and not k.startswith("token.")},
    )
    print("Outbox (channel:state):", dict(sorted(db["outbox"].items())))

    print("\nChecks:")
    verdict(
        not errors,
        f"no error responses (5xx, unexpected 4xx, connection errors): {sum(errors.values())}",
    )
    for (name, status, problem), n in sorted(errors.items())[:20]:
        print(f"         {n} × {status} {name} {problem}")
    races = sum(1 for r in requests if r[3])
    print(f"  [info] acknowledge races answered with a clean 409 JSON: {races}")
    locked = sum(1 for r in requests if "database is locked" in r[4]) + server_log.count(
        "database is locked"
    )
    verdict(locked == 0, f'no "database is locked" (responses and server log): {locked}')
    verdict(
        done["foreign_dispatch_seen"] == 0,
        f"agency inboxes showed only their own agency: {done['foreign_dispatch_seen']} foreign",
    )

    dispatches = db["dispatches"]
    ids = {d.id for d in dispatches}
    verdict(
        ids == set(result["dispatch_ids"]) and len(ids) == done["notify"],
        f"each successful notify made exactly one dispatch: {done['notify']} notifies, "
        f"{len(ids)} dispatches",
    )
    acked = {d.id for d in dispatches if d.acknowledged_at is not None}
    verdict(
        len(acked) == done["acknowledge"] == len(result["acked_ids"])
        and acked == set(result["acked_ids"]),
        f"each dispatch acknowledged once: {done['acknowledge']} acknowledged (200), "
        f"{len(acked)} in the database",
    )
    arrived = sum(1 for d in dispatches if d.arrived_at is not None)
    verdict(arrived == done["arrive"], f"arrivals: {done['arrive']} confirmed, {arrived} stored")
    cancelled = sum(1 for d in dispatches if d.state == "cancelled")
    verdict(cancelled == done["cancel"], f"cancels: {done['cancel']} made, {cancelled} stored")
    verdict(
        db["defects"] == done["defect"], f"tickets: {done['defect']} filed, {db['defects']} stored"
    )

    wrong = [d.id for d in dispatches if db["in_app"][d.id] != db["staff"][d.agency_id]]
    verdict(
        not wrong,
        "each dispatch has one in-app notice per active user of its agency "
        f"({len(dispatches)} dispatches; wrong: {wrong[:10]})",
    )
    verdict(
        not db["notice_dupes"],
        f"no duplicate notice (event, channel, recipient): {len(db['notice_dupes'])}",
    )

    expected_audit = {
        "visit.create": done["visit"],
        "visit.settle": done["settle"],
        "dispatch.notify": done["notify"],
        "dispatch.acknowledge": done["acknowledge"],
        "dispatch.arrive": done["arrive"],
        "dispatch.cancel": done["cancel"],
        "defect.report": done["defect"],
        "defect.assign": done["assign"],
        "defect.start": done["start"],
    }
    diff = {k: (v, a[k]) for k, v in expected_audit.items() if a[k] != v}
    verdict(not diff, f"each state change left exactly one audit row (made, stored): {diff}")
    verdict(not db["audit_dupes"], f"no object with a move audited twice: {db['audit_dupes'][:5]}")

    if latency_gate:
        verdict(
            not slow,
            f"p95 < {PAGE_BUDGET_MS} ms per call, report < {REPORT_BUDGET_MS} ms: "
            + ("; ".join(slow) or "all within"),
        )
    else:
        print(f"  [info] latency not gated in this run; over budget: {'; '.join(slow) or 'none'}")
    return failed


def main(argv=None) -> int:
    args = parse_args(argv)
    counts = counts_for(args.scale)
    stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    work = Path(tempfile.mkdtemp(prefix="cd_load_"))
    instance = work / "instance"
    instance.mkdir()
    env = {
        "CITYDESK_INSTANCE_PATH": str(instance),
        "CITYDESK_RUN_SCHEDULER": "false",
        "PYTHONUNBUFFERED": "1",
    }
    dbname = f"cd_load_{stamp}_{os.getpid()}"
    if args.sqlite:
        url = f"sqlite:///{instance / 'citydesk.sqlite3'}"
    else:
        url = args.postgres_prefix.rstrip("/") + "/" + dbname
    env["DATABASE_URL"] = url
    full_env = os.environ | env
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env["CITYDESK_BASE_URL"] = base
    full_env["CITYDESK_BASE_URL"] = base
    server = jobs = None
    server_log = work / "server.log"
    jobs_log = work / "jobs.log"
    result_file = work / "result.json"
    accounts_file = work / "accounts.json"
    load1 = os.getloadavg()
    print(
        f"CityDesk load test {datetime.now(UTC):%Y-%m-%d %H:%M} UTC: "
        f"{'SQLite' if args.sqlite else 'PostgreSQL'} ({url}), users {counts}, "
        f"run time {args.run_time}, gunicorn {args.workers} workers + citydesk jobs; "
        f"load average before {load1[0]:.2f} {load1[1]:.2f} {load1[2]:.2f}; files in {work}"
    )
    created = False
    try:
        if not args.sqlite:
            pg_admin(args.postgres_prefix, f'CREATE DATABASE "{dbname}"')
            created = True
        citydesk(full_env, "db", "upgrade", capture_output=True)
        accounts = make_accounts(env, counts)
        accounts_file.write_text(json.dumps(accounts))
        server = subprocess.Popen(  # noqa: S603
            [
                str(BIN / "gunicorn"),
                "-w",
                str(args.workers),
                "-b",
                f"127.0.0.1:{port}",
                "--access-logfile",
                "-",
                "--timeout",
                "60",
                "webapp:create_app()",
            ],
            env=full_env,
            cwd=ROOT,
            stdout=server_log.open("w"),
            stderr=subprocess.STDOUT,
        )
        jobs = subprocess.Popen(  # noqa: S603
            [str(BIN / "citydesk"), "jobs"],
            env=full_env,
            cwd=ROOT,
            stdout=jobs_log.open("w"),
            stderr=subprocess.STDOUT,
        )
        wait_up(base, server)
        total = sum(counts.values())
        started = time.monotonic()
        locust = subprocess.run(  # noqa: S603
            [
                str(BIN / "locust"),
                "-f",
                str(HERE / "locustfile.py"),
                "--headless",
                "--host",
                base,
                "-u",
                str(total),
                "-r",
                str(max(5, total // 6)),
                "--run-time",
                args.run_time,
                "--stop-timeout",  # let every user finish its task: the tallies stay exact
                "60",
                "--only-summary",
                "--loglevel",
                "WARNING",
            ],
            env=full_env
            | {
                "LOADTEST_ACCOUNTS": str(accounts_file),
                "LOADTEST_RESULT": str(result_file),
                "LOADTEST_COUNTS": ",".join(f"{k}={v}" for k, v in counts.items()),
            },
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        seconds = time.monotonic() - started
        load2 = os.getloadavg()
        stop(server, "gunicorn")
        stop(jobs, "citydesk jobs")
        if not result_file.exists():
            print(locust.stdout[-3000:], locust.stderr[-3000:])
            print("FAIL: locust wrote no result")
            return 2
        result = json.loads(result_file.read_text())
        result["seconds"] = seconds
        log_text = server_log.read_text(errors="replace") + jobs_log.read_text(errors="replace")
        tracebacks = log_text.count("Traceback")
        db = database_counts(env)
        print(f"\nload average after the run: {load2[0]:.2f} {load2[1]:.2f} {load2[2]:.2f}")
        failed = check(
            result, db, log_text, latency_gate=not args.no_latency_gate, warmup=args.warmup
        )
        verify = citydesk(full_env, "audit", "verify", check=False, capture_output=True, text=True)
        print(
            f"  [{'ok' if verify.returncode == 0 else 'FAIL'}] citydesk audit verify: "
            f"{(verify.stdout + verify.stderr).strip()}"
        )
        if verify.returncode:
            failed.append("audit verify")
        ok_log = tracebacks == 0
        print(
            f"  [{'ok' if ok_log else 'FAIL'}] no traceback in the server and jobs logs: "
            f"{tracebacks}"
        )
        if not ok_log:
            failed.append("tracebacks in the logs")
        print(f"\n{'PASS' if not failed else 'FAIL: ' + str(len(failed)) + ' check(s) failed'}")
        return 1 if failed else 0
    finally:
        stop(server, "gunicorn")
        stop(jobs, "citydesk jobs")
        if created and not args.keep:
            try:
                pg_admin(args.postgres_prefix, f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
            except Exception as exc:  # noqa: BLE001
                print(f"could not drop {dbname}: {exc}")
        if args.keep:
            print(f"kept: {work}" + ("" if args.sqlite else f", database {dbname}"))
        else:
            import shutil

            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
