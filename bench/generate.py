"""Generate realistic benchmark data: dispatches, defects and inspection rounds over ten years.

    python bench/generate.py --database sqlite:///bench/data/bench.sqlite3
    python bench/generate.py --database postgresql+psycopg://postgres@127.0.0.1/cd_bench

The database is migrated first; its dispatch, defect and inspection tables are emptied and
filled again (reference data is kept). Rows are written in time order, the way they accumulate:
office hours on working days in Taipei, the ten desk agencies most often, most arrivals within
the 10 minutes, some cancelled or transferred, defects in the four categories with repair times
of a few working days.
"""

import argparse
import os
import random
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TAIPEI_OFFSET = timedelta(hours=8)  # Asia/Taipei: UTC+8, no daylight saving time since 1979


def working_days(first: date, last: date) -> list[date]:
    """Monday-to-Friday dates from first to last."""
    days, day = [], first
    while day <= last:
        if day.weekday() < 5:
            days.append(day)
        day += timedelta(days=1)
    return days


def spread(total: int, buckets: int) -> list[int]:
    """`total` split as evenly as possible over `buckets`."""
    base, extra = divmod(total, buckets)
    return [base + (1 if i < extra else 0) for i in range(buckets)]


def dispatch_rows(rng: random.Random, days: list[date], total: int, agencies: list[int]):
    """Yield dispatch rows (as tuples of column values, UTC-aware times) in time order."""
    from models.dispatch import deadline_after

    desk, others = agencies[:10], agencies[10:]
    for day, count in zip(days, spread(total, len(days)), strict=True):
        opening = datetime(day.year, day.month, day.day, 8, 30, tzinfo=UTC) - TAIPEI_OFFSET
        seconds = sorted(rng.randrange(9 * 3600) for _ in range(count))
        for offset in seconds:
            notified = opening + timedelta(seconds=offset, microseconds=rng.randrange(10**6))
            sla = 600
            deadline = deadline_after(notified, sla)
            agency = rng.choice(desk) if rng.random() < 0.9 or not others else rng.choice(others)
            ack = notified + timedelta(seconds=rng.randint(20, 300)) if rng.random() < 0.9 else None
            roll = rng.random()
            arrived = ended = None
            if roll < 0.92:
                state = "arrived"
                minutes = rng.uniform(1, 10) if rng.random() < 0.87 else rng.uniform(10.05, 35)
                arrived = ended = notified + timedelta(minutes=minutes)
            elif roll < 0.96:
                state = "cancelled"
                ended = notified + timedelta(minutes=rng.uniform(1, 9) if roll < 0.95 else 15)
            elif roll < 0.999:
                state = "transferred"
                ended = notified + timedelta(minutes=rng.uniform(1, 8))
            else:
                state = "notified"  # never closed: counts late
            yield (agency, "", state, notified, sla, deadline, ack, arrived, ended)


def defect_rows(rng, days, total, categories, zones, floors, due_days):
    """Yield defect rows in time order; about 96 % fixed within a few working days."""
    from models.workdays import add_working_days

    weights = [0.48, 0.24, 0.19, 0.09]
    for day, count in zip(days, spread(total, len(days)), strict=True):
        opening = datetime(day.year, day.month, day.day, 8, 0, tzinfo=UTC) - TAIPEI_OFFSET
        for offset in sorted(rng.randrange(10 * 3600) for _ in range(count)):
            found = opening + timedelta(seconds=offset)
            category = rng.choices(categories, weights)[0]
            due = add_working_days(day, due_days[category])
            fixed = None
            state = "reported"
            if rng.random() < 0.96:
                fix_day = add_working_days(day, rng.choice([0, 0, 1, 1, 1, 2, 2, 3, 5, 8]))
                fixed = datetime(fix_day.year, fix_day.month, fix_day.day, 7, tzinfo=UTC)
                fixed = max(fixed + timedelta(minutes=rng.randrange(480)), found)
                state = "verified" if rng.random() < 0.7 else "fixed"
            source = "inspection" if rng.random() < 0.7 else "report"
            yield (
                category,
                rng.choice(zones),
                rng.choice(floors),
                "",
                "",
                source,
                state,
                found,
                due,
                fixed,
            )


DISPATCH_COLUMNS = (
    "agency_id, subject, state, notified_at, sla_seconds, deadline_at, acknowledged_at, "
    "arrived_at, ended_at"
)
DEFECT_COLUMNS = (
    "category_id, zone_id, floor_id, location, description, source, state, found_at, due_on, "
    "fixed_at"
)
ROUND_COLUMNS = "zone_id, floors, started_at, finished_at"


def _sqlite_value(value):
    """Values as SQLAlchemy stores them in SQLite (UTC text for instants, ISO dates)."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, date):
        return value.isoformat()
    return value


def load(url: str, first_year: int, years: int, dispatches: int, defects: int, seed: int):
    """Migrate the database and load the generated rows."""
    os.environ.setdefault("CITYDESK_INSTANCE_PATH", str(ROOT / "bench" / "data" / "instance"))
    from flask_migrate import upgrade
    from sqlalchemy import text

    from models.core import db
    from webapp import create_app

    app = create_app({"SQLALCHEMY_DATABASE_URI": url})
    rng = random.Random(seed)
    days = working_days(date(first_year, 1, 1), date(first_year + years - 1, 12, 31))
    with app.app_context():
        upgrade()
        engine = db.engine
        with engine.connect() as conn:
            agencies = [
                r[0]
                for r in conn.execute(
                    text("SELECT id FROM agency ORDER BY has_desk DESC, sort_order")
                )
            ]
            categories = {
                r[0]: r[1]
                for r in conn.execute(text("SELECT id, due_working_days FROM defect_category"))
            }
            zones = [r[0] for r in conn.execute(text("SELECT id FROM zone ORDER BY sort_order"))]
            floors = [r[0] for r in conn.execute(text("SELECT id FROM floor"))]
        with engine.begin() as conn:
            for table in ("notification", "dispatch", "visit", "defect", "inspection_round"):
                conn.execute(text(f"DELETE FROM {table}"))
            conn.execute(text("DELETE FROM inspection_plan"))
            conn.execute(text("DELETE FROM report_snapshot"))
        started = time.perf_counter()
        raw = engine.raw_connection()
        try:
            cursor = raw.cursor()
            rounds = []
            for day in days:
                if day.weekday() == 0:  # every zone walked each Monday morning
                    for zone in zones:
                        start = datetime(day.year, day.month, day.day, 1, tzinfo=UTC)
                        rounds.append((zone, "1F,2F,3F", start, start + timedelta(hours=1)))
            batches = [
                ("dispatch", DISPATCH_COLUMNS, dispatch_rows(rng, days, dispatches, agencies)),
                (
                    "defect",
                    DEFECT_COLUMNS,
                    defect_rows(
                        rng,
                        days,
                        defects,
                        list(categories),
                        zones,
                        floors,
                        categories,
                    ),
                ),
                ("inspection_round", ROUND_COLUMNS, iter(rounds)),
            ]
            for table, columns, rows in batches:
                _write(engine.dialect.name, cursor, table, columns, rows)
                print(f"  {table}: loaded ({time.perf_counter() - started:.0f} s)", flush=True)
            plans = [(zone, 7, True) for zone in zones]
            if engine.dialect.name == "sqlite":
                cursor.executemany(
                    "INSERT INTO inspection_plan (zone_id, frequency_days, active) VALUES (?,?,?)",
                    plans,
                )
            else:
                cursor.executemany(
                    "INSERT INTO inspection_plan (zone_id, frequency_days, active) "
                    "VALUES (%s,%s,%s)",
                    plans,
                )
            raw.commit()
        finally:
            raw.close()
        _analyze(engine)
        print(f"loaded in {time.perf_counter() - started:.0f} s", flush=True)


def _write(dialect: str, cursor, table: str, columns: str, rows) -> None:
    if dialect == "sqlite":
        marks = ", ".join("?" * (columns.count(",") + 1))
        sql = f"INSERT INTO {table} ({columns}) VALUES ({marks})"
        batch = []
        for row in rows:
            batch.append(tuple(_sqlite_value(v) for v in row))
            if len(batch) >= 20_000:
                cursor.executemany(sql, batch)
                batch.clear()
        if batch:
            cursor.executemany(sql, batch)
    else:
        with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)


def _analyze(engine) -> None:
    """Fresh planner statistics (and, on PostgreSQL, a visibility map for index-only scans)."""
    if engine.dialect.name == "sqlite":
        raw = engine.raw_connection()
        try:
            raw.cursor().execute("ANALYZE")
            raw.commit()
        finally:
            raw.close()
    else:
        raw = engine.raw_connection()
        try:
            raw.driver_connection.autocommit = True
            raw.cursor().execute("VACUUM ANALYZE")
        finally:
            raw.close()


def sqlite_absolute(url: str) -> str:
    """A SQLite URL with an absolute path (Flask-SQLAlchemy reads relative ones from the
    instance folder), its folder created."""
    if not url.startswith("sqlite:///"):
        return url
    path = Path(url.removeprefix("sqlite:///")).resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


def main() -> None:
    """Parse the arguments and load the data."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database", required=True, help="SQLAlchemy URL")
    parser.add_argument("--first-year", type=int, default=2016)
    parser.add_argument("--years", type=int, default=10)
    parser.add_argument("--dispatches", type=int, default=1_000_000)
    parser.add_argument("--defects", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=2023)
    args = parser.parse_args()
    load(
        sqlite_absolute(args.database),
        args.first_year,
        args.years,
        args.dispatches,
        args.defects,
        args.seed,
    )


if __name__ == "__main__":
    main()
