"""Helpers for the facility tests: real images made with Pillow, uploads, quick tickets."""

import io
from functools import partial

import pytest
from flask import g, request_started
from PIL import Image
from werkzeug.security import generate_password_hash

from models import facility as fac
from models.core import audit, db
from models.photos import Upload


def image_bytes(fmt: str = "JPEG", size=(64, 48), colour="orange") -> bytes:
    """A small real image in the given Pillow format."""
    buffer = io.BytesIO()
    mode = "RGBA" if fmt == "PNG" else "RGB"
    Image.new(mode, size, colour).save(buffer, fmt)
    return buffer.getvalue()


def upload(name: str = "photo.jpg", data: bytes | None = None) -> Upload:
    """An upload as the web layer hands it to the operations."""
    return Upload(name, io.BytesIO(image_bytes() if data is None else data))


def as_user(user):
    """Act as `user` for the audit trail and the ticket timeline."""
    return audit.acting_as(audit.Actor(user.id, user.username))


def new_ticket(reporter, category="facility", zone="northeast", floor="3F", **kw):
    """File a repair report as `reporter` (committed)."""
    with as_user(reporter):
        defect = fac.report_defect(
            user=reporter,
            category=fac.category_by_code(category),
            zone=fac.zone_by_code(zone),
            floor=fac.floor_by_code(floor),
            location=kw.pop("location", "男廁旁走道"),
            description=kw.pop("description", "燈管閃爍"),
            uploads=kw.pop("uploads", [upload()]),
            **kw,
        )
        db.session.commit()
    return defect


def move(defect, user, step, **kw):
    """Make one move as `user` and commit."""
    with as_user(user):
        result = getattr(fac, step)(defect, by=user, **kw)
        db.session.commit()
    return result


@pytest.fixture(autouse=True)
def fast_passwords(monkeypatch):
    """Hash test passwords cheaply: these tests create many users and test no hashing."""
    cheap = partial(generate_password_hash, method="pbkdf2:sha256:1000")
    monkeypatch.setattr("models.users.generate_password_hash", cheap)


@pytest.fixture(autouse=True)
def fresh_user_per_request():
    """Requests in these tests share the test's app context (and so `g`): forget the
    signed-in user at the start of each request, as a real request's fresh context would.
    The audit actor a request sets is reset too, so it does not leak into the next test."""

    def forget(_sender, **_extra):
        g.pop("_login_user", None)

    audit.set_actor(audit.SYSTEM)
    request_started.connect(forget)
    yield
    request_started.disconnect(forget)
    audit.set_actor(audit.SYSTEM)


@pytest.fixture
def english():
    """Render the operations' messages in English (the default language is Chinese)."""
    from flask_babel import force_locale

    with force_locale("en"):
        yield


@pytest.fixture(scope="session", autouse=True)
def dispose_engines_at_the_end(app, csrf_app):
    """Close pooled database connections when the session ends (an unclosed PostgreSQL
    connection warns at exit, and warnings are errors)."""
    yield
    from models.core import db as database

    for application in (app, csrf_app):
        with application.app_context():
            database.engine.dispose()
