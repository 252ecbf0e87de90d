"""The shared text, id and day rules (models.core.text, models.core.clock.day_bounds): one
rule each, used by every area."""

from datetime import UTC, date, datetime

import pytest

from models.core import clock
from models.core.errors import InvalidInput
from models.core.text import MAX_ID, clean_text, get_by_id, is_valid_id
from models.users import User


@pytest.mark.parametrize("text", ["紙箱\x00擋住", "\x00", "lone \ud800 surrogate"])
def test_text_that_cannot_be_stored_is_refused_not_stripped(text):
    with pytest.raises(InvalidInput, match="Note"):
        clean_text(text, "Note", limit=100)


def test_text_is_trimmed_and_bounded():
    assert clean_text("  燈管閃爍 \u3000", "Note", limit=4) == "燈管閃爍"
    with pytest.raises(InvalidInput, match="Note.*3"):
        clean_text("燈管閃爍", "Note", limit=3)
    with pytest.raises(InvalidInput, match="Note"):
        clean_text("   ", "Note", limit=3, required=True)
    assert clean_text(None, "Note", limit=3) == ""


def test_calendar_day_names_follow_the_text_rule():
    from models.workdays import set_day

    with pytest.raises(InvalidInput):
        set_day(date(2024, 10, 2), working=False, name="颱風\x00停班")


def test_ids_are_positive_32_bit_integers(create_user):
    user = create_user(role="clerk")
    assert get_by_id(User, user.id) == user
    assert [is_valid_id(v) for v in (1, MAX_ID, 0, -1, MAX_ID + 1, True, "1")] == [
        True,
        True,
        False,
        False,
        False,
        False,
        False,
    ]
    assert get_by_id(User, MAX_ID + 1) is None


def test_a_taipei_day_runs_from_its_midnight_and_far_dates_are_clamped():
    start, end = clock.day_bounds(date(2024, 1, 1))
    assert (start, end) == (
        datetime(2023, 12, 31, 16, tzinfo=UTC),
        datetime(2024, 1, 1, 16, tzinfo=UTC),
    )
    assert clock.day_bounds(date(9999, 12, 31)) == clock.day_bounds(clock.LAST_DAY)
    assert clock.day_bounds(date(1, 1, 1)) == clock.day_bounds(clock.FIRST_DAY)
