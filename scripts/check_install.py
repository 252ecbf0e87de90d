"""A clean install, as a newcomer makes it: build the wheel, install it (not editable) into a
fresh virtual environment, and from another directory run `citydesk db upgrade`,
`citydesk demo` and `citydesk serve`, then read every main page of every role in both
languages, and a static file. Exit 1 naming what failed. CI runs it (`.ci/run`).

    python scripts/check_install.py
"""

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
PAGES = {  # every role's main pages (the accessibility test walks the same ones with data)
    "clerk": [
        "/",
        "/desk/visits/new",
        "/desk/board",
        "/desk/board/wall",
        "/desk/today",
        "/desk/dispatches",
        "/facility/report",
        "/facility/mine",
        "/notifications",
    ],
    "agency-social": ["/", "/agency/", "/agency/history"],
    "facility": [
        "/",
        "/facility/tickets",
        "/facility/grid",
        "/facility/rounds",
        "/facility/rounds/new",
    ],
    "supervisor": [
        "/",
        "/reports/{year}",
        "/reports/{year}/dispatches",
        "/reports/{year}/defects",
        "/reports/{year}/rounds",
        "/facility/settings",
        "/facility/calendar",
        "/facility/posters",
        "/admin/settings",
        "/admin/audit",
        "/admin/import",
    ],
    "admin": [
        "/",
        "/admin/users",
        "/admin/users/new",
        "/admin/agencies",
        "/admin/building",
        "/admin/tokens",
        "/admin/jobs/",
    ],
}
LANGUAGES = {"zh_Hant_TW": ('lang="zh-Hant-TW"', "登出"), "en": ('lang="en"', "Sign out")}


def run(*args, **kwargs) -> subprocess.CompletedProcess:
    """Run a command; its output is shown only when it fails."""
    result = subprocess.run(args, capture_output=True, text=True, **kwargs)
    if result.returncode != 0:
        sys.exit(f"FAILED: {' '.join(map(str, args))}\n{result.stdout}\n{result.stderr}")
    return result


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def csrf(page: str) -> str:
    """The CSRF token of the first form on a page."""
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    if not match:
        sys.exit("FAILED: no CSRF token on the page")
    return match.group(1)


def check_pages(base: str, passwords: dict[str, str], year: int) -> int:
    """Sign in as every role and read its pages in both languages; the number of pages read."""
    read = 0
    for username, paths in PAGES.items():
        with httpx.Client(base_url=base, timeout=30) as client:
            login = client.get("/login")
            client.post(
                "/login",
                data={
                    "username": username,
                    "password": passwords[username],
                    "csrf_token": csrf(login.text),
                },
            )
            for lang, (marker, word) in LANGUAGES.items():
                home = client.get("/")
                client.post("/language", data={"lang": lang, "csrf_token": csrf(home.text)})
                for path in paths:
                    page = client.get(path.format(year=year))
                    if page.status_code != 200 or marker not in page.text or word not in page.text:
                        sys.exit(f"FAILED: {username} {lang} {path}: {page.status_code}")
                    read += 1
    return read


def main() -> None:
    """Build, install, serve, read; print what was checked."""
    work = Path(tempfile.mkdtemp(prefix="citydesk-install-"))
    try:
        run(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", work / "dist", ROOT)
        wheel = next((work / "dist").glob("citydesk-*.whl"))
        run(sys.executable, "-m", "venv", work / "venv")
        bin_dir = work / "venv" / "bin"
        run(bin_dir / "pip", "install", "-q", "--disable-pip-version-check", wheel)
        here = work / "site"  # another directory: nothing of the source tree is reachable
        here.mkdir()
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("CITYDESK_") and k not in ("PYTHONPATH", "DATABASE_URL")
        }
        env["CITYDESK_RUN_SCHEDULER"] = "false"
        citydesk = str(bin_dir / "citydesk")
        run(citydesk, "db", "upgrade", cwd=here, env=env)
        demo = run(citydesk, "demo", cwd=here, env=env).stdout
        passwords = dict(re.findall(r"^\s+(\S+)\s+(\S+)\s*$", demo, flags=re.M))
        port = free_port()
        server = subprocess.Popen(  # noqa: S603 - our own console script
            [citydesk, "serve", "--port", str(port)],
            cwd=here,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            for _ in range(120):
                try:
                    if httpx.get(base + "/login", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.5)
            else:
                sys.exit("FAILED: the installed server did not answer")
            css = httpx.get(base + "/static/css/citydesk.css", timeout=10)
            if css.status_code != 200 or not css.text.strip():
                sys.exit("FAILED: static files are missing from the wheel")
            year = time.gmtime().tm_year
            read = check_pages(base, passwords, year)
        finally:
            server.terminate()
            server.wait(timeout=30)
        assert (here / "instance" / "citydesk.sqlite3").exists(), "no database in ./instance"
        print(f"clean install: {wheel.name} served {read} pages in 2 languages from {here}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
