"""CityDesk's load: clerks, agency inboxes, facility staff and the supervisor's report.

Run by `bench/loadtest/run.py` (which makes the users, tokens and the server); not on its own.
It reads the accounts from `LOADTEST_ACCOUNTS` (a JSON file: role → list of {username, token,
agency}), the number of users of each role from `LOADTEST_COUNTS` ("clerk=10,agency=40,..."),
and writes what the simulated users did (every request with its time and status, and the
tallies of successful moves) to `LOADTEST_RESULT` when the test stops.
"""

import itertools
import json
import os
import random
import re
import time
from collections import Counter

from locust import HttpUser, between, constant_pacing, events, task

with open(os.environ["LOADTEST_ACCOUNTS"], encoding="utf-8") as _fh:
    ACCOUNTS = json.load(_fh)
COUNTS = {
    role: int(n)
    for role, n in (
        part.split("=") for part in os.environ.get("LOADTEST_COUNTS", "").split(",") if part
    )
}
CATEGORIES = ["corridor", "facility", "cleanliness", "ceiling_floor"]
ZONES = ["northeast", "southeast", "northwest", "southwest", "central-north", "central-south"]
FLOORS = ["B2", "B1"] + [f"{n}F" for n in range(1, 13)]
KINDS = ["inquiry", "petition", "application", "other"]

# Every request: (name, milliseconds, status, expected race?, problem or "", seconds since
# the first request).
REQUESTS: list[tuple[str, float, int, bool, str, float]] = []
_T0: list[float] = []
# Successful moves, to count against the database afterwards.
DONE: Counter = Counter()
DISPATCH_IDS: set[int] = set()
ACKED_IDS: list[int] = []
_pools = {role: itertools.cycle(accounts) for role, accounts in ACCOUNTS.items()}


def _account(role: str) -> dict:
    return next(_pools[role])


@events.request.add_listener
def _record(name, response_time, response, exception, context, **_kwargs):
    status = getattr(response, "status_code", 0) or 0
    race = bool(context and context.get("race"))
    problem = ""
    if exception is not None:  # a connection error, or a status the user did not expect
        problem = f"{type(exception).__name__}: {exception}"[:300]
    text = getattr(response, "text", "") or ""
    if "database is locked" in text:
        problem = "database is locked"
    if not _T0:
        _T0.append(time.monotonic())
    REQUESTS.append((name, response_time, status, race, problem, time.monotonic() - _T0[0]))


@events.test_stop.add_listener
def _dump(**_kwargs):
    path = os.environ.get("LOADTEST_RESULT")
    if not path:
        return
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(
            {
                "requests": REQUESTS,
                "done": dict(DONE),
                "dispatch_ids": sorted(DISPATCH_IDS),
                "acked_ids": ACKED_IDS,
            },
            fh,
        )


class Base(HttpUser):
    abstract = True
    role = ""

    def on_start(self):
        self.me = _account(self.role)
        self.client.headers["Authorization"] = f"Bearer {self.me['token']}"

    def call(self, method, url, name, *, ok=(200,), race_409=False, parse=True, **kwargs):
        """A request that fails (for locust) on anything but `ok`; a clean JSON 409 is an
        expected race when `race_409`."""
        with self.client.request(
            method, url, name=name, catch_response=True, context={}, **kwargs
        ) as response:
            if response.status_code in ok:
                response.success()
                if not parse or not response.content or response.status_code >= 300:
                    return {}
                return response.json()
            if race_409 and response.status_code == 409:
                try:
                    body = response.json()
                except ValueError:
                    body = {}
                if body.get("error") == "conflict" and body.get("message"):
                    response.request_meta["context"]["race"] = True
                    response.success()
                    DONE["race_409"] += 1
                    return None
                response.failure(f"409 without a clean JSON body: {response.text[:200]}")
                return None
            response.failure(f"HTTP {response.status_code}: {response.text[:200]}")
            return None


class Clerk(Base):
    """Logs a visit now and then (most notify an agency, some settle at the counter), watches
    the live board every 2 s, confirms arrivals of acknowledged dispatches, cancels the odd one."""

    role = "clerk"
    fixed_count = COUNTS.get("clerk", 10)
    wait_time = constant_pacing(2)

    def on_start(self):
        super().on_start()
        self.mine: dict[int, float] = {}  # dispatch id → when the clerk saw it acknowledged
        self.next_visit = time.monotonic() + random.uniform(0, 10)

    @task
    def work(self):
        board = self.call("GET", "/api/v1/dispatches/open", "/api/v1/dispatches/open")
        if board is not None:
            now = time.monotonic()
            for d in board["dispatches"]:
                if d["id"] not in self.mine:
                    continue
                if d["state"] == "acknowledged":
                    seen = self.mine[d["id"]] or now
                    self.mine[d["id"]] = seen
                    if now - seen > random.uniform(2, 20):  # the responder walks over
                        if self.call(
                            "POST",
                            f"/api/v1/dispatches/{d['id']}/arrive",
                            "/api/v1/dispatches/[id]/arrive",
                        ):
                            DONE["arrive"] += 1
                        self.mine.pop(d["id"], None)
                elif d["state"] == "notified" and random.random() < 0.005:
                    if self.call(
                        "POST",
                        f"/api/v1/dispatches/{d['id']}/cancel",
                        "/api/v1/dispatches/[id]/cancel",
                        json={"reason": "The visitor left"},
                    ):
                        DONE["cancel"] += 1
                    self.mine.pop(d["id"], None)
        if time.monotonic() >= self.next_visit:
            self.next_visit = time.monotonic() + random.uniform(6, 14)
            self.log_visit()

    def log_visit(self):
        agency = random.choice(ACCOUNTS["agency_codes"])
        body = {
            "kind": random.choice(KINDS),
            "subject": f"Load test visit {random.randint(1, 10**6)}",
            "summary": "Asked about a permit",
            "petitioner_name": "王小明",
            "petitioner_phone": "0912345678",
        }
        roll = random.random()
        if roll < 0.15:  # settled at the counter
            visit = self.call("POST", "/api/v1/visits", "/api/v1/visits", ok=(201,), json=body)
            if visit:
                DONE["visit"] += 1
                if self.call(
                    "POST", f"/api/v1/visits/{visit['id']}/settle", "/api/v1/visits/[id]/settle"
                ):
                    DONE["settle"] += 1
        elif roll < 0.40:  # logged first, the agency notified afterwards
            visit = self.call("POST", "/api/v1/visits", "/api/v1/visits", ok=(201,), json=body)
            if visit:
                DONE["visit"] += 1
                dispatch = self.call(
                    "POST",
                    f"/api/v1/visits/{visit['id']}/dispatches",
                    "/api/v1/visits/[id]/dispatches",
                    ok=(201,),
                    json={"agency": agency},
                )
                if dispatch:
                    self._notified(dispatch["id"])
        else:  # logged with the agency: notified at once
            visit = self.call(
                "POST",
                "/api/v1/visits",
                "/api/v1/visits",
                ok=(201,),
                json=body | {"agency": agency},
            )
            if visit:
                DONE["visit"] += 1
                self._notified(visit["dispatch"]["id"])

    def _notified(self, dispatch_id: int):
        DONE["notify"] += 1
        DISPATCH_IDS.add(dispatch_id)
        self.mine[dispatch_id] = 0.0


class AgencyStaff(Base):
    """An agency inbox: polls the open dispatches every 2 s (as the browser does) and
    acknowledges the agency's new ones; colleagues race for the same dispatch (409)."""

    role = "agency"
    fixed_count = COUNTS.get("agency", 40)
    wait_time = constant_pacing(2)

    @task
    def inbox(self):
        inbox = self.call("GET", "/api/v1/dispatches/open", "/api/v1/dispatches/open")
        if not inbox:
            return
        for d in inbox["dispatches"]:
            if d["agency"] != self.me["agency"]:
                DONE["foreign_dispatch_seen"] += 1
            if d["state"] == "notified" and random.random() < 0.3:
                done = self.call(
                    "POST",
                    f"/api/v1/dispatches/{d['id']}/acknowledge",
                    "/api/v1/dispatches/[id]/acknowledge",
                    race_409=True,
                    json={"responder": self.me["username"], "eta_minutes": 3},
                )
                if done:
                    DONE["acknowledge"] += 1
                    ACKED_IDS.append(d["id"])
                break


class FacilityStaff(Base):
    """Files repair tickets and moves them: report → assign (to self) → start."""

    role = "facility"
    fixed_count = COUNTS.get("facility", 10)
    wait_time = between(3, 7)

    def on_start(self):
        super().on_start()
        self.todo: list[tuple[int, str]] = []  # (ticket id, next move)

    @task(3)
    def move(self):
        if not self.todo:
            return self.report()
        defect_id, step = self.todo.pop(0)
        if step == "assign":
            if self.call(
                "POST",
                f"/api/v1/defects/{defect_id}/assign",
                "/api/v1/defects/[id]/assign",
                json={"assignee": self.me["username"]},
            ):
                DONE["assign"] += 1
                self.todo.append((defect_id, "start"))
        elif step == "start" and self.call(
            "POST", f"/api/v1/defects/{defect_id}/start", "/api/v1/defects/[id]/start"
        ):
            DONE["start"] += 1

    @task(2)
    def report(self):
        defect = self.call(
            "POST",
            "/api/v1/defects",
            "/api/v1/defects",
            ok=(201,),
            json={
                "category": random.choice(CATEGORIES),
                "zone": random.choice(ZONES),
                "floor": random.choice(FLOORS),
                "location": "Near the lifts",
                "description": "Boxes block the corridor",
            },
        )
        if defect:
            DONE["defect"] += 1
            self.todo.append((defect["id"], "assign"))

    @task(2)
    def look(self):
        tickets = self.call(
            "GET", "/api/v1/defects?assignee=me&per_page=20", "/api/v1/defects?assignee=me"
        )
        if tickets and tickets["items"]:
            ticket = random.choice(tickets["items"])
            self.call("GET", f"/api/v1/defects/{ticket['id']}", "/api/v1/defects/[id]")


class Supervisor(Base):
    """Signs in with a session like a browser and looks at pages (the board, today's list, the
    dispatch list, the report page); asks the API for the yearly report now and then."""

    role = "supervisor"
    fixed_count = COUNTS.get("supervisor", 1)
    wait_time = between(3, 8)

    def on_start(self):
        self.me = _account(self.role)
        self.bearer = {"Authorization": f"Bearer {self.me['token']}"}
        login = self.client.get("/login", name="/login")
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', login.text)
        self.call(
            "POST",
            "/login",
            "/login [POST]",
            ok=(200, 302),
            allow_redirects=False,
            data={
                "csrf_token": token.group(1) if token else "",
                "username": self.me["username"],
                "password": self.me["password"],
            },
        )

    @task(3)
    def board(self):
        self.call("GET", "/desk/board", "/desk/board", parse=False)

    @task(1)
    def today(self):
        self.call("GET", "/desk/today", "/desk/today", parse=False)

    @task(1)
    def dispatch_list(self):
        self.call("GET", "/desk/dispatches", "/desk/dispatches", parse=False)

    @task(1)
    def report_page(self):
        year = time.gmtime().tm_year
        self.call("GET", f"/reports/{year}", "/reports/[year]", parse=False)

    @task(1)
    def report(self):
        year = time.gmtime().tm_year
        self.call(
            "GET",
            f"/api/v1/reports/yearly?year={year}",
            "/api/v1/reports/yearly",
            headers=self.bearer,
        )
