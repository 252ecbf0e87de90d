"""The citydesk command: create-user, create-token, demo — clear messages and exit codes."""

import re

import pytest
import sqlalchemy as sa

from models.core import db
from models.users import ApiToken, User, revoke_token


def test_create_user_reads_the_password_from_stdin(run_cli, client):
    result = run_cli(
        "create-user",
        "wang",
        "--role",
        "agency",
        "--agency",
        "health",
        "--name",
        "王",
        "--email",
        "wang@example.gov.tw",
        input="s3cret-enough\n",
    )
    assert result.exit_code == 0, result.output
    assert "s3cret-enough" not in result.output
    user = db.session.scalar(sa.select(User).where(User.username == "wang"))
    assert (user.role, user.agency.code, user.name, user.email) == (
        "agency",
        "health",
        "王",
        "wang@example.gov.tw",
    )
    assert (
        client.post("/login", data={"username": "wang", "password": "s3cret-enough"}).status_code
        == 302
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["create-user", "x1", "--role", "boss"], "無此角色：boss"),
        (
            ["create-user", "x2", "--role", "agency", "--agency", "nowhere"],
            "查無機關：nowhere",
        ),
        (["create-user", "x3", "--role", "agency"], "機關人員帳號須指定所屬機關"),
        (
            ["create-user", "x4", "--role", "clerk", "--agency", "health"],
            "只有機關人員帳號可指定所屬機關",
        ),
        (["create-user", "bad name!", "--role", "clerk"], "帳號為 2 至 64 個"),
    ],
)
def test_create_user_refuses_bad_input_clearly(run_cli, args, message):
    result = run_cli(*args, input="long-enough-pw\n")
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output
    assert db.session.scalar(sa.select(sa.func.count(User.id))) == 0


def test_create_user_refuses_a_duplicate_username_and_a_short_password(run_cli):
    assert run_cli("create-user", "dup", "--role", "clerk", input="long-enough-pw\n").exit_code == 0
    result = run_cli("create-user", "DUP", "--role", "clerk", input="long-enough-pw\n")
    assert result.exit_code != 0 and "帳號 DUP 已有人使用。" in result.output
    result = run_cli("create-user", "shorty", "--role", "clerk", input="short\n")
    assert result.exit_code != 0 and "密碼至少需要 10 個字元" in result.output
    result = run_cli("create-user", "empty", "--role", "clerk", input="\n")
    assert result.exit_code != 0 and "標準輸入未提供密碼" in result.output


def test_create_token_prints_a_token_that_works_until_revoked(run_cli, app, create_user):
    create_user(role="clerk", username="robot")
    result = run_cli("create-token", "robot", "--name", "kiosk")
    assert result.exit_code == 0, result.output
    token = result.output.strip()
    assert re.fullmatch(r"cd_[\w-]{40,}", token)
    stored = db.session.scalar(sa.select(ApiToken))
    assert token not in stored.token_hash and len(stored.token_hash) == 64
    client = app.test_client()
    response = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200 and response.json["username"] == "robot"
    assert "Set-Cookie" not in response.headers  # token calls open no session
    revoke_token(stored)
    db.session.commit()
    response = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401 and response.json["error"] == "unauthorized"
    response = client.get("/api/v1/me", headers={"Authorization": "Bearer cd_forged"})
    assert response.status_code == 401


def test_create_token_for_an_unknown_user(run_cli):
    result = run_cli("create-token", "ghost")
    assert result.exit_code != 0 and "查無帳號：ghost" in result.output


def test_bearer_token_writes_need_no_csrf_but_sessions_do(csrf_app, run_cli, create_user):
    create_user(role="clerk", username="bot")
    token = run_cli("create-token", "bot").output.strip()
    client = csrf_app.test_client()
    # A POST to a GET-only endpoint: with a token the CSRF check is skipped (405, not 400).
    response = client.post("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 405
    response = client.post("/language", data={"lang": "en"})
    assert response.status_code == 400


def test_demo_creates_a_user_for_every_role_and_prints_passwords_once(run_cli, client):
    result = run_cli("demo")
    assert result.exit_code == 0, result.output
    passwords = dict(re.findall(r"^\s+(\S+)\s+(demo-\w+)$", result.output, re.M))
    roles = {u.role for u in db.session.scalars(sa.select(User))}
    assert roles == {"clerk", "agency", "facility", "supervisor", "admin"}
    assert set(passwords) == set(db.session.scalars(sa.select(User.username)))
    assert (
        client.post(
            "/login", data={"username": "clerk", "password": passwords["clerk"]}
        ).status_code
        == 302
    )
    again = run_cli("demo")
    assert again.exit_code == 0 and "demo-" not in again.output


@pytest.mark.parametrize(
    ("password", "why"),
    [
        ("password", "at least 10 characters"),
        ("12345678", "at least 10 characters"),
        ("password1234", "common or easy to guess"),
        ("1234567890", "common or easy to guess"),
        ("chen.weiming", "may not be the username"),
        ("qwertyuiop", "common or easy to guess"),
    ],
)
def test_create_user_refuses_a_weak_password_and_says_why(run_cli, monkeypatch, password, why):
    monkeypatch.setenv("LANG", "en_US.UTF-8")  # the CLI speaks its environment's language
    result = run_cli("create-user", "chen.weiming", "--role", "clerk", input=password + "\n")
    assert result.exit_code != 0
    assert why in result.output
    assert "Traceback" not in result.output
    assert db.session.scalar(sa.select(sa.func.count(User.id))) == 0


def test_set_password_resets_a_forgotten_password_and_ends_sessions(app, run_cli, create_user):
    """Issue 15: `citydesk set-password USERNAME` (stdin), with the same password rules."""
    from tests.conftest import TEST_PASSWORD, login

    user = create_user(role="clerk", username="chen.clerk")
    client = app.test_client()
    assert login(client, user.username).status_code == 302
    assert client.get("/desk/board").status_code == 200
    weak = run_cli("set-password", "chen.clerk", input="chen.clerk\n")
    assert weak.exit_code == 1 and "Traceback" not in weak.output
    assert run_cli("set-password", "nobody", input="Mango-Harbour-Lantern-42\n").exit_code == 1
    done = run_cli("set-password", "chen.clerk", input="Mango-Harbour-Lantern-42\n")
    assert done.exit_code == 0, done.output
    assert "chen.clerk" in done.output
    assert client.get("/desk/board").status_code == 302  # signed out everywhere
    assert login(app.test_client(), user.username, TEST_PASSWORD).status_code == 200
    assert login(app.test_client(), user.username, "Mango-Harbour-Lantern-42").status_code == 302
