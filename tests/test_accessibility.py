"""axe-core over every main page, in both languages, at a desktop and a phone viewport:
no serious or critical violation. Screenshots of each page are saved as CI artefacts."""

from pathlib import Path

import pytest

from tests.conftest import DESKTOP, PHONE, TEST_PASSWORD, screenshot

pytestmark = pytest.mark.browser

AXE = (Path(__file__).parent / "vendor/axe-core-4.14.1/axe.min.js").read_text()

# (role that views it or None for anonymous, path). Each area adds its main pages here.
MAIN_PAGES = [
    (None, "/login"),
    ("clerk", "/"),
    ("agency", "/"),
    ("facility", "/"),
    ("supervisor", "/"),
    ("supervisor", "/admin/settings"),
    ("supervisor", "/admin/audit"),
    ("admin", "/"),
    ("admin", "/admin/users"),
    ("admin", "/admin/users/new"),
    ("admin", "/admin/agencies"),
    ("admin", "/admin/agencies/social-welfare"),
    ("admin", "/admin/building"),
    ("admin", "/admin/tokens"),
]


def _violations(page) -> list[dict]:
    page.evaluate(AXE)
    result = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
    )
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in result
        if v["impact"] in ("serious", "critical")
    ]


@pytest.fixture
def users(create_user):
    """One user per role, all with the test password."""
    return {
        role: create_user(role=role, username=f"a11y-{role}")
        for role in ("clerk", "agency", "facility", "supervisor", "admin")
    }


@pytest.mark.parametrize(("viewport", "size"), [("desktop", DESKTOP), ("phone", PHONE)])
@pytest.mark.parametrize("language", ["zh", "en"])
def test_main_pages_have_no_serious_accessibility_violations(
    browser, live_server, users, viewport, size, language
):
    found = {}
    contexts = {}
    try:
        for role, path in MAIN_PAGES:
            if role not in contexts:
                context = browser.new_context(
                    viewport=size,
                    base_url=live_server,
                    bypass_csp=True,
                    locale="zh-TW" if language == "zh" else "en-US",
                )
                page = context.new_page()
                if language == "en":
                    page.goto("/login")
                    page.get_by_role("button", name="English").click()
                if role is not None:
                    page.goto("/login")
                    page.locator("#username").fill(users[role].username)
                    page.locator("#password").fill(TEST_PASSWORD)
                    page.locator("main form [type=submit]").click()
                    page.wait_for_url(lambda url: "/login" not in url)
                contexts[role] = (context, page)
            page = contexts[role][1]
            response = page.goto(path)
            assert response.status == 200, (role, path, response.status)
            name = f"{language}-{viewport}-{role or 'anonymous'}{path.replace('/', '_')}"
            screenshot(page, f"a11y/{name}")
            violations = _violations(page)
            if violations:
                found[f"{role} {path}"] = violations
    finally:
        for context, _page in contexts.values():
            context.close()
    assert found == {}
