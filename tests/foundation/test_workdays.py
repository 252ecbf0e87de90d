from datetime import date

from models.workdays import add_working_days, is_working_day, working_days_between


def test_friday_plus_one_working_day_is_monday():
    friday = date(2024, 3, 8)
    assert not is_working_day(date(2024, 3, 9))
    assert add_working_days(friday, 1) == date(2024, 3, 11)
    assert working_days_between(friday, date(2024, 3, 11)) == 1
    assert working_days_between(friday, friday) == 0
