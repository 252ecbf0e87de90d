"""The live poll (issue 14): CityDesk's GET /api/v1/dispatches/open against a bare Flask
endpoint, and the tab capacity of 4 workers.

    python bench/live_poll.py                     # PostgreSQL, about 4 minutes
    python bench/live_poll.py --open 150 --tabs 500

On a fresh PostgreSQL database (`cd_livepoll_<time>`, created and dropped here) it migrates,
makes users, today's open dispatches (`--open`), open ones from earlier days (`--earlier`) and a
history of ended ones (`--history`, inserted in bulk), then starts on loopback

- CityDesk under gunicorn (`--workers` sync workers, default 4), and
- bench/bare_app.py: the same list in ONE SQL query through psycopg, `jsonify`ed, no sign-in,

both with the same gunicorn settings and database, checks that they answer the same body (all
but `server_time` and `remaining_seconds`, which follow the clock) and drives them in turn with
an asyncio client (plain asyncio streams: the least client work on a small machine; gunicorn's
sync workers close each connection, so each request is one connection) at each of
`--connections` (default 1, 10, 50), `--runs` times interleaved, printing the medians of
requests/s, p50 and p95 and the ratio CityDesk ÷ bare. CityDesk is polled as the board is, with
a clerk's session cookie and `X-CityDesk-Poll: 1`; the 304 path sends the list's ETag.

Then the tab capacity: `--tabs` simulated browser tabs (a tenth clerks' boards, the rest agency
inboxes over the ten desk agencies, `?inbox=1`), each: one request, its answer, 2 s wait, again
with If-None-Match, for `--tab-seconds` after a warm-up, while a clerk logs a visit with an
agency every 5 s (so the lists do change); first the same tabs on the bare endpoint (its
baseline: what this machine gives any Flask endpoint that reads the list), then on CityDesk; it
prints polls/s, p50/p95/max, how many 200 and 304, the ratios, and the RSS of each gunicorn
worker afterwards. Goals (issue 14): ratio >= 0.40 at 10 and 50
connections; tabs p95 < 200 ms; worker RSS < 150 MB.
"""

import argparse
import asyncio
import json
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from datetime import UTC, datetime
from http.client import HTTPConnection
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BIN = Path(sys.executable).parent
sys.path.insert(0, str(HERE))

from common import free_port, machine, pg_admin  # noqa: E402

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
PASSWORD = "pw-live-poll-bench-1!"
FEED = "/api/v1/dispatches/open"


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument(
        "--postgres-prefix",
        default=os.environ.get("LOADTEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1/"),
    )
    p.add_argument("--workers", type=int, default=4)
    p.add_argument("--open", type=int, default=15, help="today's open dispatches (default 15)")
    p.add_argument("--earlier", type=int, default=300, help="open ones from earlier days")
    p.add_argument("--history", type=int, default=100_000, help="ended dispatches (bulk)")
    p.add_argument("--connections", default="1,10,50")
    p.add_argument("--seconds", type=float, default=8, help="each throughput run")
    p.add_argument("--runs", type=int, default=3, help="interleaved runs per figure (median)")
    p.add_argument("--tabs", type=int, default=1000)
    p.add_argument("--tab-seconds", type=float, default=60)
    p.add_argument("--skip-tabs", action="store_true")
    p.add_argument("--keep", action="store_true", help="keep the database and the logs")
    return p.parse_args(argv)


# --- Data --------------------------------------------------------------------------------


def make_data(env: dict, args) -> dict:
    """Users (a clerk per ten tabs' boards, one agency user per desk agency), today's open
    dispatches through the operations, earlier open ones and ended history in bulk."""
    os.environ.update(env)
    from sqlalchemy import text

    from models.core import audit, db
    from models.dispatch import acknowledge, log_visit, notify
    from models.users import create_token, create_user
    from webapp import create_app

    app = create_app()
    out: dict = {"clerks": [], "agencies": []}
    with app.app_context(), audit.acting_as(audit.Actor(None, "live-poll bench")):
        clerks = [
            create_user(f"bench-clerk-{i}", PASSWORD, "clerk", name=f"櫃台{i}") for i in range(10)
        ]
        staff = [
            create_user(f"bench-{code}", PASSWORD, "agency", agency=code, name=f"{code} 專員")
            for code in DESK_AGENCIES
        ]
        db.session.flush()
        _row, token = create_token(clerks[0], "bench writer")
        out["writer_token"] = token
        out["clerks"] = [u.username for u in clerks]
        out["agencies"] = [u.username for u in staff]
        db.session.commit()
        for i in range(args.open):
            code = DESK_AGENCIES[i % len(DESK_AGENCIES)]
            visit = log_visit(
                kind="petition", subject=f"今日事項 {i + 1}", is_senior=i % 7 == 0, by=clerks[0]
            )
            d = notify(visit, code, by=clerks[0])
            if i % 3 == 0:
                acknowledge(d, "王專員", 5, by=staff[i % len(DESK_AGENCIES)])
            db.session.commit()
        # Earlier days' open dispatches and the ended history, straight into the table.
        db.session.execute(
            text(
                """
                INSERT INTO dispatch (agency_id, subject, state, notified_at, sla_seconds,
                    deadline_at, arrived_at, ended_at)
                SELECT a.id, '歷史案件', CASE WHEN g <= :earlier THEN 'notified' ELSE 'arrived' END,
                    now() - interval '2 days' - g * interval '7 minutes', 600,
                    now() - interval '2 days' - g * interval '7 minutes' + interval '600 seconds',
                    CASE WHEN g <= :earlier THEN NULL
                         ELSE now() - interval '2 days' - g * interval '7 minutes'
                              + interval '300 seconds' END,
                    CASE WHEN g <= :earlier THEN NULL
                         ELSE now() - interval '2 days' - g * interval '7 minutes'
                              + interval '300 seconds' END
                FROM generate_series(1, :total) AS g
                JOIN agency a ON a.code = (ARRAY['health','labor','commerce'])[1 + g % 3]
                """
            ),
            {"earlier": args.earlier, "total": args.earlier + args.history},
        )
        db.session.commit()
        db.session.execute(text("ANALYZE"))
        db.session.commit()
    return out


# --- Servers -----------------------------------------------------------------------------


def gunicorn(app_spec: str, port: int, env: dict, log: Path, workers: int):
    return subprocess.Popen(  # noqa: S603
        [
            str(BIN / "gunicorn"),
            "-w",
            str(workers),
            "-b",
            f"127.0.0.1:{port}",
            "--timeout",
            "60",
            "--backlog",
            "2048",
            app_spec,
        ],
        env=env,
        cwd=ROOT,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )


def wait_up(port: int, path: str, proc, seconds=120) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise SystemExit(f"a server exited with {proc.returncode}")
        try:
            conn = HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", path)
            if conn.getresponse().status < 500:
                return
        except OSError:
            time.sleep(0.3)
    raise SystemExit("a server did not answer within two minutes")


def stop(proc) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def sign_in(port: int, username: str) -> str:
    """Sign in through the form like a browser; returns the Cookie header's value."""
    cookies: dict[str, str] = {}

    def call(method, path, body=None):
        conn = HTTPConnection("127.0.0.1", port, timeout=30)
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())}
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        conn.request(method, path, body=body, headers=headers)
        r = conn.getresponse()
        for key, value in r.getheaders():
            if key.lower() == "set-cookie":
                name, _, rest = value.partition("=")
                cookies[name] = rest.split(";", 1)[0]
        return r.status, r.read().decode()

    _status, page = call("GET", "/login")
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    form = {"username": username, "password": PASSWORD}
    if match:
        form["csrf_token"] = match.group(1)
    status, _ = call("POST", "/login", urllib.parse.urlencode(form))
    if status != 302:
        raise SystemExit(f"could not sign in as {username}: {status}")
    return "; ".join(f"{k}={v}" for k, v in cookies.items())


# --- The client --------------------------------------------------------------------------


async def fetch(port: int, path: str, headers: dict) -> tuple[int, dict, bytes]:
    """One GET on a new connection (gunicorn's sync workers close it after the answer)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    lines = [f"GET {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    data = await reader.read()
    writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    head_lines = head.decode("latin-1").split("\r\n")
    status = int(head_lines[0].split()[1])
    found = {}
    for line in head_lines[1:]:
        k, _, v = line.partition(":")
        found[k.strip().lower()] = v.strip()
    return status, found, body


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(round(q * len(ordered))) - 1))]


async def drive(port: int, path: str, headers: dict, connections: int, seconds: float) -> dict:
    """`connections` clients back to back for `seconds`: requests/s, p50, p95 (ms)."""
    times: list[float] = []
    statuses: dict[int, int] = {}
    errors = 0
    end = time.perf_counter() + seconds

    async def client():
        nonlocal errors
        while time.perf_counter() < end:
            t = time.perf_counter()
            try:
                status, _h, _b = await fetch(port, path, headers)
            except OSError:
                errors += 1
                continue
            times.append((time.perf_counter() - t) * 1000)
            statuses[status] = statuses.get(status, 0) + 1

    start = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(connections)))
    took = time.perf_counter() - start
    return {
        "rps": len(times) / took,
        "p50": quantile(times, 0.5),
        "p95": quantile(times, 0.95),
        "statuses": statuses,
        "errors": errors,
    }


def comparable(body: bytes) -> dict:
    data = json.loads(body)
    data.pop("server_time")
    for d in data["dispatches"]:
        d.pop("remaining_seconds")
    return data


async def tabs_run(port, tabs, writer_port, writer_token, seconds, warmup=10.0) -> dict:
    """Browser-like tabs on `port`, each `(path, headers)`: request, answer, 2 s wait, again
    with If-None-Match when the answer had an ETag; a visit with an agency is logged on
    `writer_port` every 5 s."""
    results: list[tuple[float, int, float]] = []  # (at, status, ms)
    errors = 0
    start = time.perf_counter()
    end = start + warmup + seconds

    async def tab(i):
        nonlocal errors
        path, base = tabs[i]
        etag = None
        await asyncio.sleep(random.uniform(0, 2))
        while time.perf_counter() < end:
            headers = dict(base)
            if etag:
                headers["If-None-Match"] = etag
            t = time.perf_counter()
            try:
                status, found, _body = await fetch(port, path, headers)
                if status == 200:
                    etag = found.get("etag")
                results.append((t - start, status, (time.perf_counter() - t) * 1000))
            except OSError:
                errors += 1
            await asyncio.sleep(2)

    async def writer():
        n = 0
        while time.perf_counter() < end:
            await asyncio.sleep(5)
            n += 1
            body = json.dumps(
                {"kind": "inquiry", "subject": f"新案件 {n}", "agency": DESK_AGENCIES[n % 10]}
            ).encode()
            reader, w = await asyncio.open_connection("127.0.0.1", writer_port)
            head = (
                f"POST /api/v1/visits HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                f"Authorization: Bearer {writer_token}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n"
            )
            w.write(head.encode() + body)
            await reader.read()
            w.close()

    await asyncio.gather(writer(), *(tab(i) for i in range(len(tabs))))
    measured = [r for r in results if r[0] >= warmup]
    ms = [r[2] for r in measured]
    return {
        "requests": len(measured),
        "rps": len(measured) / seconds,
        "ok": sum(1 for r in measured if r[1] == 200),
        "not_modified": sum(1 for r in measured if r[1] == 304),
        "other": sum(1 for r in measured if r[1] not in (200, 304)),
        "errors": errors,
        "p50": quantile(ms, 0.5) if ms else 0,
        "p95": quantile(ms, 0.95) if ms else 0,
        "max": max(ms) if ms else 0,
    }


def worker_rss(master_pid: int) -> list[float]:
    out = subprocess.run(  # noqa: S603
        ["ps", "--ppid", str(master_pid), "-o", "rss="],  # noqa: S607
        capture_output=True,
        text=True,
        check=False,
    ).stdout.split()
    return [int(kb) / 1024 for kb in out]


def main(argv=None) -> int:
    args = parse_args(argv)
    stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    dbname = f"cd_livepoll_{stamp}_{os.getpid()}"
    url = args.postgres_prefix.rstrip("/") + "/" + dbname
    work = Path(tempfile.mkdtemp(prefix="cd_livepoll_"))
    instance = work / "instance"
    instance.mkdir()
    env = {
        "CITYDESK_INSTANCE_PATH": str(instance),
        "CITYDESK_RUN_SCHEDULER": "false",
        "DATABASE_URL": url,
        "PYTHONPATH": str(ROOT),
    }
    full_env = os.environ | env
    load = os.getloadavg()
    print(f"Live poll benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    print(f"Machine: {machine()}")
    print(
        f"Load average before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; gunicorn "
        f"{args.workers} sync workers each; PostgreSQL database {dbname}"
    )
    city = bare = None
    created = False
    try:
        pg_admin(args.postgres_prefix, f'CREATE DATABASE "{dbname}"')
        created = True
        subprocess.run(  # noqa: S603
            [str(BIN / "citydesk"), "db", "upgrade"],
            env=full_env,
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
        data = make_data(env, args)
        with_pg = subprocess.run(  # noqa: S603
            ["psql", url.replace("+psycopg", ""), "-tAc", "SHOW server_version"],  # noqa: S607
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
        print(
            f"Data: {args.open} open dispatches today, {args.earlier} open from earlier days "
            f"(counted, not listed), {args.history:,} ended ones; PostgreSQL {with_pg}"
        )
        city_port, bare_port = free_port(), free_port()
        city = gunicorn(
            "webapp:create_app()", city_port, full_env, work / "citydesk.log", args.workers
        )
        bare = gunicorn(
            "bench.bare_app:create_app()", bare_port, full_env, work / "bare.log", args.workers
        )
        wait_up(city_port, "/login", city)
        wait_up(bare_port, "/open", bare)
        cookie = sign_in(city_port, data["clerks"][0])
        board = {"Cookie": cookie, "Accept": "application/json", "X-CityDesk-Poll": "1"}

        async def first():
            a = await fetch(city_port, FEED, board)
            b = await fetch(bare_port, "/open", {})
            return a, b

        (cs, ch, cb), (bs, _bh, bb) = asyncio.run(first())
        same = cs == bs == 200 and comparable(cb) == comparable(bb)
        print(
            f"Same body (all but server_time and remaining_seconds): "
            f"{'yes' if same else 'NO'}; {len(cb):,} bytes, "
            f"{len(json.loads(cb)['dispatches'])} dispatches listed"
        )
        if not same:
            print("CityDesk:", cb[:400], "\nbare:", bb[:400])
            return 1
        etag = ch["etag"]
        conditional = board | {"If-None-Match": etag}

        print(
            f"\nThroughput ({args.seconds:.0f} s per run, median of {args.runs} interleaved "
            "runs; ms are per request):"
        )
        header = (
            f"{'connections':>11}  {'bare req/s':>10} {'p50':>6} {'p95':>6}  "
            f"{'CityDesk':>9} {'p50':>6} {'p95':>6}  {'ratio':>6}  "
            f"{'304 req/s':>9} {'p50':>6} {'p95':>6}  {'ratio':>6}"
        )
        print(header)
        print("-" * len(header))
        figures = {}
        for c in [int(x) for x in args.connections.split(",")]:
            runs = {"bare": [], "city": [], "304": []}
            for _ in range(args.runs):
                runs["bare"].append(asyncio.run(drive(bare_port, "/open", {}, c, args.seconds)))
                runs["city"].append(asyncio.run(drive(city_port, FEED, board, c, args.seconds)))
                runs["304"].append(
                    asyncio.run(drive(city_port, FEED, conditional, c, args.seconds))
                )
            med = {
                k: {m: statistics.median(r[m] for r in v) for m in ("rps", "p50", "p95")}
                for k, v in runs.items()
            }
            bad = {
                k: sum(r["errors"] for r in v)
                + sum(n for r in v for s, n in r["statuses"].items() if s not in (200, 304))
                for k, v in runs.items()
            }
            not_mod = sum(r["statuses"].get(304, 0) for r in runs["304"])
            figures[c] = med
            b, y, z = med["bare"], med["city"], med["304"]
            print(
                f"{c:>11}  {b['rps']:>10.0f} {b['p50']:>6.1f} {b['p95']:>6.1f}  "
                f"{y['rps']:>9.0f} {y['p50']:>6.1f} {y['p95']:>6.1f}  "
                f"{y['rps'] / b['rps']:>6.2f}  {z['rps']:>9.0f} {z['p50']:>6.1f} "
                f"{z['p95']:>6.1f}  {z['rps'] / b['rps']:>6.2f}"
                + (f"   (errors/non-2xx: {bad})" if any(bad.values()) else "")
                + ("" if not_mod else "   (NO 304 answered!)")
            )
        print("ratio = CityDesk ÷ bare requests/s (goal ≥ 0.40 at 10 and 50 connections)")

        if not args.skip_tabs:
            clerks = [sign_in(city_port, u) for u in data["clerks"]]
            staff = [sign_in(city_port, u) for u in data["agencies"]]
            # a tenth of the tabs are the clerks' boards, the rest the agencies' inboxes
            city_tabs = [
                (FEED, board | {"Cookie": clerks[(i // 10) % len(clerks)]})
                if i % 10 == 0
                else (FEED + "?inbox=1", board | {"Cookie": staff[i % len(staff)]})
                for i in range(args.tabs)
            ]
            # the baseline: the same tabs on the bare endpoint (it sends no ETag: every
            # answer is the whole list)
            bare_tabs = [("/open", {})] * args.tabs
            print(
                f"\nTabs: {args.tabs} browser-like tabs (one request, its answer, 2 s, again "
                f"with If-None-Match) for {args.tab_seconds:.0f} s after 10 s of warm-up, a new "
                "dispatch every 5 s; first on the bare endpoint (the baseline), then on CityDesk"
            )
            runs = {}
            for name, port, tabs in (
                ("bare", bare_port, bare_tabs),
                ("CityDesk", city_port, city_tabs),
            ):
                load = os.getloadavg()
                runs[name] = result = asyncio.run(
                    tabs_run(port, tabs, city_port, data["writer_token"], args.tab_seconds)
                )
                print(
                    f"  {name:<8} (load average before {load[0]:.2f}): {result['requests']:,} "
                    f"polls ({result['rps']:.0f}/s): {result['ok']:,} × 200, "
                    f"{result['not_modified']:,} × 304, {result['other']} other, "
                    f"{result['errors']} connection errors; latency p50 {result['p50']:.0f} ms, "
                    f"p95 {result['p95']:.0f} ms, max {result['max']:.0f} ms"
                )
            rss = worker_rss(city.pid)
            city_run, bare_run = runs["CityDesk"], runs["bare"]
            print(
                f"  CityDesk ÷ bare: polls/s {city_run['rps'] / bare_run['rps']:.2f}, p95 "
                f"{city_run['p95'] / max(bare_run['p95'], 0.001):.2f} × "
                "(goal: CityDesk p95 < 200 ms)"
            )
            print(
                "  worker RSS after the run: "
                + ", ".join(f"{m:.0f} MB" for m in rss)
                + f" (goal < 150 MB each; max {max(rss, default=0):.0f} MB)"
            )
        load = os.getloadavg()
        print(f"\nLoad average after: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
        return 0
    finally:
        stop(city)
        stop(bare)
        if created and not args.keep:
            try:
                pg_admin(args.postgres_prefix, f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
            except Exception as exc:  # noqa: BLE001
                print(f"could not drop {dbname}: {exc}")
        if args.keep:
            print(f"kept: {work}, database {dbname}")
        else:
            import shutil

            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
