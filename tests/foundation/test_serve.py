"""The README's first command: `citydesk serve --demo` on a fresh instance, then a demo clerk
signs in. Runs the real console script in a subprocess against its own SQLite instance."""

import http.cookiejar
import os
import re
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.alone  # a real server started against the clock (60 s to answer)


STARTED = re.compile(r"^CityDesk on (http://127\.0\.0\.1:\d+)/ ", re.M)


def _started(process, log_path: Path, seconds: float = 60) -> str:
    """The address a `citydesk serve --port 0` says it took, once it answers there.

    The server takes its own free port: a port chosen by the test could be taken by another
    worker's server in the seconds the demo takes to load, and answer in its place."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"citydesk serve exited with {process.returncode}")
        found = STARTED.search(log_path.read_text())
        if found:
            _wait_for(found.group(1) + "/login", process, deadline - time.monotonic())
            return found.group(1)
        time.sleep(0.3)
    raise AssertionError(f"citydesk serve did not start within {seconds}s:\n{log_path.read_text()}")


def _wait_for(url: str, process, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"citydesk serve exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"{url} did not answer within {seconds}s")


def test_serve_demo_starts_and_a_demo_clerk_signs_in(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "TEST_DATABASE_URL"}}
    env["CITYDESK_INSTANCE_PATH"] = str(tmp_path)
    script = Path(sys.executable).parent / "citydesk"
    log_path = tmp_path / "serve.log"
    log = log_path.open("w")
    process = subprocess.Popen(
        [str(script), "serve", "--demo", "--port", "0"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base = _started(process, log_path)
        output = log_path.read_text()
        clerk = re.search(r"^\s+clerk\s+(demo-\w+)$", output, re.M)
        assert clerk, f"the demo clerk's password is printed before the server starts:\n{output}"
        password = clerk.group(1)
        opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )
        page = opener.open(base + "/login").read().decode()
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        body = urllib.parse.urlencode(
            {"csrf_token": token, "username": "clerk", "password": password}
        ).encode()
        home = opener.open(base + "/login", data=body)
        assert home.url == base + "/"
        assert "陳櫃台，您好" in home.read().decode()
        server = urllib.request.urlopen(base + "/login").headers["Server"]  # noqa: S310
        assert "waitress" in server.lower() or "CityDesk" in server
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


ZONED_TIME = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}(?:[+-]\d{4}|Z) ")


def _serve(env, port: int, log_path: Path, *extra: str):
    """`citydesk serve` in a subprocess, its stdout and stderr each to a file."""
    script = Path(sys.executable).parent / "citydesk"
    out = (log_path.with_suffix(".out")).open("w")
    err = (log_path.with_suffix(".err")).open("w")
    process = subprocess.Popen(
        [str(script), "serve", "--port", str(port), *extra],
        env=env,
        stdout=out,
        stderr=err,
        text=True,
    )
    return process, out, err


def _stop(process, *files) -> None:
    process.terminate()
    process.wait(timeout=15)
    for file in files:
        file.close()


def test_a_second_start_is_quiet_and_its_log_times_carry_their_zone(tmp_path):
    """After the demo is made, `citydesk serve` starts again without a traceback and without
    Alembic's or APScheduler's chatter; every log line's time carries its UTC offset; a copy
    started on a port in use says so and stops, no traceback."""
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "TEST_DATABASE_URL"}}
    env["CITYDESK_INSTANCE_PATH"] = str(tmp_path)
    first, *files = _serve(env, 0, tmp_path / "first", "--demo")
    try:
        base = _started(first, tmp_path / "first.out")
    finally:
        _stop(first, *files)
    port = int(base.rsplit(":", 1)[1])

    second, *files = _serve(env, port, tmp_path / "second", "--demo")
    try:
        _wait_for(base + "/login", second)
        time.sleep(1.5)  # the scheduler's first runs (relay, sweep) log as they start
        busy = subprocess.run(
            [str(Path(sys.executable).parent / "citydesk"), "serve", "--port", str(port)],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        _stop(second, *files)
    out = (tmp_path / "second.out").read_text()
    err = (tmp_path / "second.err").read_text()
    assert "Demo users exist already" in out and f"CityDesk on {base}/" in out
    for text in (out, err):
        assert "Traceback" not in text
        assert "alembic" not in text.lower() and "apscheduler" not in text.lower()
        assert "Context impl" not in text and "Running upgrade" not in text
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines, "the jobs log their start"
    for line in lines:
        assert ZONED_TIME.match(line), line

    assert busy.returncode == 1
    assert "Traceback" not in busy.stderr + busy.stdout
    assert f"Cannot listen on 127.0.0.1:{port}" in busy.stderr
    assert "alembic" not in (busy.stderr + busy.stdout).lower()
