"""Demo visits and dispatches: some history, today's finished ones and a few open on the board.

Everything is made the way a clerk and the agencies would make it: the clock is set to each
moment and the dispatch operations are called (log a visit, notify, acknowledge, arrive, cancel,
transfer, add a note). The operations notify as they go; the notices of what has already ended
are dropped at the end, so that nothing old is sent when the outbox relay starts.
"""

import random
from contextlib import contextmanager
from datetime import UTC, datetime, time, timedelta

from sqlalchemy import delete, func, select

from models.core import audit, clock, db
from models.core.outbox import Notification
from models.dispatch import (
    OPEN_VALUES,
    Dispatch,
    Visit,
    VisitKind,
    acknowledge,
    add_care_note,
    add_note,
    arrive,
    cancel,
    log_visit,
    notify,
    rate_visit,
    settle_visit,
    transfer,
)
from models.dispatch.late import set_late_reason
from models.reference import Agency
from models.users import User

SUBJECTS = {
    "social-welfare": ["低收入戶補助申請", "急難救助諮詢", "身心障礙手冊換發", "長照服務申請"],
    "health": ["食品安全檢舉", "醫療爭議諮詢", "疫苗接種紀錄查詢"],
    "labor": ["勞資爭議陳情", "積欠工資申訴", "職業災害補償諮詢"],
    "economic-development": ["市場攤位申請", "商圈活動補助諮詢"],
    "land-administration": ["土地徵收補償陳情", "地價稅疑義"],
    "civil-affairs": ["宗教團體登記", "里鄰事務陳情"],
    "commerce": ["公司登記諮詢", "商業登記變更"],
    "songshan-land-office": ["建物測量申請", "謄本申請疑義"],
    "xinyi-household-registration": ["戶籍遷入疑義", "戶籍謄本申請"],
    "secretariat": ["市政建議", "陳情案件進度查詢"],
}
NAMES = ["王小明", "林美華", "陳志強", "張淑芬", "李建國", "黃雅婷", "吳俊傑", "劉怡君", "蔡宗翰"]
RESPONDERS = ["王專員", "林科員", "陳股長", "張約僱人員", "李專員", "黃科員"]
# Why a late dispatch was late, as an agency would say it (code, note).
LATE_REASONS = [
    ("away", "承辦人至區公所開會"),
    ("short_staffed", "當日兩位承辦人請假"),
    ("not_reached", "分機無人接聽，改以手機聯繫"),
    ("needs_records", "須先調閱申請檔案"),
    ("other", "電梯停駛，改走樓梯"),
]
SETTLED_SUBJECTS = ["洽詢市府開放時間", "索取申請表格", "停車場位置詢問", "洽詢公車路線"]


def _taipei(day, hour: int, minute: int) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=clock.TAIPEI).astimezone(UTC)


def _as(user: User | None):
    """Act as `user` in the audit trail (the operations also get it as `by`)."""
    return audit.acting_as(audit.Actor(user.id, user.username) if user else audit.SYSTEM)


@contextmanager
def _clock_kept():
    """Let the block move the clock, then give it back as it was (frozen or running)."""
    saved = clock.frozen_at()
    try:
        yield
    finally:
        if saved is None:
            clock.unfreeze()
        else:
            clock.freeze(saved)


def _visit(rng: random.Random, at: datetime, agency: Agency | None, clerk, subject: str) -> Visit:
    """A visitor logged by the clerk at `at`."""
    clock.freeze(at)
    named = rng.random() < 0.7
    kind = rng.choice(
        [VisitKind.PETITION, VisitKind.PETITION, VisitKind.INQUIRY, VisitKind.APPLICATION]
    ).value
    name = rng.choice(NAMES) if named else None
    phone = f"09{rng.randrange(10**8):08d}" if named else None
    with _as(clerk):
        return log_visit(
            kind=kind,
            subject=subject,
            summary="民眾臨櫃說明案情，需主管機關派員說明。" if agency else "",
            agency=agency,
            petitioner_name=name,
            petitioner_phone=phone,
            is_senior=rng.random() < 0.2,
            needs_accessibility=rng.random() < 0.08,
            by=clerk,
        )


def _notify(visit: Visit, at: datetime, clerk) -> Dispatch:
    """The clerk notifies the visit's agency at `at`."""
    clock.freeze(at)
    with _as(clerk):
        return notify(visit, by=clerk)


def _acknowledge(rng, dispatch: Dispatch, at: datetime, by) -> None:
    clock.freeze(at)
    with _as(by):
        acknowledge(dispatch, rng.choice(RESPONDERS), rng.choice([None, 3, 5, 8]), by=by)


def _finish(rng, dispatch: Dispatch, clerk, agency_users: dict) -> None:
    """End a historic dispatch: mostly on time, some late, a few cancelled."""
    start = dispatch.notified_at
    ack_user = agency_users.get(dispatch.agency.code) or clerk
    _acknowledge(rng, dispatch, start + timedelta(seconds=rng.randint(30, 200)), ack_user)
    roll = rng.random()
    if roll < 0.06:
        clock.freeze(start + timedelta(seconds=rng.choice([240, 420, 900])))
        with _as(clerk):
            cancel(dispatch, rng.choice(["民眾先行離開", "已以電話說明完畢"]), by=clerk)
    else:
        late = roll > 0.87
        seconds = rng.randint(610, 960) if late else rng.randint(180, 590)
        # Repeatable demo data, not a secret; its own stream keeps the other draws the same.
        visitor = random.Random(-dispatch.id)  # nosec B311
        clock.freeze(start + timedelta(seconds=min(60, seconds - 30)))
        with _as(clerk):
            for code in visitor.sample(CARE_CODES, visitor.choice([0, 1, 1, 2])):
                add_care_note(dispatch.visit, code, by=clerk, dispatch=dispatch)
        clock.freeze(start + timedelta(seconds=seconds))
        with _as(clerk):
            arrive(dispatch, by=clerk)
            if visitor.random() < 0.6:  # most visitors answer the rating screen
                score = "neutral" if late else visitor.choice(VERDICTS)
                rate_visit(dispatch.visit, score, by=clerk)
        if late:
            _explain(dispatch, ack_user)


CARE_CODES = ["seated", "tea", "listened"]  # codes of the default care notes
VERDICTS = ["satisfied"] * 8 + ["neutral", "dissatisfied"]  # what the demo's visitors answer


def _explain(dispatch: Dispatch, by) -> None:
    """Most late dispatches get their reason from the agency (some are still owed)."""
    # Repeatable demo data, not a secret; its own stream, so the demo's other draws stay the same.
    pick = random.Random(dispatch.id)  # nosec B311
    if pick.random() < 0.7:
        code, note = pick.choice(LATE_REASONS)
        with _as(by):
            set_late_reason(dispatch, code, note, by=by)


def _drop_old_notices() -> None:
    """Forget the notices of the dispatches that have ended: history is not sent again."""
    ended = select(Dispatch.id).where(Dispatch.state.not_in(OPEN_VALUES))
    db.session.execute(delete(Notification).where(Notification.dispatch_id.in_(ended)))


def load_dispatch_demo(seed: int = 112) -> dict[str, int]:
    """Create demo visits and dispatches unless some exist; returns what was made."""
    if db.session.scalar(select(func.count(Visit.id))):
        return {}
    with _clock_kept():
        made = _make_demo(seed, clock.now())
    _drop_old_notices()
    db.session.flush()
    audit.record("demo.dispatches", "dispatch", None, None, made)
    return made


def _make_demo(seed: int, now: datetime) -> dict[str, int]:
    # Repeatable demo data, not a secret: a seeded pseudo-random generator is right here.
    rng = random.Random(seed)  # nosec B311
    today = clock.local(now).date()
    clerk = db.session.scalar(select(User).where(User.username == "clerk"))
    agency_users = {
        user.agency.code: user
        for user in db.session.scalars(select(User).where(User.role == "agency"))
        if user.agency
    }
    agencies = {
        a.code: a for a in db.session.scalars(select(Agency).where(Agency.has_desk, Agency.active))
    }
    codes = [code for code in SUBJECTS if code in agencies]
    made = {"visits": 0, "dispatches": 0, "open": 0}

    # History: the last six weeks of working days, and today's morning.
    days = [today - timedelta(days=n) for n in range(42, 0, -1)]
    days = [d for d in days if d.weekday() < 5] + [today]
    for day in days:
        slots = sorted(rng.sample(range(9 * 60, 16 * 60 + 30, 5), rng.randint(2, 4)))
        for minute in slots:
            at = _taipei(day, minute // 60, minute % 60)
            if at > now - timedelta(minutes=40):
                continue
            code = rng.choice(codes)
            visit = _visit(rng, at, agencies[code], clerk, rng.choice(SUBJECTS[code]))
            dispatch = _notify(visit, at + timedelta(seconds=50), clerk)
            _finish(rng, dispatch, clerk, agency_users)
            made["visits"] += 1
            made["dispatches"] += 1
        if rng.random() < 0.6:
            at = _taipei(day, rng.randint(9, 16), rng.choice([0, 15, 30, 45]))
            if at < now:
                visit = _visit(rng, at, None, clerk, rng.choice(SETTLED_SUBJECTS))
                clock.freeze(min(at + timedelta(minutes=4), now))
                with _as(clerk):
                    settle_visit(visit, by=clerk)
                made["visits"] += 1

    # One transfer: 商業處 was the wrong desk, 產業局 took it over.
    at = now - timedelta(hours=3)
    visit = _visit(rng, at, agencies["commerce"], clerk, "市場攤位租金陳情")
    first = _notify(visit, at + timedelta(seconds=40), clerk)
    clock.freeze(first.notified_at + timedelta(minutes=2))
    with _as(clerk):
        second = transfer(first, agencies["economic-development"], "屬產業局市場處業務", by=clerk)
    _finish(random.Random(1), second, clerk, agency_users)  # nosec B311
    made["visits"] += 1
    made["dispatches"] += 2

    # Open now: overdue, three minutes or less, acknowledged in time, just notified.
    open_ones = [
        ("social-welfare", 12 * 60 + 20, True, "急難救助諮詢"),
        ("labor", 8 * 60 + 10, False, "積欠工資申訴"),
        ("health", 4 * 60, True, "食品安全檢舉"),
        ("social-welfare", 50, False, "身心障礙手冊換發"),
    ]
    for code, ago, acknowledged, subject in open_ones:
        at = now - timedelta(seconds=ago)
        visit = _visit(rng, at - timedelta(seconds=60), agencies[code], clerk, subject)
        dispatch = _notify(visit, at, clerk)
        if acknowledged:
            by = agency_users.get(code) or clerk
            _acknowledge(rng, dispatch, at + timedelta(seconds=90), by)
        if code == "social-welfare" and ago > 600:
            clock.freeze(at + timedelta(minutes=5))
            with _as(clerk):
                add_note(visit, "已請民眾至等候區休息並提供茶水。", by=clerk, dispatch=dispatch)
        made["visits"] += 1
        made["dispatches"] += 1
        made["open"] += 1
    return made
