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

from tests.conftest import free_port


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
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "TEST_DATABASE_URL"}}
    env["CITYDESK_INSTANCE_PATH"] = str(tmp_path)
    script = Path(sys.executable).parent / "citydesk"
    log = (tmp_path / "serve.log").open("w+")
    process = subprocess.Popen(
        [str(script), "serve", "--demo", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_for(base + "/login", process)
        log.seek(0)
        output = log.read()
        password = re.search(r"^\s+clerk\s+(demo-\w+)$", output, re.M).group(1)
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
