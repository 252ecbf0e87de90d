"""Benchmark audited writes: concurrent writers on PostgreSQL, with the audit trail and without.

    python bench/audited_writes.py --database postgresql+psycopg://postgres@127.0.0.1/cd_bench

Each writer is its own process (as gunicorn workers are) and commits each state change as a
view does. Two workloads:

- **dispatch operations** — a counter dispatch's life through the real operations: a clerk
  logs a visit and notifies the agency (`log_visit(notify_now=True)`, with its outbox notices),
  the agency acknowledges, the clerk confirms the arrival; three audited state changes, each
  its own transaction;
- **minimal** — one row inserted and its audit entry, a transaction: the audit trail's own
  ceiling, with as little other work as a write can have.

Each in three modes, same writers, same database, one after the other:

- **audited** — the code as it is: entries inserted unsealed, sealed right after each commit;
- **no audit (baseline)** — the same transactions with `audit.record()` doing nothing;
- **hot row (before issue 14)** — the audited code plus the lock of the one `audit_head` row
  inside every audited transaction, as every commit took it before: the serial chain.

It prints state changes per second for each and the ratio audited ÷ baseline, then seals,
runs `citydesk audit verify` in a fresh process and prints its answer. Goal (issue 14): 8
writers reach at least 200 audited state changes a second.
"""

import argparse
import multiprocessing
import os
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from common import load_average, machine  # noqa: E402

INSTANCE = ROOT / "bench" / "data" / "instance"
CLERK, AGENCY_USER, AGENCY = "bench-clerk", "bench-agency", "social-welfare"
PASSWORD = "bench-password-not-secret-0"  # nosec B105 - a throw-away benchmark account


def _app(url: str):
    from webapp import create_app

    return create_app({"SQLALCHEMY_DATABASE_URI": url})


def prepare(url: str) -> None:
    """Migrate the database and create the two benchmark users (once)."""
    from flask_migrate import upgrade
    from sqlalchemy import text

    from models.core import audit, db
    from models.users import User, create_user

    app = _app(url)
    with app.app_context(), audit.acting_as(audit.CLI):
        upgrade()
        for name, role, agency in ((CLERK, "clerk", None), (AGENCY_USER, "agency", AGENCY)):
            if db.session.query(User).filter_by(username=name).first() is None:
                create_user(name, PASSWORD, role, agency=agency)
        db.session.execute(
            text("CREATE TABLE IF NOT EXISTS bench_write (id serial PRIMARY KEY, n integer)")
        )
        db.session.commit()
        db.engine.dispose()


MODES = {
    "audited": "audited (sealed after commit)",
    "baseline": "no audit (baseline)",
    "hot-row": "hot row (before issue 14)",
}
WORKLOADS = {
    "operations": "dispatch operations (notify, acknowledge, arrive)",
    "minimal": "one insert and its audit entry a transaction",
}
_state = {"hot_row": False}


def _hot_row_lock() -> None:
    """While `_state["hot_row"]`, take the lock of the one head row inside each audited
    transaction, as every commit did before issue 14 (the serial chain)."""
    from sqlalchemy import event, update
    from sqlalchemy.orm import Session

    from models.core import audit

    head = audit.AuditHead

    @event.listens_for(Session, "before_commit")
    def lock_head(session):  # runs after audit's own listener has inserted the entries
        if _state["hot_row"] and session.info.get(audit._WRITTEN):
            session.connection().execute(update(head).where(head.id == 1).values(seq=head.seq))


def _operations_cycle(operations, db, clerk, staff) -> int:
    visit = operations.log_visit(
        kind="inquiry", subject="效能測試", agency=AGENCY, notify_now=True, by=clerk
    )
    db.session.commit()
    dispatch = visit.dispatches[-1]
    operations.acknowledge(dispatch, "值班人員", by=staff)
    db.session.commit()
    operations.arrive(dispatch, by=clerk)
    db.session.commit()
    return 3


def _minimal_write(audit, db, text, n: int) -> int:
    db.session.execute(text("INSERT INTO bench_write (n) VALUES (:n)"), {"n": n})
    audit.record("bench.write", "bench_write", n, None, {"n": n})
    db.session.commit()
    return 1


def writer(url: str, phases, seconds: float, start, results) -> None:
    """One writer process: runs each (workload, mode) phase for `seconds` once every writer is
    ready (`start`, a barrier), and reports its count per phase."""
    from sqlalchemy import text

    from models.core import audit, db
    from models.dispatch import operations
    from models.users import User

    _hot_row_lock()
    real_record = audit.record
    app = _app(url)
    with app.app_context():
        clerk = db.session.query(User).filter_by(username=CLERK).one()
        staff = db.session.query(User).filter_by(username=AGENCY_USER).one()
        db.session.commit()
        for workload, mode in phases:
            audit.record = real_record if mode != "baseline" else lambda *a, **k: None
            _state["hot_row"] = mode == "hot-row"
            changes = errors = 0
            problem = ""
            start.wait()
            stop_at = time.monotonic() + seconds
            while time.monotonic() < stop_at:
                try:
                    if workload == "operations":
                        changes += _operations_cycle(operations, db, clerk, staff)
                    else:
                        changes += _minimal_write(audit, db, text, changes)
                except Exception as exc:  # counted: a benchmark reports failures
                    db.session.rollback()
                    errors += 1
                    problem = problem or f"{type(exc).__name__}: {exc}"[:300]
            results.put((workload, mode, changes, errors, problem, time.process_time()))
        db.session.remove()
        db.engine.dispose()


def run(url: str, writers: int, seconds: float, phases) -> dict:
    """Run every phase with `writers` processes; {(workload, mode): [changes/s of each run]}.
    Modes take turns (audited, baseline, hot row, audited, ...) so that the load of a shared
    machine weighs on each alike."""
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    start = context.Barrier(writers)
    processes = [
        context.Process(target=writer, args=(url, phases, seconds, start, results))
        for _ in range(writers)
    ]
    for process in processes:
        process.start()
    figures: dict = {}
    for phase in phases:
        totals = [results.get() for _ in processes]
        changes = sum(t[2] for t in totals)
        errors = sum(t[3] for t in totals)
        problems = sorted({t[4] for t in totals if t[4]})
        figures.setdefault(phase, []).append(changes / seconds)
        if errors:
            print(f"    {MODES[phase[1]]}: {errors} failed, e.g. {problems[0]}")
    for process in processes:
        process.join()
    return figures


def seal_and_verify(url: str) -> tuple[int, float, str]:
    """Seal what is left, then `citydesk audit verify` in a fresh process."""
    from models.core import audit, db

    app = _app(url)
    with app.app_context():
        sealed = audit.seal() or 0
        db.engine.dispose()
    env = dict(os.environ, DATABASE_URL=url, CITYDESK_INSTANCE_PATH=str(INSTANCE))
    started = time.perf_counter()
    done = subprocess.run(
        [str(Path(sys.executable).parent / "citydesk"), "audit", "verify"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - started
    output = (done.stdout + done.stderr).strip()
    return sealed, elapsed, f"exit {done.returncode}: {output}"


def main() -> None:
    """Run the phases and print the figures side by side."""
    parser = argparse.ArgumentParser(description="Audited writes benchmark (PostgreSQL)")
    parser.add_argument("--database", required=True, help="SQLAlchemy URL (PostgreSQL)")
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--rounds", type=int, default=3, help="runs of each mode, in turn")
    parser.add_argument(
        "--workload", choices=[*WORKLOADS, "both"], default="both", help="what each write does"
    )
    args = parser.parse_args()
    os.environ.setdefault("CITYDESK_INSTANCE_PATH", str(INSTANCE))
    INSTANCE.mkdir(parents=True, exist_ok=True)
    prepare(args.database)
    print(
        f"CityDesk audited writes, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {machine()}, "
        f"load average {load_average()}"
    )
    print(
        f"{args.writers} writer processes, {args.seconds:g} s a phase; a state change = one "
        "committed transaction"
    )
    workloads = list(WORKLOADS) if args.workload == "both" else [args.workload]
    print(f"each mode {args.rounds} times, in turn; the median of its runs\n")
    for workload in workloads:
        print(f"{WORKLOADS[workload]}:")
        phases = [(workload, m) for _ in range(args.rounds) for m in MODES]
        runs = run(args.database, args.writers, args.seconds, phases)
        rate = {m: statistics.median(runs[(workload, m)]) for m in MODES}
        for mode, label in MODES.items():
            each = ", ".join(f"{r:.0f}" for r in runs[(workload, mode)])
            print(f"  {label:32} {rate[mode]:8.1f} changes/s   (runs: {each})")
        print(f"  ratio audited ÷ baseline         {rate['audited'] / rate['baseline']:8.2f} ×")
        print(f"  ratio audited ÷ hot row          {rate['audited'] / rate['hot-row']:8.2f} ×")
        goal = "met" if rate["audited"] >= 200 else "missed"
        print(f"  goal: audited >= 200 changes/s   {goal}\n")
    sealed, elapsed, verdict = seal_and_verify(args.database)
    print(f"left unsealed after the runs (sealed now by `audit.seal()`): {sealed}")
    print(f"citydesk audit verify ({elapsed:.1f} s): {verdict}")


if __name__ == "__main__":
    main()
