"""Administration pages: users, agencies, building, tokens, targets and settings, audit trail."""

from decimal import Decimal

import pytest
import sqlalchemy as sa

from models.core import db
from models.core.audit import AuditEntry
from models.reference import Agency, Floor, YearTarget, Zone, sla_seconds
from models.users import ApiToken, User
from tests.conftest import TEST_PASSWORD


def _user(username):
    return db.session.scalar(sa.select(User).where(User.username == username))


def test_admin_adds_a_user(login_as):
    client, _admin = login_as("admin")
    response = client.post(
        "/admin/users/new",
        data={
            "username": "lin",
            "name": "林社工",
            "email": "lin@example.gov.tw",
            "role": "agency",
            "agency": "social-welfare",
            "password": "long-enough-1",
            "locale": "",
            "active": "y",
        },
    )
    assert response.status_code == 302
    user = _user("lin")
    assert (user.role, user.agency.code, user.active) == ("agency", "social-welfare", True)
    assert db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "user.create"))


def test_admin_form_errors_for_bad_input(login_as, create_user):
    client, _admin = login_as("admin")
    create_user(role="clerk", username="taken")
    base = {
        "name": "x",
        "email": "",
        "role": "clerk",
        "agency": "",
        "locale": "",
        "password": "long-enough-1",
        "active": "y",
    }
    page = client.post("/admin/users/new", data={**base, "username": "taken"}).get_data(
        as_text=True
    )
    assert "帳號 taken 已有人使用。" in page
    page = client.post(
        "/admin/users/new",
        data={**base, "username": "ag", "role": "agency", "agency": "no-such-agency"},
    ).get_data(as_text=True)
    assert 'class="error"' in page and _user("ag") is None
    page = client.post(
        "/admin/users/new", data={**base, "username": "ag2", "role": "agency"}
    ).get_data(as_text=True)
    assert "機關人員帳號須指定所屬機關" in page and _user("ag2") is None
    page = client.post(
        "/admin/users/new", data={**base, "username": "ro", "role": "king"}
    ).get_data(as_text=True)
    assert 'class="error"' in page and _user("ro") is None
    page = client.post(
        "/admin/users/new", data={**base, "username": "np", "password": ""}
    ).get_data(as_text=True)
    assert "新使用者需要設定密碼" in page and _user("np") is None


def test_admin_deactivates_a_user(app, login_as, create_user):
    client, _admin = login_as("admin")
    target = create_user(role="clerk", username="quitter")
    response = client.post(
        f"/admin/users/{target.id}",
        data={
            "username": "quitter",
            "name": "Q",
            "email": "",
            "role": "clerk",
            "agency": "",
            "locale": "",
            "password": "",
        },
    )
    assert response.status_code == 302
    db.session.expire_all()
    assert _user("quitter").active is False
    refused = app.test_client().post(
        "/login", data={"username": "quitter", "password": TEST_PASSWORD}
    )
    assert refused.status_code == 200 and "帳號或密碼錯誤" in refused.get_data(as_text=True)


def test_admin_edits_an_agency_and_adds_one(login_as):
    client, _admin = login_as("admin")
    response = client.post(
        "/admin/agencies/health",
        data={
            "name_zh": "衛生局",
            "name_en": "Department of Health",
            "has_desk": "y",
            "extension": "2222",
            "emails": "a@health.gov.tw\nb@health.gov.tw",
            "webhook_url": "",
            "webhook_secret": "",
            "sort_order": "1",
            "active": "y",
        },
    )
    assert response.status_code == 302
    health = db.session.scalar(sa.select(Agency).where(Agency.code == "health"))
    db.session.refresh(health)
    assert health.extension == "2222" and health.email_list == [
        "a@health.gov.tw",
        "b@health.gov.tw",
    ]
    response = client.post(
        "/admin/agencies/new",
        data={
            "code": "fire",
            "name_zh": "消防局",
            "name_en": "Fire Department",
            "extension": "",
            "emails": "",
            "webhook_url": "",
            "webhook_secret": "",
            "sort_order": "50",
            "active": "y",
        },
    )
    assert response.status_code == 302
    page = client.post(
        "/admin/agencies/new",
        data={"code": "fire", "name_zh": "消防局", "name_en": "Fire", "sort_order": "50"},
    ).get_data(as_text=True)
    assert "機關代碼 fire 已有人使用。" in page


def test_agency_addresses_are_checked_one_by_one_and_nothing_is_saved_with_a_bad_one(
    login_as,
):
    client, _admin = login_as("admin")
    form = {
        "name_zh": "衛生局",
        "name_en": "Department of Health",
        "extension": "2222",
        "emails": "a@health.gov.tw\nabc@\nc@health.gov.tw, not-an-address",
        "sort_order": "1",
        "active": "y",
    }
    response = client.post("/admin/agencies/health", data=form)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    start = page.index('id="emails-error"')
    error = page[start : page.index("</p>", start)]
    assert "第2個地址「abc@」不是正確的電子郵件地址。" in error  # named, with its place
    assert "第4個地址「not-an-address」" in error  # every bad one, not only the first
    assert "a@health.gov.tw」" not in error and "c@health.gov.tw」" not in error
    health = db.session.scalar(sa.select(Agency).where(Agency.code == "health"))
    db.session.refresh(health)
    assert health.extension != "2222" and "abc@" not in health.emails  # nothing saved

    form["emails"] = "a@health.gov.tw\nc@health.gov.tw"
    assert client.post("/admin/agencies/health", data=form).status_code == 302
    db.session.refresh(health)
    assert health.email_list == ["a@health.gov.tw", "c@health.gov.tw"]


def test_the_agency_operations_refuse_a_bad_address_naming_it(app, english):
    from models.core.errors import InvalidInput
    from models.reference import create_agency

    with pytest.raises(InvalidInput) as refused:
        create_agency("fire", "消防局", "Fire", emails="ok@fire.gov.tw\nfire@")
    assert refused.value.message == "Address 2, fire@, is not an e-mail address."
    assert refused.value.field == "emails"
    assert db.session.scalar(sa.select(Agency).where(Agency.code == "fire")) is None


def _agency_form(**fields) -> dict:
    data = {
        "name_zh": "衛生局",
        "name_en": "Department of Health",
        "extension": "",
        "emails": "",
        "webhook_url": "",
        "webhook_secret": "s3cret",
        "sort_order": "1",
        "active": "y",
    }
    data.update(fields)
    return data


def test_admin_cannot_point_a_webhook_at_the_server_or_the_metadata_address(login_as, app):
    client, _admin = login_as("admin")
    loopback = "此位址是 CityDesk 伺服器本身（迴路位址），Webhook 不得指向此處。"
    refusals = {
        "http://127.0.0.1:5432/": loopback,
        "http://localhost/hook": loopback,
        "http://169.254.169.254/latest/": "此為雲端中繼資料服務位址，Webhook 不得指向此處。",
        "http://[fe80::1]/": "不得使用鏈路本機位址（169.254.x.x、fe80::）。",
        "http://0.0.0.0:80/": "未指定位址（0.0.0.0 或 ::）無法接收 Webhook。",
    }
    for url, message in refusals.items():
        response = client.post("/admin/agencies/health", data=_agency_form(webhook_url=url))
        assert response.status_code == 200, url
        assert message in response.get_data(as_text=True), url
        db.session.expire_all()
        health = db.session.scalar(sa.select(Agency).where(Agency.code == "health"))
        assert health.webhook_url == "", url
    page = client.post(
        "/admin/agencies/new",
        data=_agency_form(code="fire", name_zh="消防局", webhook_url="http://127.0.0.1:5432/"),
    ).get_data(as_text=True)
    assert "此位址是 CityDesk 伺服器本身" in page
    assert db.session.scalar(sa.select(Agency).where(Agency.code == "fire")) is None

    # An agency's own system on a private network stays allowed.
    response = client.post(
        "/admin/agencies/health", data=_agency_form(webhook_url="http://10.20.30.40:8443/hook")
    )
    assert response.status_code == 302
    db.session.expire_all()
    health = db.session.scalar(sa.select(Agency).where(Agency.code == "health"))
    assert health.webhook_url == "http://10.20.30.40:8443/hook"


def test_a_server_can_turn_private_webhook_addresses_off(login_as, app, monkeypatch):
    monkeypatch.setitem(app.config, "WEBHOOK_ALLOW_PRIVATE", False)
    client, _admin = login_as("admin")
    response = client.post(
        "/admin/agencies/health", data=_agency_form(webhook_url="http://192.168.1.20/hook")
    )
    assert response.status_code == 200
    assert "本伺服器已停用以私有網段位址作為 Webhook。" in response.get_data(as_text=True)


def test_admin_edits_zones_and_floors(login_as):
    client, _admin = login_as("admin")
    client.post(
        "/admin/building",
        data={
            "zone-code": "northeast",
            "zone-name_zh": "東北區(新)",
            "zone-name_en": "NE",
            "zone-sort_order": "0",
            "zone-active": "y",
            "zone-submit": "1",
        },
    )
    assert (
        db.session.scalar(sa.select(Zone.name_zh).where(Zone.code == "northeast")) == "東北區(新)"
    )
    client.post(
        "/admin/building", data={"floor-code": "13F", "floor-sort_order": "20", "floor-submit": "1"}
    )
    assert db.session.scalar(sa.select(Floor).where(Floor.code == "13F")) is not None
    page = client.post(
        "/admin/building", data={"floor-code": "lobby", "floor-submit": "1"}
    ).get_data(as_text=True)
    assert 'class="error"' in page
    client.post("/admin/building/floors/13F/toggle")
    assert db.session.scalar(sa.select(Floor.active).where(Floor.code == "13F")) is False


def test_admin_issues_and_revokes_a_token(login_as, create_user):
    client, _admin = login_as("admin")
    create_user(role="clerk", username="kiosk")
    page = client.post("/admin/tokens", data={"username": "kiosk", "name": "lobby kiosk"}).get_data(
        as_text=True
    )
    assert "請立即複製此權杖" in page
    token = db.session.scalar(sa.select(ApiToken))
    client.post(f"/admin/tokens/{token.id}/revoke")
    db.session.refresh(token)
    assert token.revoked_at is not None
    page = client.post("/admin/tokens", data={"username": "ghost"}).get_data(as_text=True)
    assert "查無帳號：ghost" in page


def test_supervisor_sets_targets_and_the_time_limit(login_as):
    client, _sup = login_as("supervisor")
    client.post(
        "/admin/settings",
        data={"target-year": "2025", "target-target": "87.5", "target-submit": "1"},
    )
    assert db.session.get(YearTarget, 2025).dispatch_target == Decimal("87.50")
    page = client.post(
        "/admin/settings",
        data={"target-year": "2025", "target-target": "150", "target-submit": "1"},
    ).get_data(as_text=True)
    assert 'class="error"' in page
    # The year typed as ROC (116 is 2027); a bad year is said at the field and saves nothing.
    client.post(
        "/admin/settings",
        data={"target-year": "116", "target-target": "88", "target-submit": "1"},
    )
    assert db.session.get(YearTarget, 2027).dispatch_target == Decimal("88.00")
    page = client.post(
        "/admin/settings",
        data={"target-year": "1999", "target-target": "88", "target-submit": "1"},
    ).get_data(as_text=True)
    start = page.index('id="target-year-error"')
    assert "請輸入89年至189年之間的年份。" in page[start : page.index("</p>", start)]
    assert db.session.get(YearTarget, 1999) is None
    client.post("/admin/settings", data={"sla-minutes": "12", "sla-submit": "1"})
    assert sla_seconds() == 720
    page = client.post("/admin/settings", data={"sla-minutes": "0", "sla-submit": "1"}).get_data(
        as_text=True
    )
    assert 'class="error"' in page and sla_seconds() == 720


def test_audit_page_lists_and_filters(login_as, create_user):
    client, _sup = login_as("supervisor")
    create_user(role="clerk", username="someone")
    page = client.get("/admin/audit").get_data(as_text=True)
    assert 'title="user.create">新增使用者<' in page and 'title="auth.login">登入<' in page
    page = client.get("/admin/audit?action=user.").get_data(as_text=True)
    assert 'title="user.create">' in page and 'title="auth.login">' not in page


def test_the_admin_page_refuses_a_weak_password_on_its_field(login_as, create_user):
    client, _admin = login_as("admin")
    data = {
        "username": "wu",
        "name": "吳科員",
        "email": "",
        "role": "clerk",
        "agency": "",
        "locale": "",
        "active": "y",
    }
    page = client.post("/admin/users/new", data={**data, "password": "wu"}).get_data(as_text=True)
    assert "密碼至少需要 10 個字元" in page and 'id="password-error"' in page
    assert _user("wu") is None
    page = client.post("/admin/users/new", data={**data, "password": "password123"})
    assert "容易被猜中" in page.get_data(as_text=True) and _user("wu") is None
    user = create_user(role="clerk", username="huang")
    page = client.post(
        f"/admin/users/{user.id}", data={**data, "username": "huang", "password": "huang12345"}
    ).get_data(as_text=True)
    assert "容易被猜中" in page and 'id="password-error"' in page
