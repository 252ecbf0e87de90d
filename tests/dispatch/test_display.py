"""The wall display link: an administrator makes a revocable link; a screen with no one signed
in shows the live board by it, with no personal data, until the link is revoked."""

import re

import pytest
from sqlalchemy import select

from models.core import audit, db
from models.dispatch import DisplayLink, acknowledge
from tests.conftest import browser_login, screenshot

PERSONAL = ["王小明", "0912345678", "低收入戶補助申請", "林社工", "陳櫃台", "Senior", "長者"]


@pytest.fixture
def admin_client(login_as):
    client, _admin = login_as("admin", username="sysadmin", name="系統管理員")
    return client


def make_link(admin_client, name="一樓大廳電視") -> str:
    """Make a display link through the admin page; returns its path (shown once)."""
    page = admin_client.post("/admin/display-links", data={"name": name}).get_data(as_text=True)
    match = re.search(
        r"<code class=\"token\" data-display-link>http://[^/]+(/desk/board/wall/[^<]+)</code>", page
    )
    assert match, "the new link is shown once on the page"
    return match.group(1)


def revoke(admin_client, name="一樓大廳電視") -> None:
    link = db.session.scalar(select(DisplayLink).where(DisplayLink.name == name))
    response = admin_client.post(f"/admin/display-links/{link.id}/revoke")
    assert response.status_code == 302


def test_a_display_link_shows_the_board_without_a_session_and_no_personal_data(
    app, admin_client, make_dispatch
):
    dispatch = make_dispatch(
        petitioner_name="王小明", petitioner_phone="0912345678", is_senior=True
    )
    path = make_link(admin_client)
    screen = app.test_client()  # nobody signed in

    page = screen.get(path)
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"
    html = page.get_data(as_text=True)
    assert f'data-id="{dispatch.id}"' in html
    assert "社會局" in html
    for text in PERSONAL:
        assert text not in html, text

    feed_url = re.search(r'data-source="([^"]+)"', html).group(1)
    feed = screen.get(feed_url)
    assert feed.status_code == 200
    assert [d["id"] for d in feed.json["dispatches"]] == [dispatch.id]
    shown = feed.json["dispatches"][0]
    assert set(shown) == {
        "id",
        "agency",
        "agency_name",
        "agency_extension",
        "kind",
        "state",
        "notified_at",
        "deadline_at",
        "acknowledged_at",
        "eta_minutes",
    }
    for text in PERSONAL:
        assert text not in feed.get_data(as_text=True), text


def test_the_display_link_opens_nothing_else(app, admin_client):
    path = make_link(admin_client)
    screen = app.test_client()
    assert screen.get(path).status_code == 200
    assert screen.get("/desk/board").status_code == 302  # to the sign-in page
    assert screen.get("/api/v1/dispatches/open").status_code == 401
    secret = path.rsplit("/", 1)[1]
    assert (
        screen.get(
            "/api/v1/dispatches/open", headers={"Authorization": f"Bearer {secret}"}
        ).status_code
        == 401
    )


def test_a_revoked_or_unknown_link_stops_working(app, admin_client, make_dispatch):
    make_dispatch()
    path = make_link(admin_client)
    screen = app.test_client()
    feed_url = re.search(r'data-source="([^"]+)"', screen.get(path).get_data(as_text=True)).group(1)

    revoke(admin_client)
    page = screen.get(path)
    assert page.status_code == 404
    assert "顯示連結已無法使用" in page.get_data(as_text=True)
    assert "社會局" not in page.get_data(as_text=True)
    feed = screen.get(feed_url)
    assert feed.status_code == 401
    assert feed.json["message"] == "This display link is revoked or unknown"
    assert screen.get("/desk/board/wall/wall_" + "x" * 43).status_code == 404
    assert screen.get("/api/v1/display/nonsense/open").status_code == 401


def test_making_and_revoking_a_link_is_audited_and_only_the_hash_is_stored(admin_client):
    path = make_link(admin_client)
    secret = path.rsplit("/", 1)[1]
    link = db.session.scalar(select(DisplayLink))
    assert secret not in link.token_hash and len(link.token_hash) == 64
    assert link.created_by.username == "sysadmin"
    revoke(admin_client)
    actions = [
        e.action for e in db.session.scalars(select(audit.AuditEntry).order_by(audit.AuditEntry.id))
    ]
    assert "display_link.create" in actions and "display_link.revoke" in actions
    listing = admin_client.get("/admin/display-links").get_data(as_text=True)
    assert secret not in listing  # shown once, never again


def test_only_an_administrator_makes_display_links(login_as):
    for role in ("clerk", "supervisor"):
        client, _user = login_as(role)
        assert client.get("/admin/display-links").status_code == 403
        assert client.post("/admin/display-links", data={"name": "x"}).status_code == 403
    assert db.session.scalar(select(DisplayLink)) is None


def test_a_display_link_needs_a_name(admin_client):
    response = admin_client.post("/admin/display-links", data={"name": "   "})
    assert "data-display-link" not in response.get_data(as_text=True)
    assert db.session.scalar(select(DisplayLink)) is None


@pytest.mark.browser
def test_a_wall_screen_follows_new_dispatches_by_its_link_until_revoked(
    csrf_app, new_page, create_user, make_dispatch
):
    create_user(role="admin", username="wallsadmin", name="系統管理員")
    admin = new_page()
    browser_login(admin, "wallsadmin")
    admin.goto("/admin/display-links")
    admin.locator("#name").fill("一樓大廳電視")
    admin.locator("main form [type=submit]").first.click()
    link = admin.locator("[data-display-link]").inner_text()

    screen = new_page()  # a separate browser: no one signed in
    screen.goto(link)
    assert screen.locator("[data-live-empty]").is_visible()
    dispatch = make_dispatch(petitioner_name="王小明")
    item = screen.locator(f'.live-item[data-id="{dispatch.id}"]')
    item.wait_for(state="visible", timeout=5_000)
    assert item.locator("[data-field=agency]").inner_text() == "社會局"
    assert item.locator(".when-waiting").is_visible()
    acknowledge(dispatch, "林社工", 5, by=dispatch.notified_by)
    db.session.commit()
    item.locator(".when-acknowledged").wait_for(state="visible", timeout=5_000)
    body = screen.locator("body").inner_text()
    for text in PERSONAL:
        assert text not in body, text
    screenshot(screen, "display/wall-by-link")

    admin.goto("/admin/display-links")
    admin.get_by_role("button", name="撤銷").first.click()
    admin.wait_for_url("**/admin/display-links")
    status = screen.locator("[data-live-status]")
    status.filter(has_text="顯示連結已無法使用").wait_for(timeout=5_000)
