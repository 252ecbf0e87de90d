"""The published year in the demo: 2023 (112年度), recorded so that its report says what the
Secretariat published (DESIGN, reference/secretariat-2023-performance-report.txt):

- 59 dispatches counted, 8 of them over 10 minutes: 86.44% against the 85% target (已達);
- 198 defects found and fixed: 淨空走道 95, 設施正常 48, 環境整潔 38, 天地無虞 17.

Everything is made as in use: the clock is set to each moment of 2023 and the operations are
called (log a visit, notify, acknowledge, arrive, cancel; report a defect, assign, start, fix,
verify). The figures come from the report's own counting, not from here: this module only
decides how many records of each kind happen. The notices those old records raised are dropped
at the end, so nothing from 2023 is sent when the outbox relay starts.
"""

import io
import random
from datetime import date, timedelta

from PIL import Image
from sqlalchemy import delete, func, select

from demo.dispatch import LATE_REASONS, RESPONDERS, SUBJECTS, _as, _clock_kept, _taipei
from models import facility as fac
from models import workdays
from models.core import audit, clock, db
from models.core.outbox import Notification
from models.dispatch import Dispatch, VisitKind, acknowledge, arrive, cancel, log_visit, notify
from models.dispatch.late import set_late_reason
from models.facility import Defect
from models.photos import Upload
from models.reference import Agency, Floor, Zone
from models.users import User

PUBLISHED_YEAR = 2023
COUNTED = 59  # dispatches counted (arrived), as published
LATE = 8  # of them over the 10 minutes
CANCELLED = 2  # visitors who left before the deadline: excluded, as the rules say
FIXED = {"corridor": 95, "facility": 48, "cleanliness": 38, "ceiling_floor": 17}

# What each category's defects look like (location, description).
DEFECTS = {
    "corridor": [
        ("逃生梯間", "逃生梯間堆放紙箱"),
        ("走道", "會議桌椅暫放走道"),
        ("安全門前", "推車擋住安全門"),
        ("電梯廳", "展示架占用通道"),
        ("茶水間外", "回收桶置於走道"),
    ],
    "facility": [
        ("男廁", "感應水龍頭不出水"),
        ("茶水間", "飲水機不出熱水"),
        ("會議室", "投影機無法開啟"),
        ("走道", "緊急照明燈不亮"),
        ("女廁", "烘手機故障"),
    ],
    "cleanliness": [
        ("樓梯間", "垃圾桶滿溢未清"),
        ("茶水間", "水槽積垢"),
        ("電梯廳", "地面有飲料潑灑痕跡"),
        ("廁所", "地面濕滑未擦乾"),
    ],
    "ceiling_floor": [
        ("會議室外", "天花板輕鋼架掉落一片"),
        ("電梯廳", "地磚破裂翹起"),
        ("走道", "天花板滲水水漬"),
    ],
}
FIX_NOTES = {
    "corridor": "已移除堆放物品，恢復通行",
    "facility": "已修復並測試正常",
    "cleanliness": "已清潔完畢",
    "ceiling_floor": "已更換並固定",
}
ROUNDS = 24  # walking rounds in the year, twice a month (their findings are fixed on the spot)
REPORTED = 16  # defects that came in as online repair reports instead
REPORTERS = ["clerk", "agency-social", "agency-health", "supervisor"]


def _small_photo() -> bytes:
    """One small after photo, encoded once (the demo's 2023 repairs share its look)."""
    buffer = io.BytesIO()
    Image.new("RGB", (32, 24), "#156b2f").save(buffer, "JPEG", quality=70)
    return buffer.getvalue()


def _working_days(year: int) -> list[date]:
    """The working days of `year` on the one calendar (holidays and 補班 included)."""
    day, days = date(year, 1, 1), []
    while day.year == year:
        if workdays.is_working_day(day):
            days.append(day)
        day += timedelta(days=1)
    return days


def _user(username: str) -> User | None:
    return db.session.scalar(select(User).where(User.username == username))


def load_published_year(seed: int = 2023) -> dict[str, int]:
    """Record the published year (unless it has records already, or has not ended yet);
    returns what was made."""
    if clock.taipei_year(clock.now()) <= PUBLISHED_YEAR:
        return {}
    year_has = clock.in_year(Dispatch.notified_at, PUBLISHED_YEAR)
    if db.session.scalar(select(func.count(Dispatch.id)).where(year_has)):
        return {}
    # Repeatable demo data, not a secret: a seeded pseudo-random generator is right here.
    rng = random.Random(seed)  # nosec B311
    days = _working_days(PUBLISHED_YEAR)
    with _clock_kept():
        made = {"dispatches": _dispatches(rng, days), "defects": _defects(rng, days)}
    _drop_notices()
    db.session.flush()
    audit.record("demo.published_year", "report", str(PUBLISHED_YEAR), None, made)
    return made


def _dispatches(rng: random.Random, days: list[date]) -> int:
    """The year's counter dispatches: COUNTED arrived (LATE of them late), CANCELLED early."""
    clerk = _user("clerk")
    agency_users = {
        u.agency.code: u for u in db.session.scalars(select(User).where(User.role == "agency"))
    }
    agencies = {
        a.code: a for a in db.session.scalars(select(Agency).where(Agency.has_desk, Agency.active))
    }
    codes = [code for code in SUBJECTS if code in agencies]
    total = COUNTED + CANCELLED
    late = set(rng.sample(range(total - CANCELLED), LATE))
    cancelled = set(range(total - CANCELLED, total))
    order = list(range(total))
    rng.shuffle(order)  # the late and cancelled ones fall anywhere in the year
    picked = sorted(rng.sample(days, total))
    for day, n in zip(picked, order, strict=True):
        code = rng.choice(codes)
        minute = rng.randrange(9 * 60, 16 * 60 + 30, 5)
        at = _taipei(day, minute // 60, minute % 60)
        clock.freeze(at)
        with _as(clerk):
            visit = log_visit(
                kind=rng.choice([VisitKind.PETITION, VisitKind.INQUIRY]).value,
                subject=rng.choice(SUBJECTS[code]),
                summary="民眾臨櫃說明案情，需主管機關派員說明。",
                agency=agencies[code],
                by=clerk,
            )
        clock.freeze(at + timedelta(seconds=rng.randint(30, 90)))
        with _as(clerk):
            dispatch = notify(visit, by=clerk)
        start = dispatch.notified_at
        responder = agency_users.get(code) or clerk
        clock.freeze(start + timedelta(seconds=rng.randint(30, 150)))
        with _as(responder):
            acknowledge(dispatch, rng.choice(RESPONDERS), None, by=responder)
        if n in cancelled:
            clock.freeze(start + timedelta(seconds=rng.randint(200, 500)))
            with _as(clerk):
                cancel(dispatch, "民眾先行離開", by=clerk)
            continue
        seconds = rng.randint(620, 1100) if n in late else rng.randint(170, 590)
        clock.freeze(start + timedelta(seconds=seconds))
        with _as(clerk):
            arrive(dispatch, by=clerk)
        if n in late:
            code_, note = rng.choice(LATE_REASONS)
            with _as(responder):
                set_late_reason(dispatch, code_, note, by=responder)
    return total


def _defects(rng: random.Random, days: list[date]) -> int:
    """The year's defects, FIXED per category: most found by the walking rounds and fixed on
    the spot, some reported online and worked through to fixed and (most) verified."""
    tech, boss = _user("facility"), _user("supervisor")
    reporters = [u for u in (_user(name) for name in REPORTERS) if u is not None]
    zones = list(db.session.scalars(select(Zone).where(Zone.active).order_by(Zone.sort_order)))
    floors = list(db.session.scalars(select(Floor).where(Floor.active).order_by(Floor.sort_order)))
    categories = {code: fac.category_by_code(code) for code in FIXED}
    photo = _small_photo()
    kinds = [code for code, count in FIXED.items() for _n in range(count)]
    rng.shuffle(kinds)
    reported, on_spot = kinds[:REPORTED], kinds[REPORTED:]
    usable = days[:-3]  # everything is fixed and verified within the year

    # Walking rounds: one floor each, a few findings fixed on the spot.
    round_days = sorted(rng.sample(usable, ROUNDS))
    for n, day in enumerate(round_days):
        share = len(on_spot) // (len(round_days) - n)
        found, on_spot = on_spot[:share], on_spot[share:]
        clock.freeze(_taipei(day, 10, rng.randrange(0, 60, 5)))
        floor = rng.choice(floors)
        with _as(tech):
            inspection = fac.start_round(zones[n % len(zones)], [floor], by=tech)
            for code in found:
                clock.advance(minutes=rng.randint(2, 8))
                where, what = rng.choice(DEFECTS[code])
                fac.record_finding(
                    inspection,
                    floor,
                    categories[code],
                    by=tech,
                    location=where,
                    description=what,
                    fixed_on_spot=True,
                    fix_note=FIX_NOTES[code],
                    after_uploads=[Upload("after.jpg", io.BytesIO(photo))],
                )
            for code, category in categories.items():
                if code not in found:
                    fac.mark_no_defect(inspection, floor, category, by=tech)
            clock.advance(minutes=5)
            fac.finish_round(inspection, by=tech)

    # Online repair reports: reported, assigned, started, fixed, then verified.
    for day, code in zip(sorted(rng.choice(usable) for _c in reported), reported, strict=True):
        where, what = rng.choice(DEFECTS[code])
        reporter = rng.choice(reporters)
        clock.freeze(_taipei(day, rng.randint(9, 15), rng.randrange(0, 60, 5)))
        with _as(reporter):
            defect = fac.report_defect(
                by=reporter,
                category=categories[code],
                zone=rng.choice(zones),
                floor=rng.choice(floors),
                location=where,
                description=what,
            )
        clock.advance(minutes=rng.randint(20, 90))
        with _as(tech):
            fac.assign(defect, tech, by=tech)
            clock.advance(minutes=rng.randint(10, 60))
            fac.start(defect, by=tech)
            clock.advance(minutes=rng.randint(30, 240))
            fac.fix(
                defect,
                by=tech,
                note=FIX_NOTES[code],
                uploads=[Upload("after.jpg", io.BytesIO(photo))],
            )
        if rng.random() < 0.85:  # verified on the next working day, in office hours
            later = [d for d in days if d > day]
            clock.freeze(
                _taipei(later[0] if later else day, rng.randint(9, 16), rng.randrange(0, 60, 5))
            )
            verifier = reporter if reporter.id != tech.id else boss
            with _as(verifier):
                fac.verify(defect, by=verifier)
    return sum(FIXED.values())


def _drop_notices() -> None:
    """Forget the notices the year's records raised: history is not sent again."""
    year_dispatches = select(Dispatch.id).where(clock.in_year(Dispatch.notified_at, PUBLISHED_YEAR))
    year_defects = select(Defect.id).where(clock.in_year(Defect.found_at, PUBLISHED_YEAR))
    db.session.execute(
        delete(Notification).where(
            Notification.dispatch_id.in_(year_dispatches) | Notification.defect_id.in_(year_defects)
        )
    )
