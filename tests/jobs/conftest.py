"""Fixtures for the time-driven jobs: dispatch rows inserted directly (the dispatch operations
are another area's), agencies with addresses and webhooks, a real SMTP server and a real webhook
receiver on loopback, and real `citydesk` processes."""

import asyncio
import email
import email.policy
import http.server
import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP

from jobs import signature
from models.core import clock, db
from models.core.outbox import Channel, Notification, enqueue
from models.dispatch import Dispatch, DispatchState, deadline_after
from models.reference import agency_by_code, update_agency
from tests.conftest import free_port, make_app


@pytest.fixture
def dispatch_row():
    """dispatch_row(agency="social-welfare", sla=600, notified_at=now, state="notified", ...)
    inserts a dispatch row as the dispatch area's notify() would (without its notices)."""

    def factory(
        agency="social-welfare",
        *,
        sla=600,
        notified_at=None,
        subject="戶籍謄本申請",
        state=DispatchState.NOTIFIED.value,
        **fields,
    ):
        at = notified_at or clock.now()
        dispatch = Dispatch(
            agency=agency_by_code(agency),
            subject=subject,
            state=state,
            notified_at=at,
            sla_seconds=sla,
            deadline_at=deadline_after(at, sla),
            **fields,
        )
        db.session.add(dispatch)
        db.session.commit()
        return dispatch

    return factory


@pytest.fixture
def run(app):
    """run(job) → the job's result: commits the test's session first, as a real job sees only
    committed data, and forgets cached rows after."""

    def invoke(job, *args, **kwargs):
        db.session.commit()
        result = job(app, *args, **kwargs)
        db.session.expire_all()
        db.session.rollback()
        return result

    return invoke


def notices(**filters) -> list[Notification]:
    """Outbox rows matching column filters, in id order."""
    db.session.expire_all()
    stmt = db.select(Notification).filter_by(**filters).order_by(Notification.id)
    return list(db.session.scalars(stmt))


# --- Agencies with addresses and webhooks ------------------------------------------------

WEBHOOK_SECRET = "agency-shared-secret"
BUSY_AGENCIES = ["social-welfare", "health", "labor"]
BUSY_SECRET = "shared-secret"


@pytest.fixture
def loopback_webhooks(app, monkeypatch):
    """Let webhooks reach 127.0.0.1 for this test (the receivers here listen on loopback)."""
    monkeypatch.setitem(app.config, "WEBHOOK_ALLOW_LOOPBACK", True)


@pytest.fixture
def agency_contacts(create_user, loopback_webhooks):
    """The social-welfare agency with two addresses, a webhook and two staff."""
    agency = agency_by_code("social-welfare")
    update_agency(
        agency,
        emails="desk@sw.example, chief@sw.example",
        webhook_url="http://127.0.0.1:9/hook",
        webhook_secret="s3cret",
    )
    db.session.commit()
    staff = [create_user(role="agency", agency="social-welfare") for _ in range(2)]
    create_user(role="agency", agency="health")  # another agency: never told
    return staff


@pytest.fixture
def agency_mail():
    """The social-welfare agency with one e-mail address (returned)."""
    agency = agency_by_code("social-welfare")
    update_agency(agency, emails="desk@sw.example")
    db.session.commit()
    return "desk@sw.example"


@pytest.fixture
def hooked_agency():
    """hooked_agency(url, secret=WEBHOOK_SECRET) → social-welfare, its webhook set."""

    def factory(url, secret=WEBHOOK_SECRET):
        agency = agency_by_code("social-welfare")
        update_agency(agency, webhook_url=url, webhook_secret=secret)
        db.session.commit()
        return agency

    return factory


@pytest.fixture
def busy_centre(frozen_clock, dispatch_row, create_user, webhook_receiver):
    """Three agencies with addresses, staff and a webhook; supervisors and chiefs; 12 overdue
    dispatches (past the chief's step) and 6 in their reminder window, each already with
    its `notified` notices in the outbox."""
    receiver = webhook_receiver(secret=BUSY_SECRET)
    for code in BUSY_AGENCIES:
        update_agency(
            agency_by_code(code),
            emails=f"a@{code}.example, b@{code}.example",
            webhook_url=f"{receiver.url}/{code}",
            webhook_secret=BUSY_SECRET,
        )
        for _ in range(2):
            create_user(role="agency", agency=code)
    db.session.commit()
    for n in range(3):
        create_user(role="supervisor", email=f"sup{n}@city.example")
    create_user(role="supervisor", email="chief@city.example", receives_escalations=True)
    start = clock.now()
    overdue = [dispatch_row(BUSY_AGENCIES[n % 3], sla=600, notified_at=start) for n in range(12)]
    clock.advance(seconds=600 + 301)
    reminded = [dispatch_row(BUSY_AGENCIES[n % 3], sla=600) for n in range(6)]
    clock.advance(seconds=600 - 170)  # 2:50 before their deadline
    for dispatch in overdue + reminded:
        for address in dispatch.agency.email_list:
            enqueue(
                f"dispatch:{dispatch.id}:notified",
                "dispatch.notified",
                Channel.EMAIL,
                address,
                {"dispatch_id": dispatch.id},
                dispatch_id=dispatch.id,
            )
    db.session.commit()
    return receiver, overdue, reminded


# --- A real SMTP server ------------------------------------------------------------------


class Inbox:
    """aiosmtpd handler: keeps every message it accepted; can stall or refuse recipients."""

    def __init__(self):
        self.messages: list[tuple[list[str], email.message.EmailMessage]] = []
        self.refuse: set[str] = set()
        self.stall = threading.Event()  # while set, RCPT TO hangs (a slow or dying session)
        self.stalled = threading.Event()  # set once a session reached the stall
        self.sessions = 0
        self.connections = 0  # TCP connections the server accepted
        self.hang_up = False  # drop a connection that already delivered (an idle timeout)

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        self.sessions += 1
        session.host_name = hostname
        return responses

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.stall.is_set():
            self.stalled.set()
            while self.stall.is_set():
                await asyncio.sleep(0.05)
            return "421 closing"
        if address in self.refuse:
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append((list(envelope.rcpt_tos), message))
        session.delivered = True
        return "250 Message accepted"

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if self.hang_up and getattr(session, "delivered", False):
            server.transport.abort()  # the client finds the connection gone
            return "421 closing"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    def to(self, address: str) -> list:
        """The messages delivered to `address`."""
        return [m for rcpts, m in self.messages if address in rcpts]


class _CountingSMTP(SMTP):
    """aiosmtpd's SMTP session, counting the connections it is made for."""

    def connection_made(self, transport):
        self.event_handler.connections += 1
        super().connection_made(transport)


class _CountingController(Controller):
    def factory(self):
        return _CountingSMTP(self.handler, **self.SMTP_kwargs)


class SmtpServer:
    """A real SMTP server on 127.0.0.1 that can be stopped and started on the same port."""

    def __init__(self):
        self.port = free_port()
        self.inbox = Inbox()
        self._controller: Controller | None = None

    @property
    def messages(self):
        return self.inbox.messages

    def start(self) -> None:
        self._controller = _CountingController(self.inbox, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self.inbox.stall.clear()
            self._controller.stop()
            self._controller = None

    def wait_for(self, count: int, seconds: float = 10) -> list:
        deadline = time.monotonic() + seconds
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.messages


@pytest.fixture
def smtp_server():
    """A running SMTP server; `.messages`, `.inbox.to(addr)`, `.stop()`, `.start()`."""
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def mail_to(app, monkeypatch, smtp_server):
    """Point the app's e-mail settings at the SMTP fixture."""
    monkeypatch.setitem(app.config, "MAIL_SERVER", "127.0.0.1")
    monkeypatch.setitem(app.config, "MAIL_PORT", smtp_server.port)
    monkeypatch.setitem(app.config, "MAIL_SENDER", "CityDesk <citydesk@city.example>")
    monkeypatch.setitem(app.config, "MAIL_TIMEOUT", 5)
    return smtp_server


# --- A real webhook receiver -------------------------------------------------------------


class Receiver:
    """Records each POST; checks its signature as an agency would (401 when it fails, with the
    result in the request's "verified"); answers with the scripted statuses, then 200."""

    def __init__(self, statuses=(), delay: float = 0, secret: str = WEBHOOK_SECRET):
        self.requests: list[dict] = []
        self.statuses = list(statuses)
        self.delay = delay
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                verified = signature.verify(
                    secret,
                    body,
                    self.headers.get(signature.HEADER, ""),
                    now=clock.now().timestamp(),
                )
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                status = status if verified else 401
                receiver.requests.append(
                    {
                        "path": self.path,
                        "headers": dict(self.headers),
                        "body": body,
                        "status": status,
                        "verified": verified,
                    }
                )
                if receiver.delay:
                    time.sleep(receiver.delay)
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                except OSError:
                    pass  # the client gave up (a timeout test)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = False
        self.server.block_on_close = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/citydesk/events"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def json(self, index: int = -1) -> dict:
        return json.loads(self.requests[index]["body"])

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=5)


@pytest.fixture
def webhook_receiver(loopback_webhooks):
    """webhook_receiver(statuses=(500, 500), delay=0, secret=WEBHOOK_SECRET) → a Receiver on
    loopback (and loopback webhooks allowed for the test)."""
    made = []

    def factory(statuses=(), delay=0, secret=WEBHOOK_SECRET):
        receiver = Receiver(statuses, delay, secret)
        made.append(receiver)
        return receiver

    yield factory
    for receiver in made:
        receiver.close()


# --- Real `citydesk` processes -----------------------------------------------------------

CITYDESK = str(Path(sys.executable).parent / "citydesk")


class Process:
    """A `citydesk ...` subprocess with its output in a file; always stopped by the test."""

    def __init__(self, args, env, log_path: Path):
        self.log_path = log_path
        self._log = log_path.open("w")
        self.popen = subprocess.Popen(
            [CITYDESK, *args], env=env, stdout=self._log, stderr=subprocess.STDOUT, text=True
        )
        self.pid = self.popen.pid

    def output(self) -> str:
        return self.log_path.read_text()

    def kill(self) -> None:
        """SIGKILL: no clean-up code runs, as when a machine dies."""
        self.popen.send_signal(signal.SIGKILL)
        self.popen.wait(10)

    def stop(self) -> int:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(15)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(5)
        self._log.close()
        return self.popen.returncode


@pytest.fixture
def processes():
    """start(args, env, name) → Process; every one is stopped at the end."""
    started: list[Process] = []

    def start(args, env, log_path):
        process = Process(args, env, log_path)
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()


@pytest.fixture
def instance(tmp_path, monkeypatch):
    """An instance folder with its own SQLite database, and an app bound to it for the test
    to write and read rows (as another process would)."""
    monkeypatch.setenv("CITYDESK_INSTANCE_PATH", str(tmp_path))
    url = f"sqlite:///{tmp_path}/citydesk.sqlite3"
    app = make_app(url, tmp_path, DISPATCH_SLA_SECONDS=2)
    return tmp_path, app


# --- The supervisor's escalation ladder (issue 13) ------------------------------------------


@pytest.fixture
def seeded_ladder(app):
    """The first default ladder version, made from the configuration as migration 0017 makes
    it (the test database is emptied before each test); returns the version."""
    from models.dispatch.ladder import EscalationLadder, Rungs, seed_default

    version = seed_default(db.session.connection(), Rungs.from_config(app.config))
    db.session.commit()
    return db.session.get(EscalationLadder, version)


@pytest.fixture
def notify_now(create_user):
    """notify_now(agency="social-welfare") → a dispatch notified now by a clerk through the
    dispatch operations (so it records the ladder version in effect)."""
    from models.core import audit
    from models.dispatch import log_visit, notify

    clerk = create_user(role="clerk")

    def factory(agency="social-welfare", subject="低收入戶補助申請"):
        with audit.acting_as(audit.Actor(clerk.id, clerk.username)):
            visit = log_visit(kind="petition", subject=subject, by=clerk)
            dispatch = notify(visit, agency, by=clerk)
        db.session.commit()
        return dispatch

    return factory


@pytest.fixture
def ladder_editor(create_user):
    """A supervisor who keeps the ladder, acting as themself for the audit trail:
    `with ladder_editor() as by: save_default(..., by=by)`."""
    from contextlib import contextmanager

    from models.core import audit

    supervisor = create_user(role="supervisor", username="section-chief", name="林科長")

    @contextmanager
    def acting():
        with audit.acting_as(audit.Actor(supervisor.id, supervisor.username)):
            yield supervisor
        db.session.commit()

    return acting
