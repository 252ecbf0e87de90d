"""The JSON API for visits and dispatches: every endpoint, its permissions and its errors."""

from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from models.core import clock, db
from models.core.outbox import Notification
from models.dispatch import Dispatch, Visit
from tests.conftest import csrf_token, login
from tests.dispatch.conftest import NEW_VISIT


def assert_error(response, status: int, error: str | None = None):
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) >= {"error", "message"}
    assert isinstance(body["message"], str) and body["message"]
    if error:
        assert body["error"] == error
    return body


# --- POST /visits ------------------------------------------------------------------------


def test_post_visit_logs_an_open_visit(frozen_clock, clerk_api):
    response = clerk_api.post(
        "/visits",
        {**NEW_VISIT, "petitioner_phone": "0912345123", "is_senior": True, "summary": "說明"},
    )
    assert response.status_code == 201
    body = response.get_json()
    assert body["status"] == "open"
    assert body["dispatch"] is None
    assert body["petitioner_name"] == "王○明"
    assert body["petitioner_phone"] == "09xx-xxx-123"
    assert body["created_at"] == "2024-03-04T10:00:00+08:00"
    assert db.session.get(Visit, body["id"]).petitioner_name == "王小明"


def test_post_visit_with_an_agency_notifies_it_at_once(frozen_clock, clerk_api, create_user):
    create_user(role="agency", agency="social-welfare")
    response = clerk_api.post("/visits", {**NEW_VISIT, "agency": "社會局"})
    assert response.status_code == 201
    body = response.get_json()
    assert body["status"] == "dispatched"
    dispatch = body["dispatch"]
    assert dispatch["agency"] == "social-welfare"
    assert dispatch["state"] == "notified"
    assert dispatch["notified_at"] == "2024-03-04T10:00:00+08:00"
    assert dispatch["deadline_at"] == "2024-03-04T10:10:00+08:00"
    assert dispatch["overdue"] is False
    assert dispatch["on_time"] is None
    assert dispatch["remaining_seconds"] == 600
    for key in ("acknowledged_at", "arrived_at", "ended_at"):
        assert dispatch[key] is None
    assert db.session.scalar(select(func.count(Notification.id))) == 1


def test_post_visit_settled_at_the_counter(clerk_api):
    response = clerk_api.post("/visits", {**NEW_VISIT, "settled": True})
    assert response.status_code == 201
    assert response.get_json()["status"] == "settled"


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"kind": "petition"},
        {"kind": "complaint", "subject": "x"},
        {"kind": "petition", "subject": ""},
        {"kind": "petition", "subject": "x" * 201},
        {"kind": "petition", "subject": "x", "is_senior": "maybe"},
        {"kind": "petition", "subject": "x", "settled": 0},
        {"kind": "petition", "subject": "x", "is_senior": "true"},
        {"kind": "petition", "subject": "x", "surprise": 1},
        {"kind": "petition", "subject": "x", "agency": "no-such-agency"},
        {"kind": "petition", "subject": "x", "agency": "labor", "settled": True},
        {"kind": "petition", "subject": "x", "petitioner_phone": "not a phone"},
        {"kind": 5, "subject": ["x"]},
        [],
        "text",
    ],
)
def test_post_visit_rejects_bad_input_with_422_and_changes_nothing(clerk_api, body):
    assert_error(clerk_api.post("/visits", body), 422, "invalid")
    assert db.session.scalar(select(func.count(Visit.id))) == 0


def test_post_visit_rejects_malformed_json_with_400(clerk_api):
    response = clerk_api.client.post(
        "/api/v1/visits",
        data="{not json",
        headers={**clerk_api._headers(), "Content-Type": "application/json"},
    )
    assert_error(response, 400)


@pytest.mark.parametrize("role", ["agency", "facility", "supervisor", "admin"])
def test_only_clerks_log_visits(api_as, role):
    assert_error(api_as(role).post("/visits", NEW_VISIT), 403, "forbidden")
    assert db.session.scalar(select(func.count(Visit.id))) == 0


def test_api_needs_a_valid_token(client, csrf_app, clerk_api):
    assert_error(client.post("/api/v1/visits", json=NEW_VISIT), 401, "unauthorized")
    # With CSRF checks on, a call without any credentials is still a 401 (not a CSRF 400).
    anonymous = csrf_app.test_client()
    assert_error(anonymous.post("/api/v1/visits", json=NEW_VISIT), 401, "unauthorized")
    assert_error(anonymous.post("/api/v1/dispatches/1/arrive"), 401, "unauthorized")
    assert_error(client.get("/api/v1/dispatches"), 401)
    response = client.get("/api/v1/dispatches", headers={"Authorization": "Bearer cd_wrong"})
    assert_error(response, 401)


# --- POST /visits/{id}/dispatches and /settle -----------------------------------------------


def test_notify_an_open_visit(frozen_clock, clerk_api):
    visit = clerk_api.post("/visits", NEW_VISIT).get_json()
    response = clerk_api.post(
        f"/visits/{visit['id']}/dispatches", {"agency": "Department of Labor"}
    )
    assert response.status_code == 201
    body = response.get_json()
    assert (body["agency"], body["state"], body["visit_id"]) == ("labor", "notified", visit["id"])
    assert_error(
        clerk_api.post(f"/visits/{visit['id']}/dispatches", {"agency": "labor"}), 409, "conflict"
    )


def test_notify_errors(clerk_api, api_as):
    visit = clerk_api.post("/visits", NEW_VISIT).get_json()
    assert_error(clerk_api.post("/visits/9999/dispatches", {"agency": "labor"}), 404)
    assert_error(clerk_api.post(f"/visits/{visit['id']}/dispatches", {}), 422)
    assert_error(clerk_api.post(f"/visits/{visit['id']}/dispatches", {"agency": "x"}), 422)
    agency = api_as("agency", agency="labor")
    assert_error(agency.post(f"/visits/{visit['id']}/dispatches", {"agency": "labor"}), 403)
    assert_error(
        api_as("supervisor").post(f"/visits/{visit['id']}/dispatches", {"agency": "labor"}), 403
    )
    assert db.session.scalar(select(func.count(Dispatch.id))) == 0


def test_settle_endpoint(clerk_api, api_as):
    visit = clerk_api.post("/visits", NEW_VISIT).get_json()
    assert_error(api_as("agency").post(f"/visits/{visit['id']}/settle"), 403)
    response = clerk_api.post(f"/visits/{visit['id']}/settle")
    assert response.status_code == 200
    assert response.get_json()["status"] == "settled"
    assert_error(clerk_api.post(f"/visits/{visit['id']}/settle"), 409)
    assert_error(clerk_api.post("/visits/9999/settle"), 404)


# --- GET /dispatches ----------------------------------------------------------------------


def _make(clerk_api, agency, **extra):
    body = clerk_api.post("/visits", {**NEW_VISIT, "agency": agency, **extra}).get_json()
    return body["dispatch"]


def test_list_filters_by_state_agency_dates_and_outcome(frozen_clock, clerk_api):
    yesterday = _make(clerk_api, "labor")
    clock.advance(days=1)
    a = _make(clerk_api, "social-welfare")
    b = _make(clerk_api, "labor")
    clerk_api.post(f"/dispatches/{a['id']}/arrive")

    def ids(query=""):
        response = clerk_api.get("/dispatches" + query)
        assert response.status_code == 200, response.get_json()
        return [d["id"] for d in response.get_json()["items"]]

    assert ids() == [b["id"], a["id"], yesterday["id"]]
    assert ids("?state=arrived") == [a["id"]]
    assert ids("?state=open") == [b["id"], yesterday["id"]]
    assert ids("?agency=labor") == [b["id"], yesterday["id"]]
    assert ids("?agency=勞動局&from=2024-03-05") == [b["id"]]
    assert ids("?to=2024-03-04") == [yesterday["id"]]
    assert ids("?from=2024-03-04T10:00:00&to=2024-03-04T10:00:00") == [yesterday["id"]]
    assert ids("?outcome=on_time") == [a["id"]]
    assert ids("?outcome=late") == [yesterday["id"]]  # open a day past its deadline
    assert ids("?outcome=pending") == [b["id"]]


def test_list_is_paginated(clerk_api):
    for _ in range(3):
        _make(clerk_api, "labor")
    response = clerk_api.get("/dispatches?page=2&per_page=2")
    assert response.status_code == 200
    body = response.get_json()
    assert len(body["items"]) == 1
    assert (body["total"], body["page"], body["per_page"]) == (3, 2, 2)
    first = clerk_api.get("/dispatches?per_page=2").get_json()
    assert [d["id"] for d in first["items"]] == [3, 2]
    past_the_end = clerk_api.get("/dispatches?page=3&per_page=2").get_json()
    assert (past_the_end["items"], past_the_end["total"]) == ([], 3)


@pytest.mark.parametrize(
    "query",
    [
        "?state=lost",
        "?outcome=maybe",
        "?from=yesterday",
        "?to=2024-13-45",
        "?from=2024-03-05&to=2024-03-01",
        "?agency=nowhere",
        "?page=0",
        "?per_page=100000",
        "?per_page=0",
        "?page=x",
    ],
)
def test_list_rejects_bad_filters_with_422(clerk_api, query):
    assert_error(clerk_api.get("/dispatches" + query), 422)


def test_agency_staff_list_only_their_own_agency(clerk_api, api_as):
    own = _make(clerk_api, "social-welfare")
    _make(clerk_api, "labor")
    agency = api_as("agency", agency="social-welfare")
    assert [d["id"] for d in agency.get("/dispatches").get_json()["items"]] == [own["id"]]
    assert agency.get("/dispatches?agency=labor").get_json()["items"] == []


@pytest.mark.parametrize("role", ["facility", "admin"])
def test_roles_without_dispatches_get_403(clerk_api, api_as, notified, role):
    other = api_as(role)
    assert_error(other.get("/dispatches"), 403)
    assert_error(other.get("/dispatches/open"), 403)
    assert_error(other.get(f"/dispatches/{notified['id']}"), 403)


def test_supervisors_see_all_dispatches(api_as, notified):
    supervisor = api_as("supervisor")
    assert supervisor.get(f"/dispatches/{notified['id']}").status_code == 200
    assert len(supervisor.get("/dispatches").get_json()["items"]) == 1


# --- GET /dispatches/{id} and /open -------------------------------------------------------


def test_get_dispatch_hides_other_agencies(clerk_api, api_as, notified):
    assert clerk_api.get(f"/dispatches/{notified['id']}").get_json()["id"] == notified["id"]
    own = api_as("agency", agency="social-welfare")
    assert own.get(f"/dispatches/{notified['id']}").status_code == 200
    other = api_as("agency", agency="labor")
    assert_error(other.get(f"/dispatches/{notified['id']}"), 404, "not_found")
    assert_error(clerk_api.get("/dispatches/99999"), 404)


def test_open_list_sends_the_server_time_and_overdue_first(frozen_clock, clerk_api, api_as):
    first = _make(clerk_api, "social-welfare")
    clock.advance(seconds=300)
    second = _make(clerk_api, "labor")
    clock.advance(seconds=301)  # the first is now 601 s old: overdue
    body = clerk_api.get("/dispatches/open").get_json()
    assert body["server_time"] == "2024-03-04T10:10:01+08:00"
    assert [d["id"] for d in body["dispatches"]] == [first["id"], second["id"]]
    assert [d["overdue"] for d in body["dispatches"]] == [True, False]
    assert body["dispatches"][0]["remaining_seconds"] == -1
    assert body["dispatches"][0]["on_time"] is False
    own = api_as("agency", agency="labor").get("/dispatches/open").get_json()
    assert [d["id"] for d in own["dispatches"]] == [second["id"]]


# --- Moves --------------------------------------------------------------------------------


def test_acknowledge_by_the_agency(frozen_clock, api_as, notified):
    agency = api_as("agency", agency="social-welfare", name="林社工")
    clock.advance(seconds=45)
    response = agency.post(
        f"/dispatches/{notified['id']}/acknowledge", {"responder": "王專員", "eta_minutes": 5}
    )
    assert response.status_code == 200
    body = response.get_json()
    assert body["state"] == "acknowledged"
    assert body["acknowledged_at"] == "2024-03-04T10:00:45+08:00"
    assert (body["responder"], body["eta_minutes"], body["acknowledged_by"]) == (
        "王專員",
        5,
        "林社工",
    )
    again = agency.post(f"/dispatches/{notified['id']}/acknowledge", {"responder": "x"})
    assert_error(again, 409, "conflict")


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"responder": ""},
        {"responder": "x" * 101},
        {"responder": "x", "eta_minutes": -1},
        {"responder": "x", "eta_minutes": 241},
        {"responder": "x", "eta_minutes": "soon"},
        {"responder": "x", "eta_minutes": 2.5},
    ],
)
def test_acknowledge_rejects_bad_input(api_as, notified, body):
    agency = api_as("agency", agency="social-welfare")
    assert_error(agency.post(f"/dispatches/{notified['id']}/acknowledge", body), 422)
    assert db.session.get(Dispatch, notified["id"]).state == "notified"


def test_acknowledge_permissions(api_as, notified):
    body = {"responder": "x"}
    path = f"/dispatches/{notified['id']}/acknowledge"
    assert_error(api_as("agency", agency="labor").post(path, body), 404)
    assert_error(api_as("supervisor").post(path, body), 403)
    assert_error(api_as("facility").post(path, body), 403)
    assert_error(api_as("agency").post("/dispatches/99999/acknowledge", body), 404)
    assert api_as("clerk").post(path, body).status_code == 200


def test_arrive(frozen_clock, clerk_api, api_as, notified):
    path = f"/dispatches/{notified['id']}/arrive"
    assert_error(api_as("agency", agency="social-welfare").post(path), 403)
    assert_error(api_as("agency", agency="labor").post(path), 404)
    assert_error(api_as("supervisor").post(path), 403)
    clock.advance(seconds=600)
    response = clerk_api.post(path)
    assert response.status_code == 200
    body = response.get_json()
    assert body["state"] == "arrived"
    assert body["arrived_at"] == body["ended_at"] == "2024-03-04T10:10:00+08:00"
    assert (body["on_time"], body["outcome"], body["remaining_seconds"]) == (True, "on_time", None)
    assert_error(clerk_api.post(path), 409, "conflict")
    assert_error(clerk_api.post("/dispatches/99999/arrive"), 404)


def test_late_arrival_says_late(frozen_clock, clerk_api, notified):
    clock.advance(seconds=601)
    body = clerk_api.post(f"/dispatches/{notified['id']}/arrive").get_json()
    assert (body["on_time"], body["outcome"]) == (False, "late")


def test_cancel(clerk_api, api_as, notified):
    path = f"/dispatches/{notified['id']}/cancel"
    assert_error(clerk_api.post(path, {}), 422)
    assert_error(clerk_api.post(path, {"reason": ""}), 422)
    assert_error(clerk_api.post(path, {"reason": "   "}), 422)
    assert_error(api_as("agency", agency="social-welfare").post(path, {"reason": "x"}), 403)
    response = clerk_api.post(path, {"reason": "民眾離開"})
    assert response.status_code == 200
    body = response.get_json()
    assert (body["state"], body["end_reason"], body["on_time"]) == ("cancelled", "民眾離開", None)
    assert_error(clerk_api.post(path, {"reason": "again"}), 409)
    ack = clerk_api.post(f"/dispatches/{notified['id']}/acknowledge", {"responder": "x"})
    assert_error(ack, 409)


def test_transfer(frozen_clock, clerk_api, api_as, notified):
    path = f"/dispatches/{notified['id']}/transfer"
    assert_error(clerk_api.post(path, {}), 422)
    assert_error(clerk_api.post(path, {"agency": "nowhere"}), 422)
    assert_error(clerk_api.post(path, {"agency": "social-welfare"}), 422)
    assert_error(api_as("supervisor").post(path, {"agency": "labor"}), 403)
    clock.advance(seconds=120)
    response = clerk_api.post(path, {"agency": "labor", "reason": "屬勞動局業務"})
    assert response.status_code == 201
    new = response.get_json()
    assert (new["agency"], new["state"]) == ("labor", "notified")
    assert new["notified_at"] == "2024-03-04T10:02:00+08:00"
    assert new["deadline_at"] == "2024-03-04T10:12:00+08:00"
    old = clerk_api.get(f"/dispatches/{notified['id']}").get_json()
    assert (old["state"], old["transferred_to_id"], old["outcome"]) == (
        "transferred",
        new["id"],
        "transferred",
    )
    assert_error(clerk_api.post(path, {"agency": "health"}), 409)


def test_session_auth_needs_the_csrf_token(csrf_app, create_user):
    user = create_user(role="clerk")
    client = csrf_app.test_client()
    assert login(client, user.username, csrf=True).status_code == 302
    assert_error(client.post("/api/v1/visits", json=NEW_VISIT), 400, "csrf")
    token = _page_token(client)
    response = client.post("/api/v1/visits", json=NEW_VISIT, headers={"X-CSRFToken": token})
    assert response.status_code == 201


def _page_token(client) -> str:
    """The CSRF token of the signed-in session (rendered in the header's forms)."""
    return csrf_token(client, "/")


def test_a_wrong_method_is_a_405_naming_the_allowed_ones(clerk_api):
    response = clerk_api.client.delete("/api/v1/visits", headers=clerk_api._headers())
    assert_error(response, 405)
    assert response.headers["Allow"]


def test_times_are_iso_8601_with_an_offset(clerk_api, notified):
    body = clerk_api.get(f"/dispatches/{notified['id']}").get_json()
    for key in ("notified_at", "deadline_at"):
        parsed = datetime.fromisoformat(body[key])
        assert parsed.utcoffset() == timedelta(hours=8)


def test_the_openapi_document_lists_every_endpoint_and_its_errors(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    paths = doc["paths"]
    expected = {
        ("/api/v1/visits", "post"),
        ("/api/v1/visits/{visit_id}/dispatches", "post"),
        ("/api/v1/visits/{visit_id}/settle", "post"),
        ("/api/v1/dispatches", "get"),
        ("/api/v1/dispatches/open", "get"),
        ("/api/v1/dispatches/{dispatch_id}", "get"),
        ("/api/v1/dispatches/{dispatch_id}/acknowledge", "post"),
        ("/api/v1/dispatches/{dispatch_id}/arrive", "post"),
        ("/api/v1/dispatches/{dispatch_id}/cancel", "post"),
        ("/api/v1/dispatches/{dispatch_id}/transfer", "post"),
    }
    for path, method in expected:
        assert "401" in paths[path][method]["responses"], path
    assert {"409", "404", "403"} <= set(
        paths["/api/v1/dispatches/{dispatch_id}/arrive"]["post"]["responses"]
    )
    error = doc["components"]["schemas"]["ApiError"]
    assert set(error["required"]) == {"error", "message"}
    dispatch = doc["components"]["schemas"]["Dispatch"]["properties"]
    for key in (
        "id",
        "agency",
        "state",
        "notified_at",
        "deadline_at",
        "acknowledged_at",
        "arrived_at",
        "ended_at",
        "overdue",
        "on_time",
    ):
        assert key in dispatch


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("get", "/dispatches/99999999999999999999", None, 404),
        ("post", "/dispatches/99999999999999999999/arrive", None, 404),
        ("post", "/visits/99999999999999999999/dispatches", {"agency": "labor"}, 404),
        ("get", "/dispatches?page=99999999999999999999", None, 422),
        ("get", "/dispatches?page=2147483647&per_page=200", None, 200),
        ("get", "/dispatches?agency=%00x", None, 422),
        ("post", "/visits", {"kind": "petition", "subject": "a\u0000b"}, 422),
        ("post", "/visits", {"kind": "petition", "subject": "a\ud800b"}, 422),
        ("post", "/visits", {"kind": "petition", "subject": "x", "agency": "\u0000"}, 422),
        ("post", "/visits", {"kind": "petition", "subject": "x", "notes": "\x00"}, 422),
    ],
)
def test_hostile_input_is_a_4xx_never_a_500(clerk_api, method, path, body, status):
    response = getattr(clerk_api, method)(path, **({"json": body} if body is not None else {}))
    assert response.status_code == status, response.get_json()
    if status >= 400:
        assert_error(response, status)
    assert db.session.scalar(select(func.count(Visit.id))) == 0
