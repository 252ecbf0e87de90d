"""Reference data every CityDesk database starts with; loaded by the data migration 0002.

Seeding only adds what is missing (by code), so an administrator's edits survive upgrades.
"""

from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.engine import Connection

# (code, 中文名, English name, keeps a desk in the service centre, extension)
AGENCIES = [
    ("health", "衛生局", "Department of Health", True, "1101"),
    ("labor", "勞動局", "Department of Labor", True, "1102"),
    ("social-welfare", "社會局", "Department of Social Welfare", True, "1103"),
    ("economic-development", "產業局", "Department of Economic Development", True, "1104"),
    ("land-administration", "地政局", "Department of Land Administration", True, "1105"),
    ("civil-affairs", "民政局", "Department of Civil Affairs", True, "1106"),
    ("commerce", "商業處", "Commerce Office", True, "1107"),
    ("songshan-land-office", "松山地政事務所", "Songshan Land Office", True, "1108"),
    (
        "xinyi-household-registration",
        "信義戶政事務所",
        "Xinyi Household Registration Office",
        True,
        "1109",
    ),
    ("secretariat", "秘書處", "Secretariat", True, "1110"),
    ("environmental-protection", "環保局", "Department of Environmental Protection", False, ""),
    ("public-works", "工務局", "Public Works Department", False, ""),
    ("transportation", "交通局", "Department of Transportation", False, ""),
    ("education", "教育局", "Department of Education", False, ""),
    ("finance", "財政局", "Department of Finance", False, ""),
    ("urban-development", "都發局", "Department of Urban Development", False, ""),
    ("cultural-affairs", "文化局", "Department of Cultural Affairs", False, ""),
    ("information-tourism", "觀傳局", "Department of Information and Tourism", False, ""),
    ("information-technology", "資訊局", "Department of Information Technology", False, ""),
    ("legal-affairs", "法務局", "Department of Legal Affairs", False, ""),
    ("personnel", "人事處", "Department of Personnel", False, ""),
    (
        "budget-accounting-statistics",
        "主計處",
        "Department of Budget, Accounting and Statistics",
        False,
        "",
    ),
    ("military-service", "兵役局", "Department of Military Service", False, ""),
    ("indigenous-peoples", "原民會", "Indigenous Peoples Commission", False, ""),
    ("hakka-affairs", "客委會", "Hakka Affairs Commission", False, ""),
    (
        "research-development-evaluation",
        "研考會",
        "Research, Development and Evaluation Commission",
        False,
        "",
    ),
    ("civil-service-ethics", "政風處", "Department of Civil Service Ethics", False, ""),
]

ZONES = [
    ("northeast", "東北區", "Northeast"),
    ("southeast", "東南區", "Southeast"),
    ("northwest", "西北區", "Northwest"),
    ("southwest", "西南區", "Southwest"),
    ("central-north", "中央北區", "Central North"),
    ("central-south", "中央南區", "Central South"),
]

FLOORS = ["B2", "B1"] + [f"{n}F" for n in range(1, 13)]

# (code, 中文名, English name, due in working days)
CATEGORIES = [
    ("corridor", "淨空走道", "Clear corridors", 1),
    ("facility", "設施正常", "Facilities in order", 7),
    ("cleanliness", "環境整潔", "Clean environment", 1),
    ("ceiling_floor", "天地無虞", "Safe ceilings and floors", 3),
]

TARGETS = {2023: Decimal("85"), 2024: Decimal("87")}

# Why a dispatch was late (models.dispatch.late): (code, 中文, English); `other` stays last.
LATE_REASONS = [
    ("away", "承辦人外出", "Away from the office"),
    ("not_reached", "未接到通知", "Notice not received"),
    ("short_staffed", "人力不足", "Short-staffed"),
    ("needs_records", "需調閱資料", "Needed to pull records"),
    ("other", "其他", "Other"),
]


# The reference tables as plain tables, not the ORM models: the data migrations call this
# module, which must keep working whatever columns later migrations add (give those server
# defaults).
AGENCY_COLUMNS = (
    "code",
    "name_zh",
    "name_en",
    "has_desk",
    "extension",
    "emails",
    "webhook_url",
    "webhook_secret",
    "active",
    "sort_order",
)
AGENCY_TABLE = sa.table("agency", *(sa.column(c) for c in AGENCY_COLUMNS))
ZONE_TABLE = sa.table(
    "zone", *(sa.column(c) for c in ("code", "name_zh", "name_en", "active", "sort_order"))
)
FLOOR_TABLE = sa.table("floor", *(sa.column(c) for c in ("code", "active", "sort_order")))
CATEGORY_TABLE = sa.table(
    "defect_category",
    *(sa.column(c) for c in ("code", "name_zh", "name_en", "due_working_days", "sort_order")),
)
TARGET_TABLE = sa.table(
    "year_target", sa.column("year"), sa.column("dispatch_target", sa.Numeric(7, 2))
)
LATE_REASON_TABLE = sa.table(
    "late_reason", *(sa.column(c) for c in ("code", "label_zh", "label_en", "active", "sort_order"))
)


# An agency has no webhook secret until an administrator sets one (an empty string, not a
# hard-coded password).
NO_WEBHOOK_SECRET = ""  # nosec B105


def _agency_rows() -> list[dict]:
    """The seeded agencies as rows of the agency table, in their order."""
    return [
        {
            "code": code,
            "name_zh": zh,
            "name_en": en,
            "has_desk": desk,
            "extension": ext,
            "emails": "",
            "webhook_url": "",
            "webhook_secret": NO_WEBHOOK_SECRET,
            "active": True,
            "sort_order": order,
        }
        for order, (code, zh, en, desk, ext) in enumerate(AGENCIES)
    ]


def _zone_rows() -> list[dict]:
    """The seeded zones as rows of the zone table, in their order."""
    return [
        {"code": code, "name_zh": zh, "name_en": en, "active": True, "sort_order": order}
        for order, (code, zh, en) in enumerate(ZONES)
    ]


def _floor_rows() -> list[dict]:
    """The seeded floors as rows of the floor table, in their order."""
    return [
        {"code": code, "active": True, "sort_order": order} for order, code in enumerate(FLOORS)
    ]


def _category_rows() -> list[dict]:
    """The seeded defect categories as rows of the defect_category table, in their order."""
    return [
        {"code": code, "name_zh": zh, "name_en": en, "due_working_days": days, "sort_order": order}
        for order, (code, zh, en, days) in enumerate(CATEGORIES)
    ]


def _target_rows() -> list[dict]:
    """The seeded on-time targets as rows of the year_target table."""
    return [{"year": year, "dispatch_target": value} for year, value in TARGETS.items()]


def _insert_missing(connection: Connection, table, key: str, rows: list[dict]) -> None:
    """Insert the rows whose `key` is not in `table` yet; never changes existing ones."""
    have = set(connection.scalars(sa.select(table.c[key])))
    fresh = [row for row in rows if row[key] not in have]
    if fresh:
        connection.execute(table.insert(), fresh)


def seed_reference_data(connection: Connection) -> None:
    """Insert whatever reference rows are missing; never changes existing ones."""
    _insert_missing(connection, AGENCY_TABLE, "code", _agency_rows())
    _insert_missing(connection, ZONE_TABLE, "code", _zone_rows())
    _insert_missing(connection, FLOOR_TABLE, "code", _floor_rows())
    _insert_missing(connection, CATEGORY_TABLE, "code", _category_rows())
    _insert_missing(connection, TARGET_TABLE, "year", _target_rows())
    seed_late_reasons(connection)
    from models.workdays import seed_calendar

    seed_calendar(connection)  # the Taiwan working-day calendar (once its tables exist)


def seed_late_reasons(connection: Connection) -> None:
    """Insert the late reasons that are missing (by code); never changes existing ones. Does
    nothing before their table exists (migration 0015 makes it)."""
    if not sa.inspect(connection).has_table("late_reason"):
        return
    rows = [
        {"code": code, "label_zh": zh, "label_en": en, "active": True, "sort_order": 10 * n}
        for n, (code, zh, en) in enumerate(LATE_REASONS, start=1)
    ]
    _insert_missing(connection, LATE_REASON_TABLE, "code", rows)
