"""Benchmark the yearly report and the import on SQLite and PostgreSQL.

    python bench/bench.py --year 2025 \\
        --sqlite sqlite:///bench/data/bench.sqlite3 \\
        --postgres postgresql+psycopg://postgres@127.0.0.1/cd_bench

For each database it prints:
- the time to build the yearly report JSON (`to_json(yearly_report(year))`, what the API and the
  CLI do), the median of several runs after a warm-up;
- the time of the bare aggregate SQL behind it: the same GROUP BY statements the report runs
  (for the year and the previous year), sent as plain SQL text through the driver, and the
  ratio report ÷ bare SQL;
- the time to import 100,000 dispatch rows with `citydesk import dispatches FILE.csv` (a fresh
  process, as an administrator would run it), then of importing the same file again (all
  skipped); the imported rows are deleted afterwards (their audit entries stay: the trail is
  append-only).
Targets: report < 1 s on both, ≤ 2 × the bare SQL, import < 60 s.
"""

import argparse
import csv
import os
import random
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from generate import sqlite_absolute  # noqa: E402

INSTANCE = ROOT / "bench" / "data" / "instance"


def bare_statements(year: int, at: datetime, dialect) -> list[str]:
    """The aggregate statements of the report for `year` and the year before, as SQL text."""
    from models.dispatch import Dispatch
    from models.reports import (
        defect_dates_query,
        defect_tally_query,
        dispatch_tally_query,
        duration_histogram_query,
        rounds_query,
    )

    statements = []
    for y in (year, year - 1):
        for stmt in (
            dispatch_tally_query(y, at),
            duration_histogram_query(y, Dispatch.arrived_at),
            duration_histogram_query(y, Dispatch.acknowledged_at),
            defect_tally_query(y),
            defect_dates_query(y),
            rounds_query(y),
        ):
            compiled = stmt.compile(dialect=dialect, compile_kwargs={"literal_binds": True})
            statements.append(str(compiled))
    return statements


def bench_report(url: str, year: int, runs: int) -> dict:
    """Time the report JSON and its bare SQL on one database."""
    from models.core import clock, db
    from models.reports import yearly_report
    from webapp import create_app
    from webapp.reports.export import to_json

    app = create_app({"SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        at = clock.now()

        def report():
            to_json(yearly_report(year, at))
            db.session.rollback()

        figures = yearly_report(year, at)
        statements = bare_statements(year, at, db.engine.dialect)
        raw = db.engine.raw_connection()
        try:
            cursor = raw.cursor()

            def bare():
                for sql in statements:
                    cursor.execute(sql)
                    cursor.fetchall()

            def single():
                cursor.execute(statements[0])
                cursor.fetchall()

            report(), bare(), single()  # warm-up: caches, the first connection
            # Interleaved, so that the load of a shared machine weighs on all three alike.
            times: dict = {report: [], bare: [], single: []}
            for _ in range(runs):
                for function in times:
                    started = time.perf_counter()
                    function()
                    times[function].append(time.perf_counter() - started)
            report_time, bare_time, single_time = (statistics.median(t) for t in times.values())
        finally:
            raw.rollback()
            raw.close()
        db.session.remove()
        db.engine.dispose()
    return {
        "report": report_time,
        "bare": bare_time,
        "single": single_time,
        "counted": figures["dispatch"]["counted"],
        "rate": figures["dispatch"]["rate"],
        "defects": figures["defects"]["found"],
    }


def write_import_file(path: Path, rows: int, year: int) -> None:
    """A CSV of `rows` past dispatches in `year` (Taipei times without offset, BOM)."""
    rng = random.Random(7)
    agencies = ["social-welfare", "社會局", "health", "衛生局", "labor", "commerce", "secretariat"]
    start = datetime(year, 1, 2, 9, 0)
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            [
                "reference",
                "agency",
                "notified_at",
                "outcome",
                "arrived_at",
                "closed_at",
                "sla_seconds",
                "subject",
            ]
        )
        for i in range(rows):
            notified = start + timedelta(seconds=300 * i)
            roll = rng.random()
            arrived = closed = ""
            if roll < 0.92:
                outcome = "arrived"
                arrived = (notified + timedelta(minutes=rng.uniform(1, 14))).isoformat(" ")
            elif roll < 0.97:
                outcome = "cancelled"
                closed = (notified + timedelta(minutes=rng.uniform(1, 14))).isoformat(" ")
            else:
                outcome = "transferred"
                closed = (notified + timedelta(minutes=3)).isoformat(" ")
            writer.writerow(
                [
                    f"BENCH-{i:06d}",
                    rng.choice(agencies),
                    notified.isoformat(" ", timespec="minutes"),
                    outcome,
                    arrived,
                    closed,
                    "",
                    "歷史紀錄",
                ]
            )


def bench_import(url: str, path: Path) -> tuple[float, float, str]:
    """Time `citydesk import dispatches FILE` twice (added, then all skipped); clean up."""
    env = dict(os.environ, DATABASE_URL=url, CITYDESK_INSTANCE_PATH=str(INSTANCE))
    command = [
        str(Path(sys.executable).parent / "citydesk"),
        "import",
        "dispatches",
        str(path),
        "--lang",
        "en",
    ]
    times, outputs = [], []
    for _ in range(2):
        started = time.perf_counter()
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        times.append(time.perf_counter() - started)
        if done.returncode != 0:
            raise SystemExit(f"import failed: {done.stderr[-2000:]}")
        outputs.append(done.stdout.strip())
    output = outputs[0]
    _delete_imported(url)
    return times[0], times[1], output


def _delete_imported(url: str) -> None:
    """Remove the imported rows again (foreign-key checks off: nothing refers to them, and
    checking each deleted row against unindexed referencing columns would take minutes)."""
    from models.core import db
    from webapp import create_app

    app = create_app({"SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        raw = db.engine.raw_connection()
        try:
            cursor = raw.cursor()
            if db.engine.dialect.name == "sqlite":
                raw.commit()
                cursor.execute("PRAGMA foreign_keys=OFF")
            else:
                cursor.execute("SET session_replication_role = replica")
            cursor.execute("DELETE FROM dispatch WHERE reference LIKE 'BENCH-%'")
            raw.commit()
        finally:
            raw.close()
        db.engine.dispose()


def main() -> None:
    """Run the benchmark on each database given and print the figures."""
    parser = argparse.ArgumentParser(description="Yearly report and import benchmark")
    parser.add_argument("--year", type=int, default=2025)
    parser.add_argument("--sqlite", help="SQLAlchemy URL of the SQLite benchmark database")
    parser.add_argument("--postgres", help="SQLAlchemy URL of the PostgreSQL benchmark database")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--import-rows", type=int, default=100_000)
    parser.add_argument("--skip-import", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("CITYDESK_INSTANCE_PATH", str(INSTANCE))
    csv_path = ROOT / "bench" / "data" / "import-dispatches.csv"
    if not args.skip_import:
        csv_path.parent.mkdir(parents=True, exist_ok=True)
        write_import_file(csv_path, args.import_rows, 2015)
    print(f"CityDesk benchmark, report year {args.year}, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    for name, url in (("SQLite", args.sqlite), ("PostgreSQL", args.postgres)):
        if not url:
            continue
        url = sqlite_absolute(url)
        result = bench_report(url, args.year, args.runs)
        ratio = result["report"] / result["bare"]
        print(
            f"\n{name}: {result['counted']:,} dispatches counted in {args.year} "
            f"(rate {result['rate']}), {result['defects']:,} defects found"
        )
        print(f"  yearly report JSON    {result['report'] * 1000:8.1f} ms   (target < 1000 ms)")
        print(
            f"  bare aggregate SQL    {result['bare'] * 1000:8.1f} ms   "
            f"(12 GROUP BY statements: this year and the previous one)"
        )
        print(f"  ratio report ÷ SQL    {ratio:8.2f} ×    (target ≤ 2 ×)")
        print(
            f"  one dispatch GROUP BY {result['single'] * 1000:8.1f} ms   "
            f"(the outcome tally of the year alone, for reference)"
        )
        if not args.skip_import:
            first, again, output = bench_import(url, csv_path)
            print(
                f"  import {args.import_rows:,} rows   {first:8.1f} s    (target < 60 s) {output}"
            )
            print(f"  the same file again   {again:8.1f} s    (all rows skipped)")


if __name__ == "__main__":
    main()
