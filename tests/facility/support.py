"""Helpers for the facility tests: real images made with Pillow, uploads, quick tickets, an API
client. The fixtures are in `conftest.py`."""

import io
import struct
import zlib

from PIL import Image
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import encode_multipart

from models import facility as fac
from models.core import audit, db
from models.photos import Upload
from models.users import create_token


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
    """Act as `user` for the audit trail (the operations take the user as `by=`)."""
    return audit.acting_as(audit.Actor(user.id, user.username))


def new_ticket(reporter, category="facility", zone="northeast", floor="3F", **kw):
    """File a repair report as `reporter` (committed)."""
    with as_user(reporter):
        defect = fac.report_defect(
            by=reporter,
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


def events(defect) -> list[str]:
    """The actions of a ticket's timeline, oldest first."""
    return [e.action for e in fac.events_of(defect)]


def to_fixed(defect, people):
    """Assign, start and fix a ticket as `people["tech"]` (committed)."""
    move(defect, people["tech"], "assign", assignee=people["tech"])
    move(defect, people["tech"], "start")
    move(defect, people["tech"], "fix", note="換新燈管", uploads=[upload("after.jpg")])
    return defect


class Api:
    """A bearer-token client for one user."""

    def __init__(self, app, user):
        with audit.acting_as(audit.Actor(None, "test")):
            _row, token = create_token(user)
            db.session.commit()
        self.user = user
        self.client = app.test_client()
        self.headers = {"Authorization": f"Bearer {token}", "Accept-Language": "en"}

    def get(self, path, **kw):
        return self.client.get("/api/v1" + path, headers=self.headers, **kw)

    def post(self, path, json=None, **kw):
        return self.client.post("/api/v1" + path, headers=self.headers, json=json, **kw)

    def upload(self, path, files):
        values = MultiDict()
        for name, data in files:
            values.add("photo", FileStorage(io.BytesIO(data), filename=name))
        boundary, body = encode_multipart(values)
        return self.client.post(
            "/api/v1" + path,
            headers=self.headers,
            data=body,
            content_type=f"multipart/form-data; boundary={boundary}",
        )


def remind_overdue() -> int:
    """What the overdue job does (without committing): notices for every overdue ticket."""
    return fac.enqueue_overdue_reminders(fac.overdue_tickets(), by="jobs")


def remind_rounds(today) -> int:
    """What the round job does on `today` (without committing): notices for every due round."""
    return fac.enqueue_round_reminders(fac.rounds_due(today))


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def flat_png(width: int, height: int) -> bytes:
    """A one-colour RGB PNG, compressed row by row (a few hundred KB for 60 Mpx)."""
    packer = zlib.compressobj(9)
    row = b"\0" + b"\x80\x40\x20" * width
    body = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", body)
        + _png_chunk(b"IEND", b"")
    )
