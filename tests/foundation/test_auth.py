"""Sign-in, sign-out, sessions, throttling, CSRF and route protection."""

import logging
import re

import pytest
import sqlalchemy as sa
from flask import request

from models.core import clock, db
from models.core.audit import AuditEntry
from models.core.outbox import Notification
from models.users import (
    ACCOUNT_MAX_WAIT,
    ATTACK_FAILURES,
    FREE_FAILURES,
    sign_in_wait,
)
from tests.conftest import TEST_PASSWORD, csrf_token, login, sets_session_cookie
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
    "ack.page",  # checks its acknowledgement link itself (tests/dispatch/test_ack_link.py)
    "ack.acknowledge",
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


@pytest.mark.real_password_hash
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


def test_a_stranger_cannot_lock_the_owner_out_only_slow_down_guessing(
    app, client, create_user, frozen_clock
):
    create_user(role="admin", username="target")
    for _ in range(FREE_FAILURES):  # the first few wrong passwords: no wait
        page = login(client, "target", "wrong-password").get_data(as_text=True)
        assert "帳號或密碼錯誤" in page
    # Then each try waits longer: 1 s, 2 s, 4 s… (the password is not even checked).
    page = login(client, "target", TEST_PASSWORD).get_data(as_text=True)
    assert "請於 1 秒後再試" in page
    clock.advance(seconds=1)
    for _ in range(5):
        login(client, "target", "wrong-password")
        clock.advance(seconds=16)
    # The owner, from another address, gets in after a short wait (at most 30 s), however
    # long the attack goes on.
    for _ in range(20):
        login(client, "target", "wrong-password")
        clock.advance(seconds=1)
    owner = app.test_client()
    wait = sign_in_wait("target", "10.9.8.7")
    assert 0 < wait <= ACCOUNT_MAX_WAIT.total_seconds()
    clock.advance(seconds=wait)
    response = owner.post(
        "/login",
        data={"username": "target", "password": TEST_PASSWORD},
        environ_base={"REMOTE_ADDR": "10.9.8.7"},
    )
    assert response.status_code == 302 and "/login" not in response.location


def test_one_address_guessing_many_accounts_gets_ever_slower(client, create_user, frozen_clock):
    for n in range(12):  # a new account each time, each as soon as the address may try again
        clock.advance(seconds=sign_in_wait(f"nobody{n}", "127.0.0.1"))
        assert "帳號或密碼錯誤" in login(client, f"nobody{n}", "guess-guess").get_data(as_text=True)
    # 12 failures from one address: the next try waits 2^7 s, longer than any account's cap.
    assert sign_in_wait("someone-else", "127.0.0.1") == 128 > ACCOUNT_MAX_WAIT.total_seconds()
    assert sign_in_wait("someone-else", "10.0.0.9") == 0  # another address is not slowed


def test_old_failures_expire(client, create_user, frozen_clock):
    create_user(role="clerk", username="slow")
    for _ in range(FREE_FAILURES):
        login(client, "slow", "nope-nope")
    clock.advance(minutes=16)
    assert sign_in_wait("slow", "127.0.0.1") == 0
    assert login(client, "slow", TEST_PASSWORD).status_code == 302


def test_throttling_holds_across_workers(app, csrf_app, create_user, frozen_clock):
    """Failures counted by one worker (app) count for another (a second app on the same DB)."""
    create_user(role="clerk", username="shared")
    other = csrf_app.test_client()
    for _ in range(3):
        login(app.test_client(), "shared", "bad-password")
    for _ in range(FREE_FAILURES - 3):
        login(other, "shared", "bad-password", csrf=True)
    assert sign_in_wait("shared", "127.0.0.1") > 0


@pytest.mark.real_password_hash
def test_unknown_and_known_accounts_answer_alike(client, create_user, frozen_clock, monkeypatch):
    """Same words, and one password hash checked either way (no timing difference to find)."""
    create_user(role="clerk", username="known")
    import models.users as users

    checks = []
    real = users.check_password_hash
    monkeypatch.setattr(
        users, "check_password_hash", lambda *a: checks.append(a[0][:10]) or real(*a)
    )
    pages = {}
    for name in ("known", "unknown"):
        clock.advance(minutes=16)  # each starts with no failures from this address
        checks.clear()
        pages[name] = [login(client, name, "wrong-password").get_data(as_text=True)]
        assert len(checks) == 1, name
        for _ in range(FREE_FAILURES):
            pages[name].append(login(client, name, "wrong-password").get_data(as_text=True))
    for known, unknown in zip(pages["known"], pages["unknown"], strict=True):
        assert _flash(known) == _flash(unknown)
    assert "請於" in _flash(pages["unknown"][-1])


def _flash(page: str) -> str:
    return re.search(r'<p class="flash flash-\w+">([^<]*)</p>', page).group(1)


def test_an_attack_warns_the_owner_and_the_admins_and_an_admin_clears_it(
    app, login_as, create_user, frozen_clock
):
    owner = create_user(role="clerk", username="victim")
    admin_client, admin = login_as("admin", username="chief-admin")
    attacker = app.test_client()
    for _ in range(ATTACK_FAILURES):
        clock.advance(seconds=31)  # past the account's wait: every guess is checked
        login(attacker, "victim", "wrong-password")
    notices = db.session.scalars(
        sa.select(Notification).where(Notification.kind == "auth.attack")
    ).all()
    assert {n.user_id for n in notices} == {owner.id, admin.id}
    assert all("victim" in n.payload["title"] for n in notices)
    page = admin_client.get(f"/admin/users/{owner.id}").get_data(as_text=True)
    assert "清除登入失敗紀錄" in page
    assert sign_in_wait("victim", "10.1.1.1") > 0
    admin_client.post(f"/admin/users/{owner.id}/unthrottle")
    assert sign_in_wait("victim", "10.1.1.1") == 0


def test_behind_a_configured_proxy_the_forwarded_address_counts(database_url, instance_path):
    from tests.conftest import make_app

    seen = {}
    for hops in (1, 0):
        application = make_app(database_url, instance_path, PROXY_HOPS=hops)
        application.before_request(lambda h=hops: seen.setdefault(h, request.remote_addr))
        application.test_client().get("/login", headers={"X-Forwarded-For": "203.0.113.7"})
        with application.app_context():
            db.engine.dispose()
    assert seen == {1: "203.0.113.7", 0: "127.0.0.1"}  # without a proxy the header is ignored


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


NEW_PASSWORD = "Mango-Harbour-Lantern-42"


def test_a_user_changes_their_password_and_their_other_sessions_end(app, create_user):
    """Issue 15: a change-password page for every signed-in user; the current password first;
    this session goes on, every other one ends."""
    user = create_user(role="agency", username="lin.shegong")
    here, phone = app.test_client(), app.test_client()
    assert login(here, user.username).status_code == 302
    assert login(phone, user.username).status_code == 302
    page = here.get("/account/password")
    assert page.status_code == 200 and "目前的密碼" in page.get_data(as_text=True)

    wrong = here.post(
        "/account/password",
        data={"current_password": "guess-guess", "password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
    )
    assert wrong.status_code == 422 and "這不是您目前的密碼。" in wrong.get_data(as_text=True)
    weak = here.post(
        "/account/password",
        data={"current_password": TEST_PASSWORD, "password": "12345678", "confirm": "12345678"},
    )
    assert weak.status_code == 422
    db.session.expire_all()
    assert user.check_password(TEST_PASSWORD)

    done = here.post(
        "/account/password",
        data={"current_password": TEST_PASSWORD, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
    )
    assert done.status_code == 302
    assert here.get("/agency/").status_code == 200  # still signed in here
    assert phone.get("/agency/").status_code == 302  # the other session has ended
    assert login(app.test_client(), user.username, NEW_PASSWORD).status_code == 302
    actions = db.session.scalars(
        sa.select(AuditEntry.action).where(AuditEntry.object_id == str(user.id))
    )
    assert "user.password_change" in set(actions)


@pytest.mark.parametrize("asset", ["/static/css/citydesk.css", "/sw.js", "/manifest.webmanifest"])
def test_an_asset_answered_after_a_sign_in_does_not_undo_it(csrf_app, create_user, asset):
    """A page's assets and the service worker's cache fill are requested beside the sign-in
    form's POST; one asked with the old cookie and answered after the sign-in must not send
    that old session back (the browser would keep it: signed in, then bounced to the sign-in
    page, as a phone's first visit was)."""
    create_user(role="clerk", username="racer")
    browser = csrf_app.test_client()
    token = csrf_token(browser, "/login")
    before = browser.get_cookie("citydesk_session").value
    signed_in = browser.post(
        "/login", data={"username": "racer", "password": TEST_PASSWORD, "csrf_token": token}
    )
    assert signed_in.status_code == 302 and "Set-Cookie" in signed_in.headers
    late = csrf_app.test_client()  # the asset's request, sent before the sign-in's answer came
    late.set_cookie("citydesk_session", before)
    answer = late.get(asset)
    answer.close()
    assert answer.status_code == 200
    assert not sets_session_cookie(answer)
    after = browser.get(asset)  # signed in: an asset's answer leaves the cookie alone too
    after.close()
    assert after.status_code == 200 and not sets_session_cookie(after)
    assert browser.get("/").status_code == 200  # still signed in
