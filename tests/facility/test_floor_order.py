"""Floors are listed in one order everywhere: from the lowest up, B2, B1, 1F … 12F
(models.reference.floors; docs/facility.md "Floors: one order everywhere")."""

import re

from models.reference import floors

LOWEST_UP = ["B2", "B1"] + [f"{n}F" for n in range(1, 13)]


def codes_in(page: str, pattern: str) -> list[str]:
    """The floor codes a page lists, in the order it lists them."""
    return [code for code in re.findall(pattern, page) if code in LOWEST_UP]


def test_floors_are_listed_from_the_lowest_up_on_every_page(app, login_as):
    assert [f.code for f in floors()] == LOWEST_UP
    facility, _user = login_as("facility")
    pages = {
        "/facility/report": r'<option value="([^"]+)"',  # the report form's floor select
        "/facility/tickets": r'<option value="([^"]+)"',  # the ticket filter
        "/facility/rounds/new": r'value="([^"]+)"',  # the floors a round covers
        "/facility/grid": r'<th scope="row">([^<]+)</th>',  # the building grid's rows
    }
    for path, pattern in pages.items():
        page = facility.get(path).get_data(as_text=True)
        assert codes_in(page, pattern) == LOWEST_UP, path
    admin, _user = login_as("admin")
    building = admin.get("/admin/building").get_data(as_text=True)
    assert codes_in(building, r"<span[^>]*>([^<]+)</span>") == LOWEST_UP
