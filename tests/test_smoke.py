import sqlalchemy as sa

from models import db
from models.reference import Agency


def test_seeded_agencies(app):
    codes = set(db.session.scalars(sa.select(Agency.code).where(Agency.has_desk)))
    assert len(codes) == 10
