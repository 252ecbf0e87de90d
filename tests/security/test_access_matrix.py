"""Every role against every object type and every route (pages and API).

The table below says, for each (method, URL of a real object), what each role gets:
OK (allowed: not 401/403/404, no 5xx, no bounce to the sign-in page), DENY (403 or 404) or
HIDDEN (exactly 404: the object exists but this user has no reason to know it). A guard test
walks `app.url_map` and fails when a route is missing from the table, so a new route cannot
slip in unchecked.
"""

import io
from dataclasses import dataclass

import pytest

from models.core import clock
from tests.facility.support import image_bytes
from tests.security.conftest import ROLES

OK, DENY, HIDDEN = "ok", "deny", "hidden"
ALL = dict.fromkeys(ROLES, OK)
NOBODY: dict = {}


def only(*roles, **others):
    """Allowed for `roles`; any role in `others` gets that expectation; DENY elsewhere."""
    table = dict.fromkeys(roles, OK)
    table.update(others)
    return table


COUNTER = only("clerk", "supervisor")
CLERK = only("clerk")
SUPERVISOR = only("supervisor")
ADMIN = only("admin")
OVERSIGHT_ROLES = only("supervisor", "admin")
REPORTS = only("clerk", "supervisor", "admin")
AGENCIES = only("agency_a", "agency_b")
FACILITY = only("facility", "supervisor")
# A ticket filed by the clerk: its reporter and the facility side see it; nobody else knows
# it exists.
TICKET_VIEW = only(
    "clerk", "facility", "supervisor", agency_a=HIDDEN, agency_b=HIDDEN, admin=HIDDEN
)
# A dispatch to agency A: agency B gets a 404 (no insecure direct object reference).
DISPATCH_API_VIEW = only("clerk", "supervisor", "agency_a", agency_b=HIDDEN)
# Agency A's scorecard: its own staff and the report readers; agency B gets a 404.
SCORECARD_A = only("agency_a", "clerk", "supervisor", "admin", agency_b=HIDDEN)


@dataclass(frozen=True)
class Row:
    method: str
    url: str  # with {visit}, {dispatch}, {defect}, {photo}, {round}, {notice_a}, {user},
    # {token}, {display_link}, {display_secret}, {ack_token}, {year} filled from the world
    expect: dict
    body: dict | None = None  # a valid body, so the check is reached past validation

    def __str__(self):
        return f"{self.method} {self.url}"


def R(method, url, expect, body=None):
    return Row(method, url, expect, body)


SIGNED_OUT = "signed out"  # POST /logout: back to the sign-in page, as asked


TABLE = [
    # --- public and personal ------------------------------------------------------------
    R("GET", "/", ALL),
    R("GET", "/login", ALL),
    R("POST", "/login", ALL),
    R("POST", "/logout", dict.fromkeys(ROLES, SIGNED_OUT)),
    R("GET", "/unlock", ALL),  # not locked: straight on to the page asked for
    R("POST", "/unlock", ALL, {"password": "x"}),
    R("GET", "/account/password", ALL),
    R("POST", "/account/password", ALL, {"current_password": "x"}),  # a form error
    R("POST", "/language", ALL),
    R("GET", "/sw.js", ALL),
    R("GET", "/manifest.webmanifest", ALL),
    R("GET", "/notifications", ALL),
    R(
        "POST",
        "/notifications/{notice_a}/read",
        only(
            "agency_a",
            **dict.fromkeys(("clerk", "agency_b", "facility", "supervisor", "admin"), HIDDEN),
        ),
    ),
    R("POST", "/notifications/read-all", ALL),
    R("GET", "/api/v1/me", ALL),
    R("GET", "/api/v1/openapi.json", ALL),
    # a display link stands in for a session: the board without personal data, to anyone
    R("GET", "/desk/board/wall/{display_secret}", ALL),
    R("GET", "/api/v1/display/{display_secret}/open", ALL),
    # an acknowledgement link (the agency's notice e-mail) stands in for a session: to anyone
    # holding it (the first press acknowledges; later ones are a 410, not a refusal of access)
    R("GET", "/ack/{ack_token}", ALL),
    R("POST", "/ack/{ack_token}", ALL, {"responder": "王專員"}),
    # --- the counter (visits and dispatches) ---------------------------------------------
    R("GET", "/desk/board", COUNTER),
    R("GET", "/desk/board/wall", COUNTER),
    R("GET", "/desk/today", COUNTER),
    R("GET", "/desk/end-of-day", COUNTER),
    R("POST", "/desk/end-of-day", CLERK, {"reason": "x"}),  # nothing checked: a flash
    R("GET", "/desk/dispatches", COUNTER),
    R("GET", "/desk/dispatches/{dispatch}", COUNTER),
    R("GET", "/desk/visits/{visit}", COUNTER),
    R("GET", "/desk/visits/new", CLERK),
    R("POST", "/desk/visits/new", CLERK),
    R("POST", "/desk/visits/{visit}/notes", CLERK),
    R("POST", "/desk/visits/{visit}/notify", CLERK),
    R("POST", "/desk/visits/{visit}/settle", CLERK),
    R("POST", "/desk/dispatches/{dispatch}/acknowledge", CLERK),
    R("POST", "/desk/dispatches/{dispatch}/arrive", CLERK),
    R("POST", "/desk/dispatches/{dispatch}/cancel", CLERK),
    R("POST", "/desk/dispatches/{dispatch}/notes", CLERK),
    R("POST", "/desk/dispatches/{dispatch}/transfer", CLERK),
    R("POST", "/desk/dispatches/{dispatch}/correct", SUPERVISOR),
    # the visitor (issue 13): one-tap care notes; the rating screen (nobody arrived yet: 409)
    R("POST", "/desk/dispatches/{dispatch}/care", CLERK, {"code": "seated"}),
    R("GET", "/desk/visits/{visit}/rating", CLERK),
    R("POST", "/desk/visits/{visit}/rating", CLERK, {"score": "satisfied"}),
    # why late (issue 13): the world's dispatch is not late, so the allowed get a 409/flash
    R("POST", "/desk/dispatches/{dispatch}/late-reason", CLERK, {"reason": "away"}),
    # --- the agency side ----------------------------------------------------------------
    R("GET", "/agency/", AGENCIES),
    R("GET", "/agency/history", AGENCIES),
    R("POST", "/agency/sound", AGENCIES, {"on": "0"}),
    R("GET", "/agency/dispatches/{dispatch}", only("agency_a", agency_b=HIDDEN)),
    R("POST", "/agency/dispatches/{dispatch}/acknowledge", only("agency_a", agency_b=HIDDEN)),
    R(
        "POST",
        "/agency/dispatches/{dispatch}/late-reason",
        only("agency_a", agency_b=HIDDEN),
        {"reason": "away"},
    ),
    # scorecards: agency staff their own (another agency's is hidden), report readers any
    R("GET", "/agency/scorecard", only("agency_a", "agency_b", "clerk", "supervisor", "admin")),
    R("GET", "/agency/scorecard?agency=social-welfare", SCORECARD_A),
    # --- the dispatch API ---------------------------------------------------------------
    R("POST", "/api/v1/visits", CLERK, {"kind": "petition", "subject": "戶籍謄本"}),
    R("POST", "/api/v1/visits/{visit}/dispatches", CLERK, {"agency": "labor"}),
    R("POST", "/api/v1/visits/{visit}/settle", CLERK),
    R("POST", "/api/v1/visits/{visit}/rating", CLERK, {"score": "satisfied"}),
    R("GET", "/api/v1/dispatches", only("clerk", "supervisor", "agency_a", "agency_b")),
    R("GET", "/api/v1/dispatches/open", only("clerk", "supervisor", "agency_a", "agency_b")),
    R("GET", "/api/v1/dispatches/{dispatch}", DISPATCH_API_VIEW),
    R(
        "POST",
        "/api/v1/dispatches/{dispatch}/late-reason",
        only("clerk", "agency_a", agency_b=HIDDEN),
        {"reason": "away"},
    ),
    R("GET", "/api/v1/late-reasons", ALL),
    R("GET", "/api/v1/agencies/social-welfare/scorecard?year={year}", SCORECARD_A),
    R(
        "POST",
        "/api/v1/dispatches/{dispatch}/acknowledge",
        only("clerk", "agency_a", agency_b=HIDDEN),
        {"responder": "張社工", "eta_minutes": 5},
    ),
    R("POST", "/api/v1/dispatches/{dispatch}/arrive", only("clerk", agency_b=HIDDEN)),
    R(
        "POST",
        "/api/v1/dispatches/{dispatch}/cancel",
        only("clerk", agency_b=HIDDEN),
        {"reason": "民眾先行離開"},
    ),
    R(
        "POST",
        "/api/v1/dispatches/{dispatch}/transfer",
        only("clerk", agency_b=HIDDEN),
        {"agency": "health", "reason": "業務不符"},
    ),
    # --- facility: tickets, photos, rounds ----------------------------------------------
    R("GET", "/facility/report", ALL),
    R("POST", "/facility/report", ALL),
    R("GET", "/facility/mine", ALL),
    R("GET", "/facility/tickets", FACILITY),
    R("GET", "/facility/grid", FACILITY),
    R("GET", "/facility/tickets/{defect}", TICKET_VIEW),
    R("GET", "/facility/photos/{photo}", TICKET_VIEW),
    R("GET", "/facility/photos/{photo}/thumb", TICKET_VIEW),
    R("POST", "/facility/tickets/{defect}/assign", FACILITY),
    R("POST", "/facility/tickets/{defect}/start", FACILITY),
    R("POST", "/facility/tickets/{defect}/fix", FACILITY),
    # the reporter may add photos to an open ticket, and verify or reopen once fixed (the
    # ticket is new here: the move itself is refused, but not for lack of a right to it)
    R("POST", "/facility/tickets/{defect}/photos", TICKET_VIEW),
    R(
        "POST",
        "/facility/tickets/{defect}/verify",
        only("clerk", "supervisor", facility=DENY, agency_a=HIDDEN, agency_b=HIDDEN, admin=HIDDEN),
    ),
    R("POST", "/facility/tickets/{defect}/reopen", TICKET_VIEW),
    R("GET", "/facility/rounds", FACILITY),
    R("GET", "/facility/rounds/new", FACILITY),
    R("POST", "/facility/rounds/new", FACILITY),
    R("GET", "/facility/rounds/{round}", FACILITY),
    R("POST", "/facility/rounds/{round}/check", FACILITY),
    R("GET", "/facility/rounds/{round}/finding?floor=3F&category=facility", FACILITY),
    R("POST", "/facility/rounds/{round}/finding?floor=3F&category=facility", FACILITY),
    R("POST", "/facility/rounds/{round}/finish", FACILITY),
    R("GET", "/facility/settings", OVERSIGHT_ROLES),
    R("POST", "/facility/settings/due-days/facility", OVERSIGHT_ROLES),
    R("POST", "/facility/settings/plans/northeast", OVERSIGHT_ROLES),
    R("GET", "/facility/calendar", OVERSIGHT_ROLES),
    R("POST", "/facility/calendar", OVERSIGHT_ROLES),
    R("POST", "/facility/calendar/{year}-10-10/remove", OVERSIGHT_ROLES),
    R("POST", "/facility/calendar/{year}/reload", OVERSIGHT_ROLES),
    R("GET", "/facility/posters", OVERSIGHT_ROLES),
    R("GET", "/facility/posters/northeast", OVERSIGHT_ROLES),
    R("GET", "/facility/posters/northeast/3F.svg", OVERSIGHT_ROLES),
    # --- the facility API ---------------------------------------------------------------
    R("GET", "/api/v1/defects", ALL),  # each sees the tickets they may (checked below)
    R("POST", "/api/v1/defects", ALL),
    R("GET", "/api/v1/defects/similar", ALL),
    R("GET", "/api/v1/defects/{defect}", TICKET_VIEW),
    R(
        "POST",
        "/api/v1/defects/{defect}/assign",
        only("facility", "supervisor"),
    ),
    R(
        "POST",
        "/api/v1/defects/{defect}/start",
        only("facility", "supervisor"),
    ),
    R(
        "POST",
        "/api/v1/defects/{defect}/fix",
        only("facility", "supervisor"),
        {"note": "換燈管"},
    ),
    R("POST", "/api/v1/defects/{defect}/photos", TICKET_VIEW, {"files": True}),
    R(
        "POST",
        "/api/v1/defects/{defect}/reports",
        ALL,
        {"category": "facility", "zone": "northeast", "floor": "3F", "description": "我也看到"},
    ),  # "me too" on an open ticket, at its place
    R(
        "POST",
        "/api/v1/defects/{defect}/verify",
        only("clerk", "supervisor", facility=DENY, agency_a=HIDDEN, agency_b=HIDDEN, admin=HIDDEN),
    ),
    R("POST", "/api/v1/defects/{defect}/reopen", TICKET_VIEW, {"reason": "又壞了"}),
    R("GET", "/api/v1/rounds", FACILITY),
    R("GET", "/api/v1/rounds/schedule", FACILITY),
    R("POST", "/api/v1/rounds/{round}/checks", FACILITY, {"floor": "3F", "category": "corridor"}),
    R(
        "POST",
        "/api/v1/rounds/{round}/findings",
        FACILITY,
        {"form": {"floor": "3F", "category": "facility", "description": "緊急照明不亮"}},
    ),
    # --- reports ------------------------------------------------------------------------
    R("GET", "/reports/", REPORTS),
    R("GET", "/reports/{year}", REPORTS),
    R("GET", "/reports/{year}/dispatches", REPORTS),
    R("GET", "/reports/{year}/defects", REPORTS),
    R("GET", "/reports/{year}/rounds", REPORTS),
    R("GET", "/reports/{year}/report.csv", REPORTS),
    R("POST", "/reports/{year}/close", SUPERVISOR),
    R("GET", "/api/v1/reports/yearly?year={year}", REPORTS),
    # --- administration, audit, jobs ----------------------------------------------------
    R("GET", "/admin/audit", OVERSIGHT_ROLES),
    R("GET", "/admin/audit.xlsx", OVERSIGHT_ROLES),
    R("GET", "/admin/users", ADMIN),
    R("GET", "/admin/users/new", ADMIN),
    R("POST", "/admin/users/new", ADMIN),
    R("GET", "/admin/users/{user}", ADMIN),
    R("POST", "/admin/users/{user}", ADMIN),
    R("POST", "/admin/users/{user}/unthrottle", ADMIN),
    R("GET", "/admin/agencies", ADMIN),
    R("GET", "/admin/agencies/new", ADMIN),
    R("POST", "/admin/agencies/new", ADMIN),
    R("GET", "/admin/agencies/labor", ADMIN),
    R("POST", "/admin/agencies/labor", ADMIN),
    R("GET", "/admin/building", ADMIN),
    R("POST", "/admin/building", ADMIN),
    R("POST", "/admin/building/floors/3F/toggle", ADMIN),
    R("GET", "/admin/settings", OVERSIGHT_ROLES),
    R("POST", "/admin/settings", OVERSIGHT_ROLES),
    R("GET", "/admin/escalation", OVERSIGHT_ROLES),
    R("POST", "/admin/escalation", OVERSIGHT_ROLES),
    R("POST", "/admin/escalation/agencies/labor/remove", OVERSIGHT_ROLES),
    R("GET", "/admin/late-reasons", SUPERVISOR),
    R("POST", "/admin/late-reasons", SUPERVISOR),
    R("GET", "/admin/late-reasons/away", SUPERVISOR),
    R("POST", "/admin/late-reasons/away", SUPERVISOR),
    R("GET", "/admin/tokens", ADMIN),
    R("POST", "/admin/tokens", ADMIN),
    R("POST", "/admin/tokens/{token}/revoke", ADMIN),
    R("GET", "/admin/display-links", ADMIN),
    R("POST", "/admin/display-links", ADMIN, {"name": "二樓電視"}),
    R("POST", "/admin/display-links/{display_link}/revoke", ADMIN),
    R("GET", "/admin/import", OVERSIGHT_ROLES),
    R("POST", "/admin/import", OVERSIGHT_ROLES),
    R("POST", "/admin/import/confirm", OVERSIGHT_ROLES),
    R("GET", "/admin/import/0123456789abcdef/problems.csv", only(supervisor=HIDDEN, admin=HIDDEN)),
    R("GET", "/admin/jobs/", ADMIN),
    R("POST", "/admin/jobs/outbox/{notice_a}/retry", ADMIN),
    R("POST", "/admin/jobs/outbox/retry-dead", ADMIN),
]


def fill(url: str, world) -> str:
    values = dict(world.ids, year=clock.now().year)
    return url.format(**values)


def expectation(row: Row, role: str) -> str:
    return row.expect.get(role, DENY)


def call(row: Row, role: str, world, signed_in):
    """Make the request as `role`: the API with the role's bearer token, pages signed in."""
    url = fill(row.url, world)
    if url.startswith("/api/"):
        from flask import current_app

        client = current_app.test_client()
        headers = {"Authorization": f"Bearer {world.tokens[role]}"}
        if row.method == "GET":
            return client.get(url, headers=headers)
        if row.body and "form" in row.body:  # a multipart form (a round's finding)
            return client.post(url, data=row.body["form"], headers=headers)
        if row.body == {"files": True}:
            photo = {"photo": (io.BytesIO(image_bytes()), "photo.jpg", "image/jpeg")}
            return client.post(url, data=photo, headers=headers)
        return client.open(url, method=row.method, json=row.body or {}, headers=headers)
    client = signed_in(role)
    if row.method == "GET":
        return client.get(url)
    return client.open(url, method=row.method, data=row.body or {})


def check(response, expected: str, what: str) -> None:
    status = response.status_code
    assert status < 500, f"{what}: server error {status}"
    if expected == SIGNED_OUT:
        assert status == 302 and "/login" in response.headers.get("Location", ""), what
    elif expected == OK:
        assert status not in (401, 403, 404), f"{what}: refused with {status}"
        location = response.headers.get("Location", "")
        assert "/login" not in location, f"{what}: sent to sign in ({location})"
    elif expected == HIDDEN:
        assert status == 404, f"{what}: expected 404 (hidden), got {status}"
    else:
        assert status in (403, 404), f"{what}: expected 403/404, got {status}"


@pytest.mark.parametrize("row", TABLE, ids=[str(row) for row in TABLE])
def test_access(row, world, signed_in):
    """One route, every role: allowed exactly where DESIGN and the area docs say. The roles
    to be refused go first, so an allowed role's request cannot mask a refusal."""
    order = sorted(ROLES, key=lambda role: expectation(row, role) == OK)
    failures = []
    for role in order:
        expected = expectation(row, role)
        with call(row, role, world, signed_in) as response:  # closes a photo's file
            try:
                check(response, expected, f"{role} {row} (expected {expected})")
            except AssertionError as error:
                failures.append(str(error).splitlines()[0])
    assert not failures, "\n".join(failures)


def test_second_inspector_cannot_record_anothers_round(world, create_user, app):
    """A round belongs to its inspector: another facility user's "no defect" check and
    finish are refused and nothing is recorded (the owner's identical check is)."""
    from sqlalchemy import func, select

    from models.core import db
    from models.facility import InspectionRound, RoundCheck
    from tests.conftest import login

    other = create_user(role="facility", username="sec-fac-2")
    client = app.test_client()
    assert login(client, other.username).status_code == 302
    rid = world.ids["round"]
    data = {"floor": "3F", "category": "facility"}

    def checks():
        db.session.expire_all()
        return db.session.scalar(select(func.count(RoundCheck.id)))

    response = client.post(f"/facility/rounds/{rid}/check", data=data)
    assert response.status_code in (302, 403, 404)
    assert checks() == 0, "another inspector recorded a check on this round"
    client.post(f"/facility/rounds/{rid}/finish", data={})
    assert db.session.get(InspectionRound, rid).finished_at is None
    owner = app.test_client()
    assert login(owner, world.users["facility"].username).status_code == 302
    owner.post(f"/facility/rounds/{rid}/check", data=data)
    assert checks() == 1, "the control failed: the inspector's own check was not recorded"


def test_agency_b_lists_never_show_agency_a(world, app):
    """Agency B's inbox, history and API lists do not include agency A's dispatch."""
    from tests.conftest import login

    client = app.test_client()
    assert login(client, world.users["agency_b"].username).status_code == 302
    marker = f"/agency/dispatches/{world.ids['dispatch']}"
    for url in ("/agency/", "/agency/history"):
        assert marker not in client.get(url).get_data(as_text=True), url
    headers = {"Authorization": f"Bearer {world.tokens['agency_b']}"}
    listed = client.get("/api/v1/dispatches", headers=headers).get_json()["items"]
    assert world.ids["dispatch"] not in [d["id"] for d in listed]
    live = client.get("/api/v1/dispatches/open", headers=headers).get_json()
    assert world.ids["dispatch"] not in [d["id"] for d in live["dispatches"]]
    mine = client.get(
        "/api/v1/dispatches/open",
        headers={"Authorization": f"Bearer {world.tokens['agency_a']}"},
    ).get_json()
    assert world.ids["dispatch"] in [d["id"] for d in mine["dispatches"]]


def test_ticket_list_api_shows_others_tickets_only_to_managers(world, app):
    """GET /api/v1/defects: the reporter and facility side see the ticket, others do not."""
    client = app.test_client()
    seen = {}
    for role in ROLES:
        body = client.get(
            "/api/v1/defects", headers={"Authorization": f"Bearer {world.tokens[role]}"}
        ).get_json()
        items = body["items"]
        seen[role] = world.ids["defect"] in [d["id"] for d in items]
    assert seen == {
        "clerk": True,
        "agency_a": False,
        "agency_b": False,
        "facility": True,
        "supervisor": True,
        "admin": False,
    }


def test_photo_needs_sign_in(world, client):
    """A photo is never served to an anonymous visitor (sign-in redirect)."""
    response = client.get(f"/facility/photos/{world.ids['photo']}")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_every_route_is_in_the_table(app):
    """Guard: every rule in app.url_map (each method) has a row, state-changing ones
    especially; a new route fails here until someone decides who may use it."""
    adapter = app.url_map.bind("localhost")
    covered = set()
    for row in TABLE:
        url = row.url.format(
            visit=1,
            dispatch=1,
            defect=1,
            photo=1,
            round=1,
            notice_a=1,
            user=1,
            token=1,
            display_link=1,
            display_secret="x",
            ack_token="x",
            year=2024,
        ).split("?")[0]
        endpoint, _args = adapter.match(url, method=row.method)
        covered.add((endpoint, row.method))
    missing = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue  # served to anyone; headers checked in test_headers
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            if (rule.endpoint, method) not in covered:
                missing.append(f"{method} {rule.rule} ({rule.endpoint})")
    assert not missing, "routes with no access-matrix row:\n" + "\n".join(missing)


def test_every_state_changing_route_is_checked_for_every_role():
    """Each state-changing row says something about all six roles (DENY by default) and
    allows at least one: a table typo cannot silently deny or allow everyone."""
    for row in TABLE:
        if row.method in {"POST", "PUT", "PATCH", "DELETE"}:
            assert set(row.expect) <= set(ROLES), row
            assert {OK, SIGNED_OUT} & set(row.expect.values()), f"{row}: nobody may use it"
