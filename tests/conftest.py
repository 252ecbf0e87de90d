"""Shared fixtures: the app on SQLite (default) or PostgreSQL (TEST_DATABASE_URL), a clean
database per test, a movable clock, factory fixtures and signed-in clients."""

import contextvars
import os
import re
import shutil
import socket
import threading
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient

from models.core import clock, db
from models.core.audit import ensure_chain_head
from models.reference.seed import seed_reference_data
from tests.pg_only import pytest_runtest_makereport  # noqa: F401  (a skip there fails)
from webapp import create_app

pytest_plugins = ("pytester",)

TEST_PASSWORD = "correct-horse-battery"
TEST_AUDIT_KEY = "test-audit-key-" + "0" * 49


# A migrated SQLite database to start from instead of running the migrations (set by
# scripts/mutation.py, which starts a test session for every mutant).
SQLITE_TEMPLATE = "CITYDESK_TEST_SQLITE_TEMPLATE"


def _database_url(tmp_path_factory, worker: str) -> str:
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        return _worker_database(url, worker) if worker != "master" else url
    path = tmp_path_factory.mktemp("db") / "citydesk-test.sqlite3"
    if os.environ.get(SQLITE_TEMPLATE):
        shutil.copyfile(os.environ[SQLITE_TEMPLATE], path)
    return "sqlite:///" + str(path)


def _worker_database(url: str, worker: str) -> str:
    """A PostgreSQL database of this pytest-xdist worker's own, beside TEST_DATABASE_URL's
    (created when missing, emptied by the session's schema reset): workers never share rows."""
    base = sa.engine.make_url(url)
    name = f"{base.database}_{worker}"
    admin = sa.create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.scalar(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
        if not exists:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def database_url(tmp_path_factory, worker_id) -> str:
    """The test database: TEST_DATABASE_URL (one database per xdist worker, named after it),
    else SQLite in a temporary folder."""
    return _database_url(tmp_path_factory, worker_id)


@pytest.fixture(scope="session")
def worker_id(request) -> str:
    """pytest-xdist's worker name (gw0, gw1…), or "master" when the suite runs in one process."""
    workerinput = getattr(request.config, "workerinput", None)
    return workerinput["workerid"] if workerinput else "master"


@pytest.fixture(scope="session")
def instance_path(tmp_path_factory) -> Path:
    """A throw-away instance folder (secret key, compiled catalogues, uploads)."""
    return tmp_path_factory.mktemp("instance")


class IsolatedClient(FlaskClient):
    """A test client whose requests run in their own context, as on a real server.

    Without this, a request would reuse the test's app context, and with it `g` (Flask-Login's
    cached user) and the test's database session.
    """

    def open(self, *args, **kwargs):
        return contextvars.Context().run(super().open, *args, **kwargs)


def make_app(database_url: str, instance_path: Path, **overrides):
    """An app configured for tests; extra config wins."""
    os.environ["CITYDESK_INSTANCE_PATH"] = str(instance_path)
    config = {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "WTF_CSRF_ENABLED": False,
        "SECRET_KEY": "test-secret",
        "AUDIT_KEY": TEST_AUDIT_KEY,
        # Sealed in the committing thread, so that a test reads the chain right after a commit
        # (PostgreSQL's default, a sealer thread, has its own tests in test_audit.py).
        "AUDIT_SEALING": "inline",
        "SERVER_NAME": None,
        # Every poll runs its statement (the kept answers, read from PostgreSQL's notices a
        # moment after each commit, have their own tests in tests/dispatch/test_live_kept.py).
        "LIVE_KEEP_SECONDS": 0,
    }
    config.update(overrides)
    application = create_app(config)
    application.test_client_class = IsolatedClient
    _APPS.append(application)
    return application


_APPS: list = []


@pytest.fixture(scope="session", autouse=True)
def _dispose_engines():
    """Close every pooled connection at the end (unclosed ones warn, and warnings are errors)."""
    yield
    from webapp.api.live_kept import forget_answers

    forget_answers()  # the kept answers' listening connection
    for application in _APPS:
        with application.app_context():
            db.engine.dispose()


@pytest.fixture(scope="session")
def app(database_url, instance_path):
    """The application, its database migrated once for the whole session."""
    application = make_app(database_url, instance_path)
    if os.environ.get(SQLITE_TEMPLATE) and database_url.startswith("sqlite"):
        yield application  # a copy of a migrated database (scripts/mutation.py)
        with application.app_context():
            db.engine.dispose()
        return
    with application.app_context():
        _reset_schema()
        from flask_migrate import upgrade

        upgrade()
        _keep_insertion_order()
        db.session.remove()
    yield application
    with application.app_context():
        db.engine.dispose()  # close pooled connections (psycopg warns when GC closes them)


def _reset_schema() -> None:
    """Start the session from an empty database (a previous run may have left tables)."""
    engine = db.engine
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(sa.text("DROP SCHEMA public CASCADE"))
            conn.execute(sa.text("CREATE SCHEMA public"))
    else:
        db.drop_all()
        with engine.begin() as conn:
            conn.execute(sa.text("DROP TABLE IF EXISTS alembic_version"))


def _keep_insertion_order() -> None:
    """On PostgreSQL, no autovacuum in the test database: the tests empty the tables by DELETE,
    and a vacuumed page takes new rows into old slots, so a query without ORDER BY would read
    them in another order than inserted (as a TRUNCATE's fresh table never did)."""
    if db.engine.dialect.name != "postgresql":
        return
    with db.engine.begin() as conn:
        for table in db.metadata.sorted_tables:
            conn.execute(sa.text(f'ALTER TABLE "{table.name}" SET (autovacuum_enabled = false)'))


@contextmanager
def append_only_lifted(conn):
    """Lift the append-only guard of audit_entry on `conn` for a block (tests that tamper or
    empty the trail): PostgreSQL disables its trigger; SQLite drops its triggers and creates
    them again from the SQL it stored for them."""
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("ALTER TABLE audit_entry DISABLE TRIGGER audit_entry_append_only"))
        yield
        conn.execute(sa.text("ALTER TABLE audit_entry ENABLE TRIGGER audit_entry_append_only"))
        return
    triggers = conn.execute(
        sa.text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = :table"),
        {"table": "audit_entry"},
    ).all()
    for name, _sql in triggers:
        conn.execute(sa.text(f'DROP TRIGGER "{name}"'))
    yield
    for _name, sql in triggers:
        conn.execute(sa.text(sql))


def _clean_database() -> None:
    """Empty every table and load the reference data again (and forget the live poll's kept
    viewers and answers: the emptied tables give their user ids to new users)."""
    from webapp.api.live_kept import forget_answers
    from webapp.security import forget_viewers

    forget_viewers()
    forget_answers()
    db.session.remove()
    tables = list(reversed(db.metadata.sorted_tables))
    with db.engine.begin() as conn:
        with append_only_lifted(conn):
            for table in tables:
                conn.execute(table.delete())
        if conn.dialect.name == "postgresql":
            _restart_sequences(conn)
        seed_reference_data(conn)
        ensure_chain_head(conn)


_SEQUENCES: list[str] = []


def _restart_sequences(conn) -> None:
    """Start every sequence owned by a table's column at 1 again, as `TRUNCATE … RESTART
    IDENTITY` did (a DELETE and one setval statement cost a tenth of a TRUNCATE per test)."""
    if not _SEQUENCES:
        _SEQUENCES.extend(
            conn.scalars(
                sa.text(
                    "SELECT quote_ident(n.nspname) || '.' || quote_ident(s.relname)"
                    " FROM pg_class s JOIN pg_namespace n ON n.oid = s.relnamespace"
                    " JOIN pg_depend d ON d.objid = s.oid AND d.deptype IN ('a', 'i')"
                    " WHERE s.relkind = 'S' AND n.nspname = current_schema()"
                )
            )
        )
    if _SEQUENCES:
        calls = ", ".join(f"setval('{name}', 1, false)" for name in _SEQUENCES)
        conn.execute(sa.text(f"SELECT {calls}"))


@pytest.fixture(autouse=True)
def _app_context(app, request):
    """Every test runs in an app context on a clean database with a real clock (a test marked
    `module_data` starts from the data its module's fixture built once, see module_database)."""
    with app.app_context():
        if request.node.get_closest_marker("module_data") is None:
            _clean_database()
        yield
        db.session.remove()
    clock.unfreeze()


@contextmanager
def module_database(app):
    """For a module-scoped fixture: a clean database to build the module's data in once, for
    tests marked `module_data` that only read it (the accessibility and phone sweeps); the
    next test of another module starts clean again."""
    with app.app_context():
        _clean_database()
        yield
        db.session.remove()
    with app.app_context():
        _clean_database()
        db.session.remove()


@pytest.fixture(scope="session")
def _worker_locks(tmp_path_factory, worker_id):
    """The lock files the xdist workers share (None in one process): a `gate` that gives a
    test run alone priority, and the `room` that every test holds while it runs."""
    if worker_id == "master":
        return None
    shared = tmp_path_factory.getbasetemp().parent  # the run's folder above each worker's own
    return shared / "alone.gate", shared / "alone.room"


@pytest.fixture(autouse=True)
def _alone_when_marked(request, _worker_locks):
    """A test marked `alone` (real processes racing the clock: a takeover in 30 s, a restart
    in 15) runs while no other worker runs a test; every other test shares the room."""
    if _worker_locks is None:
        yield
        return
    import fcntl

    alone = request.node.get_closest_marker("alone") is not None
    gate_path, room_path = _worker_locks
    with gate_path.open("a") as gate, room_path.open("a") as room:
        fcntl.flock(gate, fcntl.LOCK_EX if alone else fcntl.LOCK_SH)
        fcntl.flock(room, fcntl.LOCK_EX if alone else fcntl.LOCK_SH)
        if not alone:
            fcntl.flock(gate, fcntl.LOCK_UN)  # a test waiting to run alone goes next
        try:
            yield
        finally:
            fcntl.flock(room, fcntl.LOCK_UN)
            fcntl.flock(gate, fcntl.LOCK_UN)


@pytest.fixture
def is_postgres(app) -> bool:
    """True when the suite runs on PostgreSQL."""
    return db.engine.dialect.name == "postgresql"


@pytest.fixture(autouse=True)
def _postgres_only(request, is_postgres):
    """Skip a test marked `postgres_only(reason=...)` when the suite runs on SQLite."""
    marker = request.node.get_closest_marker("postgres_only")
    if marker is not None and not is_postgres:
        pytest.skip(marker.kwargs.get("reason", "needs PostgreSQL"))


@pytest.fixture
def frozen_clock():
    """The clock stopped at 2024-03-04 10:00 Taipei; move it with clock.advance()."""
    from datetime import datetime

    clock.freeze(datetime(2024, 3, 4, 10, 0, tzinfo=clock.TAIPEI))
    yield clock
    clock.unfreeze()


def _cheap_hash(password: str) -> str:
    from werkzeug.security import generate_password_hash

    return generate_password_hash(password, method="pbkdf2:sha256:1000")


@pytest.fixture(scope="session", autouse=True)
def _cheap_password_hashes():
    """Every test hashes passwords cheaply (scrypt costs 0.35 s a hash, 0.31 s a check); a test
    about hashing itself is marked `real_password_hash` (fast_passwords puts scrypt back)."""
    import models.users as users

    real = users.generate_password_hash
    users.generate_password_hash = _cheap_hash
    users._DUMMY_HASH = None
    yield
    users.generate_password_hash = real
    users._DUMMY_HASH = None


@pytest.fixture(autouse=True)
def fast_passwords(request, monkeypatch):
    """Cheap password hashes (the session's default); scrypt, werkzeug's default, for a test
    marked `real_password_hash`."""
    if request.node.get_closest_marker("real_password_hash") is not None:
        from werkzeug.security import generate_password_hash

        monkeypatch.setattr("models.users.generate_password_hash", generate_password_hash)
        monkeypatch.setattr("models.users._DUMMY_HASH", None)


@pytest.fixture
def english(app):
    """Messages in English (the site's default language is Chinese)."""
    from flask_babel import force_locale

    with force_locale("en"):
        yield


@pytest.fixture
def create_user():
    """Factory: create_user(role="clerk", agency=None, username=None, password=...)."""
    from models.users import create_user as make_user

    counter = iter(range(1, 10_000))

    def factory(role="clerk", agency=None, username=None, password=TEST_PASSWORD, **kwargs):
        if role == "agency" and agency is None:
            agency = "social-welfare"
        name = username or f"{role}{next(counter)}"
        user = make_user(name, password, role, agency=agency, **kwargs)
        db.session.commit()
        return user

    return factory


def login(client, username: str, password: str = TEST_PASSWORD, *, csrf: bool = False):
    """Sign in through the real form; returns the response."""
    data = {"username": username, "password": password}
    if csrf:
        data["csrf_token"] = csrf_token(client, "/login")
    return client.post("/login", data=data)


def csrf_token(client, path: str) -> str:
    """The CSRF token rendered in the form at `path`."""
    page = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page) or re.search(
        r'name="csrf_token" value="([^"]+)"', page
    )
    assert match, f"no CSRF token on {path}"
    return match.group(1)


@pytest.fixture
def client(app):
    """A test client (CSRF checks off; see csrf_app for the real thing)."""
    return app.test_client()


@pytest.fixture
def login_as(app, create_user):
    """login_as(role, **kw) → a client signed in as a new user of that role (and the user)."""

    def factory(role="clerk", **kwargs):
        user = create_user(role=role, **kwargs)
        test_client = app.test_client()
        response = login(test_client, user.username)
        assert response.status_code == 302, response.get_data(as_text=True)
        return test_client, user

    return factory


@pytest.fixture
def run_cli(app):
    """run_cli(*args, input=None) → the click Result of `citydesk ARGS` on the test database:
    commits the test's session first (the command sees only committed rows), forgets cached
    rows after."""
    from click.testing import CliRunner
    from flask.cli import ScriptInfo

    from webapp.cli import cli

    def invoke(*args, input=None):
        db.session.commit()
        result = CliRunner().invoke(
            cli, list(args), input=input, obj=ScriptInfo(create_app=lambda: app)
        )
        db.session.expire_all()
        db.session.rollback()
        return result

    return invoke


@pytest.fixture(scope="session")
def csrf_app(database_url, instance_path, app):
    """The same database served with CSRF protection on, as in production."""
    application = make_app(database_url, instance_path, WTF_CSRF_ENABLED=True)
    yield application
    with application.app_context():
        db.engine.dispose()


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def live_server(csrf_app):
    """CityDesk served by waitress on loopback in a background thread (CSRF on)."""
    from waitress.server import create_server

    port = free_port()
    server = create_server(csrf_app, host="127.0.0.1", port=port, threads=8, ident="CityDesk")
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}"
    server.close()
    thread.join(timeout=5)


# --- Real browser (Playwright driving Debian's Chromium) ---------------------------------

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-quic",
    "--disable-sync",
]
ARTIFACTS = Path(
    os.environ.get("CITYDESK_ARTIFACTS", Path(__file__).parent.parent / "test-artifacts")
)
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 900}


def pytest_collection_modifyitems(items):
    """A test that drives Chromium is a browser test, marked or not (CI runs them once)."""
    for item in items:
        if "browser" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def browser():
    """Headless Chromium (Debian's package; `.ci/run` installs it when missing)."""
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed here (.ci/run installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture
def new_page(browser, live_server):
    """new_page(viewport=DESKTOP, locale="zh-TW") → a page in a fresh browser context."""
    contexts = []

    def factory(viewport=None, locale="zh-TW"):
        context = browser.new_context(
            viewport=viewport or DESKTOP, locale=locale, base_url=live_server
        )
        # 30 s: with a worker per core, another worker's browser sweep may share the CPU.
        context.set_default_timeout(30_000)
        contexts.append(context)
        return context.new_page()

    yield factory
    for context in contexts:
        context.close()


def browser_login(page, username: str, password: str = TEST_PASSWORD) -> None:
    """Sign in through the real form in the browser."""
    page.goto("/login")
    page.locator("#username").fill(username)
    page.locator("#password").fill(password)
    page.locator("main form [type=submit]").first.click()
    # The next page's document is enough (its "load", which also waits for every script and
    # image, timed out on a loaded CI machine).
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.wait_for_url(lambda url: "/login" not in url, wait_until="domcontentloaded")
    except PlaywrightTimeout:
        # Say what the page said (a form error, a wait) so that a failed sign-in explains itself.
        said = page.locator("main").inner_text(timeout=5_000)
        raise AssertionError(f"signing in as {username} stayed on {page.url}: {said!r}") from None


def sets_session_cookie(response) -> bool:
    """True when the answer sends the session cookie (a new or renewed session)."""
    return any(c.startswith("citydesk_session=") for c in response.headers.getlist("Set-Cookie"))


def screenshot(page, name: str) -> Path:
    """Save a full-page screenshot under test-artifacts/ (kept by CI)."""
    path = ARTIFACTS / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=True)
    return path
