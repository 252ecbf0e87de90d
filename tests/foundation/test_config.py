"""Configuration: defaults → instance/config.py → CITYDESK_* environment → the factory argument."""

import stat

import sqlalchemy as sa

from models.core import db
from webapp import create_app


def _app(monkeypatch, instance, **config):
    monkeypatch.setenv("CITYDESK_INSTANCE_PATH", str(instance))
    return create_app(config or None)


def test_a_secret_key_is_generated_once_into_the_instance_folder(monkeypatch, tmp_path):
    monkeypatch.delenv("CITYDESK_SECRET_KEY", raising=False)
    first = _app(monkeypatch, tmp_path)
    second = _app(monkeypatch, tmp_path)
    key_file = tmp_path / "secret_key"
    assert first.config["SECRET_KEY"] == second.config["SECRET_KEY"] == key_file.read_text()
    assert len(first.config["SECRET_KEY"]) >= 64
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


def test_configuration_precedence(monkeypatch, tmp_path):
    (tmp_path / "config.py").write_text("IDLE_TIMEOUT_MINUTES = 20\nDISPATCH_SLA_SECONDS = 900\n")
    app = _app(monkeypatch, tmp_path)
    assert app.config["IDLE_TIMEOUT_MINUTES"] == 20
    monkeypatch.setenv("CITYDESK_IDLE_TIMEOUT_MINUTES", "10")
    app = _app(monkeypatch, tmp_path)
    assert app.config["IDLE_TIMEOUT_MINUTES"] == 10
    assert app.config["DISPATCH_SLA_SECONDS"] == 900
    app = _app(monkeypatch, tmp_path, IDLE_TIMEOUT_MINUTES=5)
    assert app.config["IDLE_TIMEOUT_MINUTES"] == 5


def test_default_database_is_sqlite_in_the_instance_folder(monkeypatch, tmp_path):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    app = _app(monkeypatch, tmp_path)
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path}/citydesk.sqlite3"


def test_database_url_is_honoured(monkeypatch, tmp_path):
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://someone@127.0.0.1/elsewhere")
    app = _app(monkeypatch, tmp_path)
    assert (
        app.config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://someone@127.0.0.1/elsewhere"
    )


def test_sqlite_runs_with_wal_busy_timeout_and_foreign_keys(monkeypatch, tmp_path):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    app = _app(monkeypatch, tmp_path)
    with app.app_context():
        with db.engine.connect() as conn:
            assert conn.execute(sa.text("PRAGMA journal_mode")).scalar() == "wal"
            assert conn.execute(sa.text("PRAGMA foreign_keys")).scalar() == 1
            assert conn.execute(sa.text("PRAGMA busy_timeout")).scalar() == 30000
        db.engine.dispose()
