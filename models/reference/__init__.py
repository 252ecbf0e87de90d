"""Reference data: agencies, building zones and floors, defect categories, targets, settings."""

from datetime import datetime
from decimal import Decimal

from email_validator import EmailNotValidError, validate_email
from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import String, Text, select
from sqlalchemy.orm import Mapped, mapped_column

from models.core import audit, clock, db
from models.core.errors import InvalidInput, NotFound
from models.core.text import reads_english
from models.reference.seed import CATEGORIES
from models.reference.webhooks import check_webhook_url

# DESIGN "Defects": the four category codes, always listed in this order (the seed writes the
# same order as `DefectCategory.sort_order`). The report, the pages and the API all use it.
CATEGORY_CODES: tuple[str, ...] = tuple(code for code, *_rest in CATEGORIES)


def split_emails(text: str | None) -> list[str]:
    """A list of e-mail addresses as typed: one per comma, semicolon or line."""
    parts = (text or "").replace("\n", ",").replace(";", ",").split(",")
    return [p.strip() for p in parts if p.strip()]


def bad_emails(text: str | None) -> list[tuple[int, str]]:
    """The addresses of a typed list that are not e-mail addresses: (place from 1, address)."""
    bad = []
    for place, address in enumerate(split_emails(text), start=1):
        try:
            validate_email(address, check_deliverability=False)
        except EmailNotValidError:
            bad.append((place, address))
    return bad


def check_emails(text: str | None) -> None:
    """Refuse a list of addresses with any bad one, naming each (nothing is saved)."""
    bad = bad_emails(text)
    if bad:
        raise InvalidInput(
            _(
                "Address %(place)d, %(address)s, is not an e-mail address.",
                place=bad[0][0],
                address=bad[0][1],
            ),
            "emails",
        )


class Agency(db.Model):
    """An agency in the city hall building that the centre can dispatch."""

    __tablename__ = "agency"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name_zh: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(200))
    has_desk: Mapped[bool] = mapped_column(default=False)
    extension: Mapped[str] = mapped_column(String(40), default="")
    emails: Mapped[str] = mapped_column(Text, default="")
    webhook_url: Mapped[str] = mapped_column(String(500), default="")
    webhook_secret: Mapped[str] = mapped_column(String(200), default="")
    active: Mapped[bool] = mapped_column(default=True)
    sort_order: Mapped[int] = mapped_column(default=100)

    @property
    def email_list(self) -> list[str]:
        """Notification addresses, one per comma or line."""
        return split_emails(self.emails)

    def display_name(self, locale: str = "zh") -> str:
        """The agency's name in the given language."""
        return self.name_en if reads_english(locale) else self.name_zh

    def to_dict(self) -> dict:
        """Audit/API view of the agency."""
        return {
            "code": self.code,
            "name_zh": self.name_zh,
            "name_en": self.name_en,
            "has_desk": self.has_desk,
            "extension": self.extension,
            "emails": self.email_list,
            "webhook_url": self.webhook_url,
            "active": self.active,
        }

    def __repr__(self) -> str:
        return f"<Agency {self.code}>"


class Zone(db.Model):
    """A zone of the building walked in inspection rounds (東北區...)."""

    __tablename__ = "zone"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name_zh: Mapped[str] = mapped_column(String(50))
    name_en: Mapped[str] = mapped_column(String(100))
    active: Mapped[bool] = mapped_column(default=True)
    sort_order: Mapped[int] = mapped_column(default=100)

    def display_name(self, locale: str = "zh") -> str:
        """The zone's name in the given language."""
        return self.name_en if reads_english(locale) else self.name_zh


class Floor(db.Model):
    """A floor of the building (B2 ... 12F)."""

    __tablename__ = "floor"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(10), unique=True)
    active: Mapped[bool] = mapped_column(default=True)
    sort_order: Mapped[int] = mapped_column(default=100)


# The one order floors are listed in, everywhere (pages, forms, rounds, the grid, the API):
# from the lowest up, B2 … 12F, as the seed's sort_order gives them (docs/facility.md).
FLOOR_ORDER = (Floor.sort_order, Floor.code)


def floors(active_only: bool = True) -> list[Floor]:
    """The building's floors in the one order, from the lowest up (B2, B1, 1F … 12F)."""
    stmt = select(Floor).order_by(*FLOOR_ORDER)
    if active_only:
        stmt = stmt.where(Floor.active)
    return list(db.session.scalars(stmt))


class DefectCategory(db.Model):
    """One of the four defect categories; codes are stable and used in reports."""

    __tablename__ = "defect_category"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name_zh: Mapped[str] = mapped_column(String(50))
    name_en: Mapped[str] = mapped_column(String(100))
    due_working_days: Mapped[int] = mapped_column(default=1)
    sort_order: Mapped[int] = mapped_column(default=100)

    def display_name(self, locale: str = "zh") -> str:
        """The category's name in the given language."""
        return self.name_en if reads_english(locale) else self.name_zh


def categories() -> list[DefectCategory]:
    """Every defect category in the one order: CATEGORY_CODES first, any other by sort order."""
    rank = {code: i for i, code in enumerate(CATEGORY_CODES)}
    return sorted(
        db.session.scalars(select(DefectCategory)),
        key=lambda c: (rank.get(c.code, len(rank)), c.sort_order, c.code),
    )


class YearTarget(db.Model):
    """The on-time dispatch target (percent) for one Gregorian year."""

    __tablename__ = "year_target"

    year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    dispatch_target: Mapped[Decimal]
    updated_at: Mapped[datetime | None]


class Setting(db.Model):
    """A setting an administrator changed at run time; absent means the configured default."""

    __tablename__ = "setting"

    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime | None]


# Settings editable at run time and the config key that gives each one's default.
RUNTIME_SETTINGS = {"dispatch_sla_seconds": "DISPATCH_SLA_SECONDS"}


def get_setting(key: str) -> str:
    """A run-time setting: the stored value, else the application's configured default."""
    row = db.session.get(Setting, key)
    if row is not None:
        return row.value
    return str(current_app.config[RUNTIME_SETTINGS[key]])


def sla_seconds() -> int:
    """The dispatch SLA length in force now, in seconds."""
    return int(get_setting("dispatch_sla_seconds"))


def set_sla_seconds(seconds: int) -> None:
    """Change the SLA for future dispatches (existing ones keep their snapshot)."""
    if not 1 <= seconds <= 24 * 3600:
        raise InvalidInput(_l("The SLA must be between 1 second and 24 hours."))
    before = get_setting("dispatch_sla_seconds")
    row = db.session.get(Setting, "dispatch_sla_seconds")
    if row is None:
        row = Setting(key="dispatch_sla_seconds", value=str(seconds))
        db.session.add(row)
    row.value = str(seconds)
    row.updated_at = clock.now()
    audit.record(
        "setting.update",
        "setting",
        "dispatch_sla_seconds",
        {"value": before},
        {"value": str(seconds)},
    )
    db.session.flush()


def set_target(year: int, target: Decimal) -> YearTarget:
    """Set a year's on-time target (0-100); read it with reports.rules.target_in_effect."""
    if not Decimal(0) <= target <= Decimal(100):
        raise InvalidInput(_l("A target is a percentage between 0 and 100."))
    if not 2000 <= year <= 2100:
        raise InvalidInput(_l("The year is out of range."))
    target = Decimal(target).quantize(Decimal("0.01"))
    row = db.session.get(YearTarget, year)
    before = {"target": str(row.dispatch_target)} if row else None
    if row is None:
        row = YearTarget(year=year, dispatch_target=target)
        db.session.add(row)
    row.dispatch_target = target
    row.updated_at = clock.now()
    audit.record("target.update", "year_target", str(year), before, {"target": str(target)})
    db.session.flush()
    return row


def agency_by_code(code: str, *, active_only: bool = True) -> Agency:
    """Find an agency by code or by its Chinese or English name; NotFound otherwise."""
    code = (code or "").strip()
    stmt = select(Agency).where(
        (Agency.code == code) | (Agency.name_zh == code) | (Agency.name_en == code)
    )
    agency = db.session.scalars(stmt).first()
    if agency is None or (active_only and not agency.active):
        raise NotFound(_l("Unknown agency: %(code)s", code=code))
    return agency


def agencies_for_picker() -> list[Agency]:
    """Active agencies, the desk agencies first, then by sort order."""
    stmt = (
        select(Agency)
        .where(Agency.active)
        .order_by(Agency.has_desk.desc(), Agency.sort_order, Agency.code)
    )
    return list(db.session.scalars(stmt))


def update_agency(agency: Agency, **fields) -> Agency:
    """Change an agency's editable fields, audited."""
    before = agency.to_dict()
    for name in fields:
        if name not in {
            "name_zh",
            "name_en",
            "has_desk",
            "extension",
            "emails",
            "webhook_url",
            "webhook_secret",
            "active",
            "sort_order",
        }:
            raise InvalidInput(f"Unknown agency field: {name}")
    check_emails(fields.get("emails"))
    check_webhook_url(fields.get("webhook_url", ""))
    for name, value in fields.items():
        setattr(agency, name, value)
    audit.record("agency.update", "agency", agency.code, before, agency.to_dict())
    db.session.flush()
    return agency


def create_agency(code: str, name_zh: str, name_en: str, **fields) -> Agency:
    """Add an agency; the code must be new."""
    if db.session.scalar(select(Agency).where(Agency.code == code)):
        raise InvalidInput(_l("Agency code already exists: %(code)s", code=code))
    check_emails(fields.get("emails"))
    check_webhook_url(fields.get("webhook_url", ""))
    agency = Agency(code=code, name_zh=name_zh, name_en=name_en, **fields)
    db.session.add(agency)
    db.session.flush()
    audit.record("agency.create", "agency", code, None, agency.to_dict())
    return agency


def save_zone(
    code: str, name_zh: str, name_en: str, *, active: bool = True, sort_order: int = 100
) -> Zone:
    """Add a zone or change an existing one's names, order and active flag."""
    zone = db.session.scalar(select(Zone).where(Zone.code == code))
    before = (
        None
        if zone is None
        else {"name_zh": zone.name_zh, "name_en": zone.name_en, "active": zone.active}
    )
    if zone is None:
        zone = Zone(code=code)
        db.session.add(zone)
    zone.name_zh, zone.name_en, zone.active, zone.sort_order = name_zh, name_en, active, sort_order
    audit.record(
        "zone.save",
        "zone",
        code,
        before,
        {"name_zh": name_zh, "name_en": name_en, "active": active},
    )
    db.session.flush()
    return zone


def add_floor(code: str, sort_order: int = 100) -> Floor:
    """Add a floor; its code must be new."""
    if db.session.scalar(select(Floor).where(Floor.code == code)):
        raise InvalidInput(_l("Floor already exists: %(code)s", code=code))
    floor = Floor(code=code, sort_order=sort_order)
    db.session.add(floor)
    audit.record("floor.create", "floor", code, None, {"sort_order": sort_order})
    db.session.flush()
    return floor


def set_floor_active(floor: Floor, active: bool) -> None:
    """Take a floor out of use or back into use."""
    audit.record("floor.update", "floor", floor.code, {"active": floor.active}, {"active": active})
    floor.active = active
    db.session.flush()
