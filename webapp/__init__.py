"""CityDesk's HTTP face: the application factory."""

import logging
import os
import secrets
from pathlib import Path

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine
from werkzeug.middleware.proxy_fix import ProxyFix

from models.core import db
from models.dispatch.ladder import (
    DEFAULT_BREACH_TO_SUPERVISORS,
    DEFAULT_CHIEF_AFTER,
    DEFAULT_REMINDER_BEFORE,
)
from webapp.pool_ping import ping_on_checkout

PACKAGE = Path(__file__).resolve().parent


def shipped(name: str) -> Path:
    """A folder kept at the top of the repository and shipped inside `webapp` in a wheel
    (`templates`, `migrations`): the installed copy when there is one, else the source tree's."""
    inside = PACKAGE / name
    return inside if inside.is_dir() else PACKAGE.parent / name


class DefaultConfig:
    """Defaults in code; `instance/config.py`, `CITYDESK_*` and the factory's argument override."""

    SQLALCHEMY_DATABASE_URI = None  # set in create_app: SQLite in the instance folder
    SQLALCHEMY_ENGINE_OPTIONS: dict = {}
    DISPATCH_SLA_SECONDS = 600
    IDLE_TIMEOUT_MINUTES = 30
    # On PostgreSQL a live poll's answer is kept per process for at most this many seconds,
    # ended at once by a change (webapp/api/live_kept.py); 0: every poll runs its statement.
    LIVE_KEEP_SECONDS = 10
    # How many proxies in front of CityDesk set X-Forwarded-For/-Proto (0: none; the client's
    # address is the connection's). Sign-in throttling counts per that address.
    PROXY_HOPS = 0
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = False
    SESSION_COOKIE_NAME = "citydesk_session"
    # The cookie is sent again when the session changes (each request that counts as activity
    # changes `seen`), not on every poll: the live poll skips re-signing it (issue 14), and
    # renews it when it is half-way to expiry (security._idle_expired).
    SESSION_REFRESH_EACH_REQUEST = False
    PREFERRED_URL_SCHEME = "http"
    BABEL_DEFAULT_LOCALE = "zh_Hant_TW"
    BABEL_DEFAULT_TIMEZONE = "Asia/Taipei"
    LANGUAGES = ["zh_Hant_TW", "en"]
    WTF_CSRF_CHECK_DEFAULT = False  # checked in before_request: bearer-token API calls skip it
    WTF_CSRF_TIME_LIMIT = None
    MAX_CONTENT_LENGTH = 64 * 1024 * 1024
    API_TITLE = "CityDesk API"
    API_VERSION = "v1"
    OPENAPI_VERSION = "3.0.3"
    OPENAPI_URL_PREFIX = "/api/v1"
    OPENAPI_JSON_PATH = "openapi.json"
    JSON_SORT_KEYS = False
    BASE_URL = "http://127.0.0.1:5000"
    # Time-driven jobs (jobs/, docs/jobs.md). `citydesk serve` runs them in-process unless
    # RUN_SCHEDULER is false (then run `citydesk jobs`); create_app() never starts them.
    RUN_SCHEDULER = True
    JOBS_SWEEP_SECONDS = 5  # overdue sweep (at most 10)
    JOBS_RELAY_SECONDS = 2  # outbox relay
    JOBS_RETENTION_AT = "03:30"  # daily retention run, Asia/Taipei
    JOBS_DIGEST_AT = "08:30"  # the monthly digest, first working day of the month, Asia/Taipei
    JOBS_LEASE_SECONDS = 15  # scheduler lease (SQLite): a standby takes over after this
    JOBS_RENEW_SECONDS = 5  # the holder renews, a standby retries, this often
    # The escalation ladder's defaults are the domain's (models.dispatch.ladder).
    ESCALATION_REMINDER_SECONDS = DEFAULT_REMINDER_BEFORE
    ESCALATION_BREACH_TO_SUPERVISORS = DEFAULT_BREACH_TO_SUPERVISORS
    ESCALATION_CHIEF_SECONDS = DEFAULT_CHIEF_AFTER
    ESCALATION_MAX_AGE_HOURS = 24  # older breaches are recorded but send nothing
    MAIL_SERVER = ""  # no server: e-mail notices wait in the outbox
    MAIL_PORT = 25
    MAIL_USE_TLS = False  # STARTTLS
    MAIL_USE_SSL = False  # SMTPS
    MAIL_USERNAME = ""
    # An empty default, set from the environment (not a hard-coded password).
    MAIL_PASSWORD = ""  # nosec B105
    MAIL_SENDER = "CityDesk <citydesk@localhost>"
    MAIL_TIMEOUT = 10
    WEBHOOK_TIMEOUT = 5
    WEBHOOK_ALLOW_PRIVATE = True  # agencies' systems on 10/8, 172.16/12, 192.168/16 (and fc00::/7)
    WEBHOOK_ALLOW_LOOPBACK = False  # tests only: their receivers listen on 127.0.0.1
    OUTBOX_MAX_ATTEMPTS = 8
    OUTBOX_BACKOFF_SECONDS = 30  # first retry after 15-30 s, doubling each time
    OUTBOX_BACKOFF_MAX_SECONDS = 1800
    OUTBOX_LEASE_SECONDS = 120  # a claimed notice returns to the queue if its relay dies
    OUTBOX_BATCH_SIZE = 50
    RETENTION_DAYS = 365  # petitioners' names and phones are erased after this
    # The key of the audit trail's HMAC chain (docs/security.md). Unset: generated into
    # instance/audit_key. Keep it out of the database and back it up: without it no entry
    # can be verified.
    AUDIT_KEY = None


def create_app(config: dict | None = None) -> Flask:
    """Build a CityDesk app: defaults → instance/config.py → CITYDESK_* env → `config`."""
    app = Flask(
        __name__,
        instance_path=os.environ.get("CITYDESK_INSTANCE_PATH", str(Path.cwd() / "instance")),
        instance_relative_config=True,
        template_folder=str(shipped("templates")),
    )
    app.config.from_object(DefaultConfig)
    app.config.from_pyfile("config.py", silent=True)
    app.config.from_prefixed_env("CITYDESK")
    if os.environ.get("DATABASE_URL"):
        app.config["SQLALCHEMY_DATABASE_URI"] = os.environ["DATABASE_URL"]
    if config:
        app.config.update(config)
    if "DATABASE_URL" in app.config:
        app.config["SQLALCHEMY_DATABASE_URI"] = app.config["DATABASE_URL"]
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    if not app.config["SQLALCHEMY_DATABASE_URI"]:
        app.config["SQLALCHEMY_DATABASE_URI"] = "sqlite:///" + str(
            Path(app.instance_path) / "citydesk.sqlite3"
        )
    _configure_engine(app)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _instance_secret(app, "secret_key")
    if not app.config.get("AUDIT_KEY"):
        app.config["AUDIT_KEY"] = _instance_secret(app, "audit_key")
    app.config["AUDIT_KEY"] = str(app.config["AUDIT_KEY"])  # CITYDESK_AUDIT_KEY=123 parses as int
    _check_audit_sealing(app)
    app.permanent_session_lifetime = app.config["IDLE_TIMEOUT_MINUTES"] * 60

    _init_extensions(app)
    ping_on_checkout(app)
    _register_blueprints(app)

    from webapp import errors, filters, i18n, labels, nav, security

    i18n.init_app(app)
    nav.init_app(app)
    filters.init_app(app)
    labels.init_app(app)
    security.init_app(app)
    errors.init_app(app)
    hops = int(app.config["PROXY_HOPS"] or 0)
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    logging.getLogger("citydesk").setLevel(logging.INFO)
    return app


def _check_audit_sealing(app: Flask) -> None:
    """A clear message for a bad CITYDESK_AUDIT_SEALING (not a failure at each commit)."""
    from models.core.audit import SEALING_MODES

    mode = app.config.get("AUDIT_SEALING")
    if mode is not None and mode not in SEALING_MODES:
        raise RuntimeError(
            f"CITYDESK_AUDIT_SEALING must be one of {', '.join(SEALING_MODES)} (got {mode!r})"
        )


def _configure_engine(app: Flask) -> None:
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    options = dict(app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    if uri.startswith("sqlite"):
        options.setdefault("connect_args", {}).setdefault("timeout", 30)
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, _record) -> None:
    """WAL, a busy timeout and enforced foreign keys on every SQLite connection."""
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()


def _instance_secret(app: Flask, name: str) -> str:
    """A secret generated into the instance folder's file `name` on first run (mode 600) and
    reused after."""
    path = Path(app.instance_path) / name
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
    return path.read_text().strip()


def _init_extensions(app: Flask) -> None:
    from webapp.extensions import api, csrf, login_manager, migrate

    db.init_app(app)
    migrate.init_app(app, db, directory=str(shipped("migrations")), render_as_batch=True)
    csrf.init_app(app)
    login_manager.init_app(app)
    api.init_app(app)


def _register_blueprints(app: Flask) -> None:
    from webapp import (
        ack,
        admin,
        agency,
        api,
        auth,
        desk,
        facility,
        main,
        notifications,
        ops,
        reports,
    )

    app.register_blueprint(auth.bp)
    app.register_blueprint(main.bp)
    app.register_blueprint(admin.bp, url_prefix="/admin")
    app.register_blueprint(desk.bp, url_prefix="/desk")
    app.register_blueprint(agency.bp, url_prefix="/agency")
    app.register_blueprint(ack.bp, url_prefix="/ack")
    app.register_blueprint(facility.bp, url_prefix="/facility")
    app.register_blueprint(notifications.bp)
    app.register_blueprint(ops.bp, url_prefix="/admin/jobs")
    app.register_blueprint(reports.bp, url_prefix="/reports")
    app.register_blueprint(reports.imports_bp, url_prefix="/admin/import")
    api.register(app)
