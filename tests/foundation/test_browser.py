"""The foundation in a real browser: sign-in, home page per role, language switch."""

import pytest

from tests.conftest import PHONE, browser_login, screenshot

pytestmark = pytest.mark.browser


def test_clerk_signs_in_and_switches_language(new_page, create_user):
    create_user(role="clerk", username="counter1", name="陳櫃台")
    page = new_page()
    browser_login(page, "counter1")
    assert page.locator("h1").inner_text() == "陳櫃台，您好"
    screenshot(page, "home-clerk-zh")
    page.get_by_role("button", name="English").click()
    page.wait_for_load_state()
    assert page.locator("h1").inner_text() == "Hello, 陳櫃台"
    screenshot(page, "home-clerk-en")


def test_admin_home_on_a_phone(new_page, create_user):
    create_user(role="admin", username="root1")
    page = new_page(viewport=PHONE)
    browser_login(page, "root1")
    assert page.get_by_role("link", name="使用者").first.is_visible()
    screenshot(page, "home-admin-phone")
