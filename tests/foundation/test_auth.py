"""Sign-in, sign-out, sessions, throttling, CSRF and route protection."""

import logging
import re

import pytest
import sqlalchemy as sa

from models.core import clock, db
from models.core.audit import AuditEntry
from models.users import User
from tests.conftest import TEST_PASSWORD, csrf_token, login
from webapp.security import PUBLIC_ENDPOINTS

EXPECTED_PUBLIC = {
    "static",
    "auth.login",
    "main.set_language",
    "api-docs.openapi_json",
    "main.service_worker",
    "main.manifest",
    "desk.wall_display",  # checks its display link itself (tests/dispatch/test_display.py)
    "display.display_feed",
}


def _sample_url(rule) -> str:
    values = {}
    for name, converter in rule._converters.items():
        values[name] = 1 if type(converter).__name__ == "IntegerConverter" else "x"
    return rule.build(values, append_unknown=False)[1]


def test_every_route_except_the_public_list_refuses_anonymous_requests(app, client):
    assert PUBLIC_ENDPOINTS == EXPECTED_PUBLIC
    checked = 0
    for rule in app.url_map.iter_rules():
        if rule.endpoint in PUBLIC_ENDPOINTS:
            continue
        url = _sample_url(rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            response = client.open(url, method=method)
            checked += 1
            if url.startswith("/api/"):
                assert response.status_code == 401, (method, url)
                assert response.json["error"] == "unauthorized"
            else:
                assert response.status_code == 302, (method, url, response.status_code)
                assert "/login" in response.location, (method, url)
    assert checked > 20


def test_public_pages_answer_anonymously(client):
    assert client.get("/login").status_code == 200
    assert client.get("/api/v1/openapi.json").status_code == 200
    with client.get("/sw.js") as worker:
        assert worker.status_code == 200
        assert worker.headers["Service-Worker-Allowed"] == "/"
        assert "javascript" in worker.mimetype
    manifest = client.get("/manifest.webmanifest")
    assert manifest.mimetype == "application/manifest+json"
    assert manifest.json["display"] == "standalone"
    with client.get("/static/css/citydesk.css") as response:
        assert response.status_code == 200


def test_post_without_csrf_token_is_refused(csrf_app, create_user):
    create_user(role="supervisor", username="chief")
    client = csrf_app.test_client()
    assert (
        client.post("/login", data={"username": "chief", "password": TEST_PASSWORD}).status_code
        == 400
    )
    assert login(client, "chief", csrf=True).status_code == 302
    response = client.post(
        "/admin/settings", data={"target-year": "2030", "target-target": "90", "target-submit": "1"}
    )
    assert response.status_code == 400
    assert "表單已逾時或來源不符" in response.get_data(as_text=True)
    assert (
        db.session.execute(sa.text("select count(*) from year_target where year = 2030")).scalar()
        == 0
    )
    token = csrf_token(client, "/admin/settings")
    response = client.post(
        "/admin/settings",
        data={
            "csrf_token": token,
            "target-year": "2030",
            "target-target": "90",
            "target-submit": "1",
        },
    )
    assert response.status_code == 302
    assert (
        db.session.execute(sa.text("select count(*) from year_target where year = 2030")).scalar()
        == 1
    )


def test_password_is_never_stored_or_logged_in_clear(app, client, create_user, caplog):
    secret = "Un1que-Passw0rd-Marker"
    caplog.set_level(logging.DEBUG)
    user = create_user(role="clerk", username="pwcheck", password=secret)
    assert user.password_hash.startswith("scrypt:")
    login(client, "pwcheck", secret)
    login(app.test_client(), "pwcheck", secret + "-wrong")
    dump = []
    for table in db.metadata.sorted_tables:
        for row in db.session.execute(table.select()):
            dump.append(repr(tuple(row)))
    assert secret not in "\n".join(dump)
    assert secret not in caplog.text


def test_the_eleventh_wrong_password_locks_the_account(client, create_user, frozen_clock):
    create_user(role="clerk", username="target")
    for _ in range(10):
        page = login(client, "target", "wrong-password").get_data(as_text=True)
        assert "帳號或密碼錯誤" in page
    page = login(client, "target", "wrong-password").get_data(as_text=True)
    assert "此帳號已鎖定 15 分鐘" in page
    # Locked means locked: the right password is refused too, until the lock runs out.
    page = login(client, "target", TEST_PASSWORD).get_data(as_text=True)
    assert "此帳號已鎖定 15 分鐘" in page
    clock.advance(minutes=15, seconds=1)
    assert login(client, "target", TEST_PASSWORD).status_code == 302


def test_nine_failures_do_not_lock_and_old_failures_expire(client, create_user, frozen_clock):
    create_user(role="clerk", username="slow")
    for _ in range(9):
        login(client, "slow", "nope-nope")
    clock.advance(minutes=16)
    for _ in range(9):
        login(client, "slow", "nope-nope")
    assert login(client, "slow", TEST_PASSWORD).status_code == 302


def test_throttling_holds_across_workers(app, csrf_app, create_user):
    """Failures counted by one worker (app) count for another (a second app on the same DB)."""
    create_user(role="clerk", username="shared")
    other = csrf_app.test_client()
    for _ in range(5):
        login(app.test_client(), "shared", "bad-password")
    for _ in range(5):
        login(other, "shared", "bad-password", csrf=True)
    user = db.session.scalar(sa.select(User).where(User.username == "shared"))
    db.session.refresh(user)
    assert user.is_locked()


def test_a_signed_out_session_cookie_replayed_is_refused(app, client, create_user):
    create_user(role="clerk", username="leaver")
    login(client, "leaver")
    cookie = client.get_cookie("citydesk_session").value
    assert client.get("/").status_code == 200
    assert client.post("/logout").status_code == 302
    replay = app.test_client()
    replay.set_cookie("citydesk_session", cookie)
    response = replay.get("/")
    assert response.status_code == 302 and "/login" in response.location


def test_sign_in_clears_the_previous_session(client, create_user):
    create_user(role="clerk", username="fresh")
    with client.session_transaction() as session:
        session["planted"] = "by-an-attacker"
    login(client, "fresh")
    with client.session_transaction() as session:
        assert "planted" not in session


def test_session_cookie_flags(app, create_user):
    create_user(role="clerk", username="cookie")
    client = app.test_client()
    header = login(client, "cookie").headers["Set-Cookie"]
    assert "HttpOnly" in header and "SameSite=Lax" in header and "Secure" not in header
    app.config["SESSION_COOKIE_SECURE"] = True
    try:
        header = login(app.test_client(), "cookie").headers["Set-Cookie"]
        assert "Secure" in header
    finally:
        app.config["SESSION_COOKIE_SECURE"] = False


def test_an_idle_session_expires_after_30_minutes(client, create_user, frozen_clock):
    create_user(role="clerk", username="idle")
    login(client, "idle")
    clock.advance(minutes=29)
    assert client.get("/").status_code == 200
    clock.advance(minutes=29)  # activity at 29 min restarted the idle clock
    assert client.get("/").status_code == 200
    clock.advance(minutes=30, seconds=1)
    response = client.get("/")
    assert response.status_code == 302 and "/login" in response.location
    assert "閒置過久" in client.get("/login").get_data(as_text=True)


def test_a_live_pages_polling_does_not_keep_the_session_past_the_idle_timeout(
    client, create_user, frozen_clock
):
    create_user(role="clerk", username="watcher")
    login(client, "watcher")
    poll = {"X-CityDesk-Poll": "1"}
    for _minute in range(15):  # the live board polls on for half an hour with no one at it
        clock.advance(minutes=2)
        assert client.get("/api/v1/dispatches/open", headers=poll).status_code == 200
    clock.advance(seconds=1)
    response = client.get("/api/v1/dispatches/open", headers=poll)
    assert response.status_code == 401
    assert response.json["message"] == "Session expired"


def test_a_deactivated_user_is_signed_out_and_cannot_sign_in(app, login_as):
    from models.users import update_user

    client, user = login_as("clerk")
    update_user(user, active=False)
    db.session.commit()
    assert client.get("/").status_code == 302
    assert "帳號或密碼錯誤" in login(app.test_client(), user.username).get_data(as_text=True)


def test_an_agency_user_cannot_open_admin_pages(login_as):
    client, _user = login_as("agency", agency="health")
    for url in [
        "/admin/users",
        "/admin/agencies",
        "/admin/tokens",
        "/admin/settings",
        "/admin/audit",
    ]:
        response = client.get(url)
        assert response.status_code == 403, url
        assert "Traceback" not in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        (
            "admin",
            {
                "/admin/users",
                "/admin/agencies",
                "/admin/building",
                "/admin/tokens",
                "/admin/settings",
                "/admin/audit",
            },
        ),
        ("supervisor", {"/admin/settings", "/admin/audit"}),
        ("clerk", set()),
        ("facility", set()),
    ],
)
def test_admin_pages_by_role(login_as, role, allowed):
    client, _user = login_as(role)
    for url in [
        "/admin/users",
        "/admin/agencies",
        "/admin/building",
        "/admin/tokens",
        "/admin/settings",
        "/admin/audit",
    ]:
        assert client.get(url).status_code == (200 if url in allowed else 403), (role, url)


def test_sign_in_success_and_failure_are_audited(client, create_user):
    user = create_user(role="clerk", username="audited")
    login(client, "audited", "not-the-password")
    login(client, "nobody-like-this", "whatever-pass")
    login(client, "audited")
    rows = db.session.scalars(
        sa.select(AuditEntry).where(AuditEntry.action.like("auth.%")).order_by(AuditEntry.id)
    ).all()
    assert [(r.action, r.user_id, r.actor) for r in rows] == [
        ("auth.login_failed", user.id, "audited"),
        ("auth.login_failed", None, "nobody-like-this"),
        ("auth.login", user.id, "audited"),
    ]
    assert all(r.ip == "127.0.0.1" and r.at.tzinfo is not None for r in rows)


def test_sign_out_is_audited(login_as):
    client, user = login_as("clerk")
    client.post("/logout")
    actions = db.session.scalars(
        sa.select(AuditEntry.action).where(AuditEntry.user_id == user.id)
    ).all()
    assert "auth.logout" in actions


def test_open_redirect_after_sign_in_is_refused(client, create_user):
    create_user(role="clerk", username="redir")
    response = client.post(
        "/login?next=//evil.example/", data={"username": "redir", "password": TEST_PASSWORD}
    )
    assert response.location == "/"


def test_the_home_page_renders_in_both_languages(login_as):
    client, user = login_as("clerk", name="王小明")
    page = client.get("/").get_data(as_text=True)
    assert "王小明，您好" in page and 'lang="zh-Hant-TW"' in page
    client.post("/language", data={"lang": "en", "next": "/"})
    page = client.get("/").get_data(as_text=True)
    assert "Hello, 王小明" in page and 'lang="en"' in page
    db.session.refresh(user)
    assert user.locale == "en"  # remembered on the account


def test_language_switch_before_sign_in(client):
    client.post("/language", data={"lang": "en", "next": "/login"})
    assert "<h1>Sign in</h1>" in client.get("/login").get_data(as_text=True)


def test_the_actor_of_a_request_is_recorded(login_as):
    client, user = login_as("supervisor")
    client.post(
        "/admin/settings",
        data={"target-year": "2031", "target-target": "88.5", "target-submit": "1"},
    )
    row = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "target.update"))
    assert (row.user_id, row.actor, row.after) == (user.id, user.username, {"target": "88.50"})


def test_login_page_has_no_stack_trace_on_garbage(client):
    response = client.post("/login", data={"username": "x" * 500, "password": ""})
    assert response.status_code == 200
    assert re.search(r"class=\"error\"", response.get_data(as_text=True))
