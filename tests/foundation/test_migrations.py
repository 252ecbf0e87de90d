"""The schema comes from the migrations, the same on SQLite and PostgreSQL, with reference data."""

from decimal import Decimal

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from models.core import db
from models.reference import Agency, DefectCategory, Floor, YearTarget, Zone, sla_seconds

DESK_AGENCIES = {
    "health": "衛生局",
    "labor": "勞動局",
    "social-welfare": "社會局",
    "economic-development": "產業局",
    "land-administration": "地政局",
    "civil-affairs": "民政局",
    "commerce": "商業處",
    "songshan-land-office": "松山地政事務所",
    "xinyi-household-registration": "信義戶政事務所",
    "secretariat": "秘書處",
}


def test_migrations_match_the_models(app):
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, db.metadata)
    assert diff == []


def test_reference_data_is_loaded(app):
    desk = {a.code: a.name_zh for a in db.session.scalars(sa.select(Agency).where(Agency.has_desk))}
    assert desk == DESK_AGENCIES
    others = set(db.session.scalars(sa.select(Agency.name_zh).where(~Agency.has_desk)))
    assert {
        "環保局",
        "工務局",
        "交通局",
        "教育局",
        "財政局",
        "都發局",
        "文化局",
        "觀傳局",
        "資訊局",
        "法務局",
        "人事處",
        "主計處",
    } <= others
    zones = list(db.session.scalars(sa.select(Zone.name_zh).order_by(Zone.sort_order)))
    assert zones == ["東北區", "東南區", "西北區", "西南區", "中央北區", "中央南區"]
    floors = list(db.session.scalars(sa.select(Floor.code).order_by(Floor.sort_order)))
    assert floors[0] == "B2" and floors[-1] == "12F" and len(floors) == 14
    categories = {c.code: c.name_zh for c in db.session.scalars(sa.select(DefectCategory))}
    assert categories == {
        "corridor": "淨空走道",
        "facility": "設施正常",
        "cleanliness": "環境整潔",
        "ceiling_floor": "天地無虞",
    }
    targets = {t.year: t.dispatch_target for t in db.session.scalars(sa.select(YearTarget))}
    assert targets == {2023: Decimal("85"), 2024: Decimal("87")}
    assert sla_seconds() == 600


def test_db_upgrade_command_builds_a_fresh_sqlite_database(tmp_path, monkeypatch):
    from webapp.cli import cli

    monkeypatch.setenv("CITYDESK_INSTANCE_PATH", str(tmp_path))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    from click.testing import CliRunner

    result = CliRunner().invoke(cli, ["db", "upgrade"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    engine = sa.create_engine(f"sqlite:///{tmp_path}/citydesk.sqlite3")
    with engine.connect() as conn:
        assert conn.execute(sa.text("select count(*) from agency where has_desk")).scalar() == 10
    engine.dispose()
