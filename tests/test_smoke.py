from models.reference import Agency
from models import db
import sqlalchemy as sa


def test_seeded_agencies(app):
    codes = set(db.session.scalars(sa.select(Agency.code).where(Agency.has_desk)))
    assert len(codes) == 10
