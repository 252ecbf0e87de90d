"""Facility sample data for the demo: inspection plans, rounds, open and closed tickets.

Everything is made through the real operations, with the clock set back to when it happened,
so timelines, due dates and the audit trail look as they would in use.
"""

import io
from datetime import timedelta

from PIL import Image, ImageDraw
from sqlalchemy import select

from models import facility as fac
from models.core import audit, clock, db
from models.photos import Upload
from models.users import User

PLANS = {  # zone: days between rounds (public floors weekly, office zones monthly)
    "northeast": 7,
    "southeast": 7,
    "central-north": 7,
    "central-south": 7,
    "northwest": 30,
    "southwest": 30,
}

# zone, days ago the last round finished (None: never walked), floors, one finding or None
ROUNDS = [
    ("northeast", 9, ["1F", "2F", "3F"], ("2F", "cleanliness", "樓梯間", "垃圾桶滿溢未清")),
    ("southeast", 2, ["B1", "1F", "2F"], None),
    ("central-north", 6, ["1F", "2F"], ("1F", "corridor", "東側安全門前", "推車擋住安全門")),
    ("northwest", 12, ["8F", "9F"], None),
    ("southwest", 29, ["10F", "11F", "12F"], None),
]

# reporter, category, zone, floor, location, description, days ago, how far it got
TICKETS = [
    (
        "clerk",
        "corridor",
        "northeast",
        "1F",
        "逃生梯間",
        "逃生梯間堆放紙箱，擋住通道",
        4,
        "reported",
    ),
    ("agency-social", "facility", "central-south", "5F", "茶水間", "飲水機不出熱水", 2, "assigned"),
    (
        "clerk",
        "cleanliness",
        "southeast",
        "B1",
        "停車場入口",
        "入口處積水，容易滑倒",
        0,
        "reported",
    ),
    (
        "facility",
        "ceiling_floor",
        "northwest",
        "8F",
        "會議室外",
        "天花板輕鋼架掉落一片",
        10,
        "started",
    ),
    ("clerk", "facility", "southeast", "3F", "男廁", "感應水龍頭不出水", 3, "fixed"),
    (
        "agency-health",
        "corridor",
        "central-north",
        "1F",
        "服務台旁",
        "輪椅通道被展示架占用",
        20,
        "verified",
    ),
    ("clerk", "ceiling_floor", "southwest", "2F", "電梯廳", "地磚破裂翹起", 15, "verified"),
]


def _photo(colour: str, label: str) -> Upload:
    image = Image.new("RGB", (800, 600), colour)
    draw = ImageDraw.Draw(image)
    draw.rectangle((60, 60, 740, 540), outline="white", width=8)
    draw.text((90, 90), label, fill="white")
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=80)
    buffer.seek(0)
    return Upload(f"{label}.jpg", buffer)


def _user(username: str) -> User | None:
    return db.session.scalar(select(User).where(User.username == username))


def _as(user: User):
    """Act as `user` in the audit trail (the operations take the user as `by=`)."""
    return audit.acting_as(audit.Actor(user.id, user.username))


def load_facility_sample() -> None:
    """Plans for every zone, a few rounds, and tickets in every state (demo users needed)."""
    tech, boss = _user("facility"), _user("supervisor")
    if tech is None or boss is None:
        return
    saved = clock.frozen_at()
    now = clock.now()
    try:
        with _as(boss):
            for code, days in PLANS.items():
                fac.set_plan(fac.zone_by_code(code), days)
        for zone, days_ago, floors, finding in ROUNDS:
            clock.freeze(now - timedelta(days=days_ago, hours=1))
            _walk(tech, zone, floors, finding)
        for row in TICKETS:
            _ticket(tech, boss, *row, now=now)
    finally:
        if saved is None:
            clock.unfreeze()
        else:
            clock.freeze(saved)
    db.session.flush()


def _walk(tech, zone_code, floor_codes, finding) -> None:
    with _as(tech):
        inspection = fac.start_round(
            fac.zone_by_code(zone_code), [fac.floor_by_code(c) for c in floor_codes], by=tech
        )
        for code in floor_codes:
            floor = fac.floor_by_code(code)
            for category in fac.categories():
                if finding and finding[0] == code and finding[1] == category.code:
                    clock.advance(minutes=4)
                    fac.record_finding(
                        inspection,
                        floor,
                        category,
                        by=tech,
                        location=finding[2],
                        description=finding[3],
                        uploads=[_photo("#8a5a0b", "before")],
                        fixed_on_spot=category.code == "corridor",
                        fix_note="已請同仁移開" if category.code == "corridor" else "",
                        after_uploads=[_photo("#156b2f", "after")]
                        if category.code == "corridor"
                        else [],
                    )
                else:
                    fac.mark_no_defect(inspection, floor, category, by=tech)
            clock.advance(minutes=6)
        fac.finish_round(inspection, by=tech)


def _ticket(tech, boss, reporter, category, zone, floor, where, what, days_ago, reach, *, now):
    person = _user(reporter) or boss
    clock.freeze(now - timedelta(days=days_ago, hours=2))
    with _as(person):
        defect = fac.report_defect(
            by=person,
            category=fac.category_by_code(category),
            zone=fac.zone_by_code(zone),
            floor=fac.floor_by_code(floor),
            location=where,
            description=what,
            uploads=[_photo("#7a2e2e", "before")],
        )
    steps = ["reported", "assigned", "started", "fixed", "verified"]
    if steps.index(reach) >= 1:
        clock.advance(hours=1)
        with _as(tech):
            fac.assign(defect, tech, by=tech)
    if steps.index(reach) >= 2:
        clock.advance(minutes=30)
        with _as(tech):
            fac.start(defect, by=tech)
    if steps.index(reach) >= 3:
        clock.advance(hours=3)
        with _as(tech):
            fac.fix(defect, by=tech, note="已修復並測試正常", uploads=[_photo("#156b2f", "after")])
    if steps.index(reach) >= 4:
        clock.advance(hours=20)
        verifier = person if person.id != tech.id else boss
        with _as(verifier):
            fac.verify(defect, by=verifier)
