"""Facility input rules: every text goes through `models.core.text.clean_text` (NUL refused,
never stripped), and the categories' one order."""

import pytest
from sqlalchemy import select

from models import facility as fac
from models.core import db
from models.core.errors import InvalidInput
from models.facility import Defect
from tests.facility.support import events, move, new_ticket, to_fixed, upload

pytestmark = pytest.mark.usefixtures("english")


@pytest.mark.parametrize(
    "field",
    ["description", "location", "added report", "fix note", "reopen reason"],
)
def test_facility_text_refuses_nul_characters(people, field):
    """One text rule (models.core.text.clean_text): NUL is refused naming the field, never
    stripped, and nothing is stored."""
    bad = "燈管\x00閃爍"
    if field in ("description", "location"):
        with pytest.raises(InvalidInput, match=field.capitalize()):
            new_ticket(people["clerk"], **{field: bad})
        db.session.rollback()
        assert db.session.scalar(select(Defect.id)) is None
        return
    defect = new_ticket(people["clerk"])
    before = events(defect)
    if field == "added report":
        with pytest.raises(InvalidInput, match="Description"):
            fac.add_report(
                defect,
                by=people["agency"],
                category=defect.category,
                zone=defect.zone,
                floor=defect.floor,
                description=bad,
            )
    elif field == "fix note":
        move(defect, people["tech"], "assign", assignee=people["tech"])
        move(defect, people["tech"], "start")
        before = events(defect)
        with pytest.raises(InvalidInput, match="Note"):
            fac.fix(defect, by=people["tech"], note=bad, uploads=[upload()])
    else:
        to_fixed(defect, people)
        before = events(defect)
        with pytest.raises(InvalidInput, match="Reason"):
            fac.reopen(defect, by=people["clerk"], reason=bad)
    db.session.rollback()
    assert events(defect) == before


def test_categories_are_listed_in_the_design_order():
    from models.reference import CATEGORY_CODES

    assert CATEGORY_CODES == ("corridor", "facility", "cleanliness", "ceiling_floor")
    assert [c.code for c in fac.categories()] == list(CATEGORY_CODES)
    # the order is the codes', not the editable sort order
    fac.category_by_code("corridor").sort_order = 99
    db.session.flush()
    assert [c.code for c in fac.categories()] == list(CATEGORY_CODES)
