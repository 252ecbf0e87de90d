"""Huge, negative and non-numeric page numbers and far dates in the address: every list page
shows its last page (or an empty one) and every API list answers 200 or 422, never a 500."""

import pytest

from models.core import clock

HUGE = "9223372036854775807"
YEAR = clock.today().year

# (role, path, a text the list shows when it is on its last page, or None)
PAGES = [
    ("clerk", "/desk/dispatches", "低收入戶補助申請"),
    ("agency_a", "/agency/history", "低收入戶補助申請"),
    ("agency_a", "/notifications", None),
    ("admin", "/admin/audit", None),
    ("admin", "/admin/jobs/", None),
    ("facility", "/facility/tickets", "燈管閃爍"),
    ("clerk", "/facility/mine", "燈管閃爍"),
    ("supervisor", f"/reports/{YEAR}/dispatches", None),
    ("supervisor", f"/reports/{YEAR}/defects", None),
    ("supervisor", f"/reports/{YEAR}/rounds", None),
]
APIS = [
    ("clerk", "/api/v1/dispatches"),
    ("facility", "/api/v1/defects"),
    ("facility", "/api/v1/rounds"),
]
BAD_PAGES = [HUGE, "-" + HUGE, "-1", "0", "x", "1e9", HUGE + "0"]


@pytest.mark.parametrize("page", BAD_PAGES)
@pytest.mark.parametrize(("role", "path", "shown"), PAGES, ids=[p for _r, p, _s in PAGES])
def test_a_list_page_with_any_page_number_shows_a_page(signed_in, role, path, shown, page):
    response = signed_in(role).get(f"{path}?page={page}")
    assert response.status_code == 200, response.get_data(as_text=True)[:2000]
    if shown is not None:
        assert shown in response.get_data(as_text=True)  # the last (only) page, not an empty one


@pytest.mark.parametrize("page", BAD_PAGES)
@pytest.mark.parametrize(("role", "path"), APIS, ids=[p for _r, p in APIS])
def test_an_api_list_with_any_page_number_answers_200_or_422(signed_in, role, path, page):
    response = signed_in(role).get(f"{path}?page={page}")
    assert response.status_code in (200, 422), response.get_data(as_text=True)[:2000]
    if response.status_code == 422:
        assert "page" in response.get_json()["fields"]["query"]


FAR = ["9999-12-31", "0001-01-01", "1000-01-01"]
DATE_PAGES = [
    ("clerk", "/desk/dispatches", "end"),
    ("clerk", "/desk/dispatches", "start"),
    ("agency_a", "/agency/history", "end"),
    ("facility", "/facility/tickets", "found_from"),
    ("facility", "/facility/tickets", "found_to"),
]


@pytest.mark.parametrize("day", FAR)
@pytest.mark.parametrize(("role", "path", "name"), DATE_PAGES)
def test_a_far_date_on_a_list_page_is_a_form_error(signed_in, role, path, name, day):
    response = signed_in(role).get(f"{path}?{name}={day}&page={HUGE}")
    assert response.status_code == 200, response.get_data(as_text=True)[:2000]
    text = response.get_data(as_text=True)
    assert "1990-01-01" in text and "2200-12-31" in text  # the form error, in any language


DATE_APIS = [
    ("clerk", "/api/v1/dispatches", "to"),
    ("clerk", "/api/v1/dispatches", "from"),
    ("facility", "/api/v1/defects", "found_from"),
    ("facility", "/api/v1/defects", "found_to"),
    ("facility", "/api/v1/rounds", "started_from"),
    ("facility", "/api/v1/rounds", "started_to"),
]


# Only the dispatch list's filters take an instant as well as a day.
FAR_INSTANTS = ["9999-12-31T23:59:59.999999", "0001-01-01T00:00"]
DATE_API_CASES = [(*api, day) for api in DATE_APIS for day in FAR] + [
    (*api, day) for api in DATE_APIS if api[2] in ("from", "to") for day in FAR_INSTANTS
]


@pytest.mark.parametrize(("role", "path", "name", "day"), DATE_API_CASES)
def test_a_far_date_in_an_api_list_is_a_422(signed_in, role, path, name, day):
    response = signed_in(role).get(f"{path}?{name}={day}")
    assert response.status_code == 422, response.get_data(as_text=True)[:2000]
    body = response.get_json()
    assert "1990-01-01" in str(body["fields"]), body
