"""The facility JSON API: every endpoint's permissions and error statuses."""

from datetime import datetime

import pytest
from sqlalchemy import select

from models import facility as fac
from models.core import clock, db
from tests.facility.support import (
    as_user,
    image_bytes,
    move,
    new_ticket,
    upload,
)


def error_of(response, status, code=None):
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert body["message"]
    if code:
        assert body["error"] == code
    return body


PLACE = {"category": "corridor", "zone": "northeast", "floor": "3F"}
NEW = {
    "category": "corridor",
    "zone": "northeast",
    "floor": "3F",
    "location": "樓梯",
    "description": "紙箱",
}

ENDPOINTS = [
    ("get", "/defects"),
    ("post", "/defects"),
    ("get", "/defects/similar?zone=northeast&floor=1F&category=corridor"),
    ("get", "/defects/1"),
    ("post", "/defects/1/reports"),
    ("post", "/defects/1/assign"),
    ("post", "/defects/1/start"),
    ("post", "/defects/1/fix"),
    ("post", "/defects/1/verify"),
    ("post", "/defects/1/reopen"),
    ("post", "/defects/1/photos"),
    ("get", "/rounds"),
    ("get", "/rounds/schedule"),
    ("post", "/rounds/1/checks"),
    ("post", "/rounds/1/findings"),
]


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_every_endpoint_needs_sign_in(client, method, path):
    response = getattr(client, method)("/api/v1" + path)
    error_of(response, 401, "unauthorized")
    bad_token = getattr(client, method)(
        "/api/v1" + path, headers={"Authorization": "Bearer cd_nope"}
    )
    error_of(bad_token, 401, "unauthorized")


def test_every_endpoint_is_documented_with_its_errors(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    for method, path in ENDPOINTS:
        template = path.split("?")[0].replace("/defects/1", "/defects/{defect_id}")
        template = template.replace("/rounds/1", "/rounds/{round_id}")
        operation = spec["paths"]["/api/v1" + template][method]
        assert "401" in operation["responses"], path
    fix = spec["paths"]["/api/v1/defects/{defect_id}/fix"]["post"]["responses"]
    assert {"403", "404", "409", "422"} <= set(fix)
    photos = spec["paths"]["/api/v1/defects/{defect_id}/photos"]["post"]["responses"]
    assert "413" in photos


def test_create_and_read(api):
    clerk = api("clerk")
    response = clerk.post("/defects", NEW)
    assert response.status_code == 201
    body = response.get_json()
    assert body["state"] == "reported" and body["reported_by"] == clerk.user.username
    assert body["category"] == "corridor" and body["due_on"]
    assert [e["action"] for e in body["events"]] == ["reported"]
    assert clerk.get(f"/defects/{body['id']}").get_json()["id"] == body["id"]
    # another clerk cannot see it; staff can
    error_of(api("clerk").get(f"/defects/{body['id']}"), 404, "not_found")
    assert api("facility").get(f"/defects/{body['id']}").status_code == 200
    error_of(clerk.get("/defects/9999"), 404)


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({**NEW, "description": ""}, 422, "invalid"),
        ({**NEW, "description": "  \u3000\x00 "}, 422, "invalid"),
        ({k: v for k, v in NEW.items() if k != "zone"}, 422, "invalid"),
        ({**NEW, "category": "plumbing"}, 422, "invalid"),
        ({**NEW, "zone": "at lan tis"}, 422, "invalid"),
        ({**NEW, "zone": "atlantis"}, 404, "not_found"),  # a well-formed code, but no such zone
        ({**NEW, "floor": "99F"}, 404, "not_found"),
        ([], 422, "invalid"),
    ],
)
def test_create_refuses_bad_input(api, body, status, code):
    clerk = api("clerk")
    error_of(clerk.post("/defects", body), status, code)
    assert db.session.scalar(select(fac.Defect.id)) is None


def test_nul_characters_are_refused_and_nothing_is_stored(api):
    """One text rule (models.core.text): NUL is refused with a message, never stripped."""
    clerk = api("clerk")
    body = {**NEW, "description": "紙箱\x00擋住", "location": "\x00東側"}
    error_of(clerk.post("/defects", body), 422, "invalid")
    assert db.session.scalar(select(fac.Defect.id)) is None


def test_malformed_json_is_a_400(api):
    clerk = api("clerk")
    response = clerk.client.post(
        "/api/v1/defects", headers=clerk.headers, data="{oops", content_type="application/json"
    )
    error_of(response, 400)


def test_list_and_filters(api, frozen_clock):
    clerk, agency, staff = api("clerk"), api("agency"), api("facility")
    a = clerk.post("/defects", NEW).get_json()["id"]
    clock.advance(days=3)
    b = agency.post("/defects", {**NEW, "category": "facility", "zone": "southwest"}).get_json()
    ids = lambda who, q="": [d["id"] for d in who.get("/defects" + q).get_json()["items"]]  # noqa: E731
    assert ids(staff) == [a, b["id"]]
    assert ids(clerk) == [a] and ids(agency) == [b["id"]]
    assert ids(staff, "?category=facility") == [b["id"]]
    assert ids(staff, "?zone=northeast&floor=3F&state=open&source=report") == [a]
    assert ids(staff, "?overdue=true") == [a]
    assert ids(staff, "?found_from=2024-03-05") == [b["id"]]
    assert ids(staff, "?assignee=none") == [a, b["id"]]
    page = staff.get("/defects?per_page=1&page=2").get_json()
    assert (page["total"], [d["id"] for d in page["items"]]) == (2, [b["id"]])
    for bad in ("?state=lost", "?per_page=0", "?found_from=yesterday", "?zone=a%20b", "?page=0"):
        error_of(staff.get("/defects" + bad), 422, "invalid")
    # filters that name nothing, or a range that ends before it starts, match nothing
    for empty in (
        "?zone=atlantis",
        "?assignee=nobody",
        "?found_from=2024-03-09&found_to=2024-03-01",
        "?found_from=1990-01-01&found_to=1990-01-02",
    ):
        assert ids(staff, empty) == [], empty
    assert ids(staff, "?found_from=1990-01-01&found_to=2200-12-31") == [a, b["id"]]
    # a day no record can lie on is refused (tests/security/test_page_bounds.py)
    error_of(staff.get("/defects?found_to=9999-12-31"), 422)


def test_similar_open_tickets(api):
    clerk = api("clerk")
    first = clerk.post("/defects", NEW).get_json()["id"]
    other = api("agency")
    found = other.get("/defects/similar?zone=northeast&floor=3F&category=corridor").get_json()
    assert [i["id"] for i in found["items"]] == [first]
    none = other.get("/defects/similar?zone=northeast&floor=3F&category=facility").get_json()
    assert none["items"] == []
    error_of(other.get("/defects/similar?zone=northeast"), 422)
    error_of(other.get("/defects/similar?zone=northeast&floor=3F&category=plumbing"), 422)
    nowhere = other.get("/defects/similar?zone=x&floor=3F&category=corridor")
    assert nowhere.status_code == 200 and nowhere.get_json()["items"] == []


def test_add_a_report_to_an_open_ticket(api):
    clerk, other, staff = api("clerk"), api("agency"), api("facility")
    ticket = clerk.post("/defects", NEW).get_json()["id"]
    response = other.post(f"/defects/{ticket}/reports", {**PLACE, "description": "還在"})
    assert response.status_code == 201
    assert [e["action"] for e in response.get_json()["events"]] == ["reported", "report_added"]
    assert other.get(f"/defects/{ticket}").status_code == 200  # now one of theirs
    error_of(other.post(f"/defects/{ticket}/reports", {**PLACE, "description": ""}), 422)
    error_of(other.post("/defects/9999/reports", {**PLACE, "description": "x"}), 404)
    # once closed, a report cannot be added
    staff.post(f"/defects/{ticket}/assign", {})
    staff.post(f"/defects/{ticket}/start")
    staff.upload(f"/defects/{ticket}/photos?kind=after", [("after.jpg", image_bytes())])
    staff.post(f"/defects/{ticket}/fix", {"note": "ok"})
    error_of(
        other.post(f"/defects/{ticket}/reports", {**PLACE, "description": "x"}), 409, "conflict"
    )


def test_every_move_and_its_refusals(api):
    clerk, staff, staff2, boss = api("clerk"), api("facility"), api("facility"), api("supervisor")
    ticket = clerk.post("/defects", NEW).get_json()["id"]
    url = f"/defects/{ticket}"

    # assign: managers only; to a manager; not twice into a closed ticket
    error_of(clerk.post(f"{url}/assign", {}), 403, "forbidden")
    error_of(staff.post(f"{url}/assign", {"assignee": "nobody"}), 404)
    error_of(staff.post(f"{url}/assign", {"assignee": clerk.user.username}), 422)
    error_of(staff.post("/defects/9999/assign", {}), 404)
    error_of(staff.post("/defects/99999999999/assign", {}), 404)
    # start before assignment: conflict
    error_of(staff.post(f"{url}/start"), 409, "conflict")
    body = staff.post(f"{url}/assign", {}).get_json()
    assert (body["state"], body["assignee"]) == ("assigned", staff.user.username)
    body = boss.post(f"{url}/assign", {"assignee": staff2.user.username}).get_json()
    assert body["assignee"] == staff2.user.username

    # start
    error_of(clerk.post(f"{url}/start"), 403)
    assert staff2.post(f"{url}/start").get_json()["state"] == "in_progress"
    error_of(staff2.post(f"{url}/start"), 409)

    # fix: note and after photo required
    error_of(clerk.post(f"{url}/fix", {"note": "x"}), 403)
    error_of(staff2.post(f"{url}/fix", {}), 422)
    error_of(staff2.post(f"{url}/fix", {"note": " "}), 422)
    error_of(staff2.post(f"{url}/fix", {"note": "done"}), 409)  # no after photo uploaded yet
    assert staff2.get(url).get_json()["state"] == "in_progress"
    response = staff2.upload(f"{url}/photos?kind=after", [("after.jpg", image_bytes())])
    assert response.status_code == 201 and response.get_json()["items"][0]["kind"] == "after"
    body = staff2.post(f"{url}/fix", {"note": "換新"}).get_json()
    assert body["state"] == "fixed" and body["fix_note"] == "換新"
    error_of(staff2.post(f"{url}/fix", {"note": "again"}), 409)

    # verify: the reporter or a supervisor, never the fixer
    error_of(staff.post(f"{url}/verify"), 403)
    error_of(staff2.post(f"{url}/verify"), 403)
    error_of(api("clerk").post(f"{url}/verify"), 404)  # not theirs to see
    body = clerk.post(f"{url}/verify").get_json()
    assert body["state"] == "verified" and body["verified_by"] == clerk.user.username
    error_of(boss.post(f"{url}/verify"), 409)

    # reopen: with a reason; managers or the reporter
    error_of(boss.post(f"{url}/reopen", {"reason": ""}), 422)
    error_of(boss.post(f"{url}/reopen", {}), 422)
    assert boss.post(f"{url}/reopen", {"reason": "漏水"}).get_json()["state"] == "in_progress"
    error_of(boss.post(f"{url}/reopen", {"reason": "again"}), 409)

    events = [e["action"] for e in boss.get(url).get_json()["events"]]
    assert events == [
        "reported",
        "assigned",
        "assigned",
        "started",
        "fixed",
        "verified",
        "reopened",
    ]


def test_reopen_by_someone_who_only_added_a_report_is_forbidden(api):
    clerk, other, staff = api("clerk"), api("agency"), api("facility")
    ticket = clerk.post("/defects", NEW).get_json()["id"]
    other.post(f"/defects/{ticket}/reports", {**PLACE, "description": "我也看到"})
    staff.post(f"/defects/{ticket}/assign", {})
    staff.post(f"/defects/{ticket}/start")
    staff.upload(f"/defects/{ticket}/photos?kind=after", [("a.jpg", image_bytes())])
    staff.post(f"/defects/{ticket}/fix", {"note": "ok"})
    error_of(other.post(f"/defects/{ticket}/reopen", {"reason": "no"}), 403)
    error_of(other.post(f"/defects/{ticket}/verify"), 403)


def test_photo_uploads(api, app):
    clerk, staff = api("clerk"), api("facility")
    ticket = clerk.post("/defects", NEW).get_json()["id"]
    url = f"/defects/{ticket}/photos"
    response = clerk.upload(url, [("a.png", image_bytes("PNG")), ("b.webp", image_bytes("WEBP"))])
    assert response.status_code == 201
    assert [p["format"] for p in response.get_json()["items"]] == ["PNG", "WEBP"]
    heic = clerk.upload(url, [("phone.heic", image_bytes("HEIF"))])
    assert heic.status_code == 201 and heic.get_json()["items"][0]["format"] == "HEIF"
    body = error_of(clerk.upload(url, [("fake.jpg", b"%PDF-1.4 not an image")]), 422)
    assert "fake.jpg" in body["message"]
    big = image_bytes() + b"\0" * (10 * 1024 * 1024)
    body = error_of(clerk.upload(url, [("big.jpg", big)]), 413, "too_large")
    assert "big.jpg" in body["message"] and "10" in body["message"]
    error_of(clerk.upload(url, []), 422)
    error_of(clerk.upload(url + "?kind=sideways", [("a.jpg", image_bytes())]), 422)
    error_of(clerk.upload(url + "?kind=after", [("a.jpg", image_bytes())]), 403)
    error_of(staff.upload(url + "?kind=after", [("a.jpg", image_bytes())]), 409)  # not started
    error_of(api("clerk").upload(url, [("a.jpg", image_bytes())]), 404)
    too_many = [(f"{i}.jpg", image_bytes()) for i in range(7)]
    error_of(clerk.upload(url, too_many), 422)
    photos = clerk.get(f"/defects/{ticket}").get_json()["photos"]
    assert len(photos) == 3  # the refused uploads stored nothing
    with clerk.client.get(photos[0]["thumb_url"], headers=clerk.headers) as thumb:
        assert thumb.status_code == 200 and thumb.mimetype == "image/jpeg"


def test_rounds_list_and_schedule(api, frozen_clock):
    staff, clerk = api("facility"), api("clerk")
    tech = staff.user
    with as_user(tech):
        fac.set_plan(fac.zone_by_code("northeast"), 7)
        inspection = fac.start_round(
            fac.zone_by_code("northeast"), [fac.floor_by_code("1F")], by=tech
        )
        for category in fac.categories():
            if category.code == "corridor":
                fac.record_finding(
                    inspection,
                    fac.floor_by_code("1F"),
                    category,
                    by=tech,
                    location="",
                    description="擋住",
                    uploads=[upload()],
                )
            else:
                fac.mark_no_defect(inspection, fac.floor_by_code("1F"), category, by=tech)
        fac.finish_round(inspection, by=tech)
        db.session.commit()
    body = staff.get("/rounds").get_json()
    [item] = body["items"]
    assert item["zone"] == "northeast" and item["floors"] == ["1F"]
    assert sorted(c["result"] for c in item["checks"]) == ["defects", "ok", "ok", "ok"]
    assert len(item["findings"]) == 1 and item["finished_at"]
    assert staff.get("/rounds?zone=southwest").get_json()["items"] == []
    assert len(staff.get("/rounds?started_from=2024-03-04&finished=true").get_json()["items"]) == 1
    assert staff.get("/rounds?started_to=2024-03-03").get_json()["items"] == []
    error_of(staff.get("/rounds?started_from=soon"), 422)
    assert staff.get("/rounds?zone=atlantis").get_json()["items"] == []
    error_of(clerk.get("/rounds"), 403)
    schedule = {s["zone"]: s for s in staff.get("/rounds/schedule").get_json()["items"]}
    assert schedule["northeast"]["status"] == "ok" and schedule["northeast"]["due_on"]
    assert schedule["southwest"]["status"] == "no_plan"
    error_of(clerk.get("/rounds/schedule"), 403)


def test_session_clients_need_the_csrf_token(csrf_app, create_user):
    from tests.conftest import csrf_token, login

    user = create_user(role="clerk")
    client = csrf_app.test_client()
    login(client, user.username, csrf=True)
    error_of(client.post("/api/v1/defects", json=NEW), 400)
    token = csrf_token(client, "/facility/report")
    response = client.post("/api/v1/defects", json=NEW, headers={"X-CSRFToken": token})
    assert response.status_code == 201


def test_overdue_shows_in_the_api(api, frozen_clock):
    clerk = api("clerk")
    clock.freeze(datetime(2024, 3, 4, 9, 0, tzinfo=clock.TAIPEI))
    ticket = clerk.post("/defects", NEW).get_json()
    assert ticket["overdue"] is False and ticket["due_on"] == "2024-03-05"
    clock.freeze(datetime(2024, 3, 6, 9, 0, tzinfo=clock.TAIPEI))
    assert clerk.get(f"/defects/{ticket['id']}").get_json()["overdue"] is True


def test_moves_made_outside_the_api_show_in_it(api, create_user):
    clerk = api("clerk")
    defect = new_ticket(clerk.user)
    tech = create_user(role="facility")
    move(defect, tech, "assign", assignee=tech)
    body = clerk.get(f"/defects/{defect.id}").get_json()
    assert body["assignee"] == tech.username and body["moves"] == ["photo"]


def test_a_co_reporter_sees_only_their_own_part_of_the_ticket(api):
    """Issue 12: the API shows another reporter as null, without their note or photos."""
    clerk, other, staff = api("clerk"), api("agency"), api("facility")
    ticket = clerk.post("/defects", NEW).get_json()["id"]
    first_upload = clerk.upload(f"/defects/{ticket}/photos", [("a.jpg", image_bytes())])
    [first_photo] = [p["id"] for p in first_upload.get_json()["items"]]
    added = other.post(f"/defects/{ticket}/reports", {**PLACE, "description": "我也看到"})
    assert added.status_code == 201
    own_upload = other.upload(f"/defects/{ticket}/photos", [("b.jpg", image_bytes())])
    [own_photo] = [p["id"] for p in own_upload.get_json()["items"]]

    seen = other.get(f"/defects/{ticket}").get_json()
    assert seen["reported_by"] is None and seen["description"] == NEW["description"]
    by = {e["action"]: (e["by"], e["note"]) for e in seen["events"]}
    assert by["reported"] == (None, "")
    assert by["report_added"] == (other.user.username, "我也看到")
    assert [p["id"] for p in seen["photos"]] == [own_photo]

    first = clerk.get(f"/defects/{ticket}").get_json()
    assert first["reported_by"] == clerk.user.username
    [joined] = [e for e in first["events"] if e["action"] == "report_added"]
    assert (joined["by"], joined["note"]) == (None, "")
    assert [p["id"] for p in first["photos"]] == [first_photo]

    full = staff.get(f"/defects/{ticket}").get_json()
    assert full["reported_by"] == clerk.user.username
    assert {p["id"] for p in full["photos"]} == {first_photo, own_photo}
    assert other.user.username in {e["by"] for e in full["events"]}


def test_a_report_names_the_tickets_place_or_joins_nothing(api):
    """Issue 12: a ticket number with another place answers 404 and adds nothing."""
    clerk, other = api("clerk"), api("agency")
    ticket = clerk.post("/defects", NEW).get_json()["id"]
    for elsewhere in ({"floor": "1F"}, {"category": "facility"}, {"zone": "southwest"}):
        body = {**PLACE, **elsewhere, "description": "我也看到"}
        error_of(other.post(f"/defects/{ticket}/reports", body), 404)
    error_of(other.post(f"/defects/{ticket}/reports", {"description": "我也看到"}), 422)
    error_of(other.get(f"/defects/{ticket}"), 404)
    events = clerk.get(f"/defects/{ticket}").get_json()["events"]
    assert [e["action"] for e in events] == ["reported"]
