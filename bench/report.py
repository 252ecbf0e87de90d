"""Benchmark the yearly report against its bare SQL: a small year, and a big year on PostgreSQL.

    python bench/report.py --database postgresql+psycopg://postgres@127.0.0.1/cd_bench_report

Two parts, each in a database of its own that this script fills with `generate.py` (one Taipei
year of dispatches, defects and rounds; `--skip-generate` reuses what is there):

- **a small year** (`--small-dispatches`, default 60 dispatches and 200 defects, the size of
  the centre's published year): the yearly report JSON as a request builds it (a fresh
  application context, `to_json(yearly_report(year))`) against **its bare SQL**: every
  statement the report sends, recorded from a run of it and replayed as they are through the
  driver's cursor (no SQLAlchemy, no Python figures). Goal (issue 14): within 1.5 ×. On
  PostgreSQL the replay also runs without psycopg's prepared statements, as a request's
  statements run (psycopg deallocates them at every ROLLBACK, and a request ends with one).
- **a big year** (`--dispatches`, default 200,000 so that it finishes in a few minutes; the
  goal is stated for 1,000,000: `--dispatches 1000000`): the same report and its bare SQL.
  Goal (issue 14): under 1 s on PostgreSQL with 1,000,000 dispatches.

Report and SQL runs are interleaved and the median is printed, so that the load of a shared
machine weighs on both alike. The big database is the small one's name + `_big` unless
`--big-database` names it. Works on SQLite URLs too.
"""

import argparse
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
from generate import sqlite_absolute  # noqa: E402

INSTANCE = ROOT / "bench" / "data" / "instance"


def generate(url: str, year: int, dispatches: int, defects: int) -> float:
    """Fill `url` with one year of records (generate.py in its own process); seconds taken."""
    started = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "generate.py"),
            "--database",
            url,
            "--first-year",
            str(year),
            "--years",
            "1",
            "--dispatches",
            str(dispatches),
            "--defects",
            str(defects),
        ],
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - started


def bench(url: str, year: int, runs: int) -> dict:
    """Time the report (a fresh context each run) and the replay of its SQL."""
    from sqlalchemy import event

    from models.core import clock, db
    from models.reports import yearly_report
    from webapp import create_app
    from webapp.reports.export import to_json

    app = create_app({"SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        at = clock.now()
        engine = db.engine

    def report():
        with app.app_context():
            to_json(yearly_report(year, at), indent=None)  # as GET /api/v1/reports/yearly
            db.session.rollback()

    report()  # warm-up: caches, the first connection, the calendar of this process
    statements: list = []

    def grab(_conn, _cursor, statement, parameters, _context, _executemany):
        statements.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", grab)
    try:
        report()
    finally:
        event.remove(engine, "before_cursor_execute", grab)
    with app.app_context():
        figures = yearly_report(year, at)
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()

        def bare():
            for statement, parameters in statements:
                cursor.execute(statement, parameters)
                if cursor.description is not None:
                    cursor.fetchall()

        def unprepared():
            # As a request's statements run: psycopg prepares a statement on a connection
            # after 5 runs and deallocates all at every ROLLBACK, which ends each request.
            driver.prepare_threshold = None
            try:
                bare()
            finally:
                driver.prepare_threshold = threshold

        driver = raw.driver_connection
        threshold = getattr(driver, "prepare_threshold", None)
        bare()
        times: dict = {report: [], bare: []}
        if engine.dialect.name == "postgresql":
            times[unprepared] = []
        for _ in range(runs):
            for function in times:
                started = time.perf_counter()
                function()
                times[function].append(time.perf_counter() - started)
    finally:
        raw.rollback()
        raw.close()
    with app.app_context():
        db.engine.dispose()
    return {
        "report": statistics.median(times[report]),
        "bare": statistics.median(times[bare]),
        "unprepared": statistics.median(times[unprepared]) if unprepared in times else None,
        "statements": len(statements),
        "dispatches": figures["dispatch"]["counted"],
        "defects": figures["defects"]["found"],
    }


def show(title: str, result: dict, goal: str) -> None:
    """Print one part's figures and the ratio."""
    ratio = result["report"] / result["bare"]
    print(
        f"\n{title}: {result['dispatches']:,} dispatches counted, {result['defects']:,} "
        "defects found"
    )
    print(f"  yearly report JSON     {result['report'] * 1000:9.1f} ms")
    print(
        f"  its bare SQL           {result['bare'] * 1000:9.1f} ms   "
        f"({result['statements']} statements replayed through the driver)"
    )
    print(f"  ratio report ÷ SQL     {ratio:9.2f} ×    {goal}")
    if result["unprepared"] is not None:
        print(
            f"  its bare SQL, unprepared {result['unprepared'] * 1000:7.1f} ms   (as in a request: "
            "psycopg deallocates its prepared statements at each ROLLBACK)"
        )
        ratio = result["report"] / result["unprepared"]
        print(f"  ratio report ÷ that    {ratio:9.2f} ×")


def main() -> None:
    """Generate (unless told not to), run both parts and print the figures."""
    parser = argparse.ArgumentParser(description="Yearly report vs its bare SQL")
    parser.add_argument("--database", required=True, help="SQLAlchemy URL (the small year)")
    parser.add_argument("--big-database", help="SQLAlchemy URL (the big year)")
    parser.add_argument("--year", type=int, default=2023)
    parser.add_argument("--small-dispatches", type=int, default=60)
    parser.add_argument("--small-defects", type=int, default=200)
    parser.add_argument("--dispatches", type=int, default=200_000, help="the big year's")
    parser.add_argument("--defects", type=int, default=20_000, help="the big year's")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--skip-generate", action="store_true")
    parser.add_argument("--skip-big", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("CITYDESK_INSTANCE_PATH", str(INSTANCE))
    INSTANCE.mkdir(parents=True, exist_ok=True)
    small = sqlite_absolute(args.database)
    big = sqlite_absolute(args.big_database or _big_name(args.database))
    print(
        f"CityDesk yearly report, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {machine()}, "
        f"load average {load_average()}"
    )
    if not args.skip_generate:
        took = generate(small, args.year, args.small_dispatches, args.small_defects)
        print(f"small year generated in {took:.0f} s")
    show(
        f"Small year {args.year}",
        bench(small, args.year, args.runs),
        "(goal ≤ 1.5 ×)",
    )
    if args.skip_big:
        return
    if not args.skip_generate:
        took = generate(big, args.year, args.dispatches, args.defects)
        print(f"\nbig year generated in {took:.0f} s")
    result = bench(big, args.year, max(3, args.runs // 2))
    goal = "met" if result["report"] < 1.0 else "missed"
    show(f"Big year {args.year}", result, f"(report < 1 s: {goal})")


def _big_name(url: str) -> str:
    if url.startswith("sqlite"):
        stem, dot, ext = url.rpartition(".")
        return f"{stem}-big.{ext}" if dot else url + "-big"
    base, _, query = url.partition("?")
    return base + "_big" + ("?" + query if query else "")


if __name__ == "__main__":
    main()
