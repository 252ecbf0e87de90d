"""Stored XSS in a real browser: a visitor named `<script>alert(1)</script>` (subject and
notes too) and a defect described with `"><img src=x onerror=alert(1)>` render as text on
every page that shows them: no dialog fires, no element is injected, the text is visible."""

import pytest

from models.core import clock
from tests.conftest import browser_login, screenshot
from tests.security.conftest import IMG, SCRIPT

pytestmark = pytest.mark.browser


def open_safely(page, url: str, dialogs: list) -> str:
    """Go to `url`, wait for its scripts, check nothing was injected; returns the text."""
    response = page.goto(url)
    assert response is not None and response.status < 400, f"{url}: {response and response.status}"
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(150)  # let a late onerror handler run, if one were injected
    assert dialogs == [], f"{url}: a dialog fired: {dialogs}"
    injected = page.evaluate(
        """() => ({
            scripts: [...document.scripts].filter(s => s.textContent.includes('alert(1)')).length,
            images: document.querySelectorAll('img[src="x"], img[onerror]').length,
        })"""
    )
    assert injected == {"scripts": 0, "images": 0}, f"{url}: markup injected {injected}"
    return page.locator("body").inner_text()


# (role, url, texts that must be visible on the page, literally)
PAGES = [
    ("clerk", "/desk/board", [SCRIPT]),
    ("clerk", "/desk/today", [SCRIPT]),
    ("clerk", "/desk/dispatches", [SCRIPT]),
    ("clerk", "/desk/visits/{visit}", [SCRIPT]),
    ("clerk", "/desk/dispatches/{dispatch}", [SCRIPT]),
    ("clerk", "/facility/mine", [IMG]),
    ("agency_a", "/agency/", [SCRIPT]),
    ("agency_a", "/agency/history", [SCRIPT]),
    ("agency_a", "/agency/dispatches/{dispatch}", [SCRIPT]),
    ("agency_a", "/notifications", []),  # names the agency and deadline, not the subject
    ("facility", "/facility/tickets", [IMG]),
    ("facility", "/facility/tickets/{defect}", [IMG]),
    ("facility", "/facility/grid", []),
    ("supervisor", "/reports/{year}/dispatches", []),  # evidence: agency and times only
    ("supervisor", "/desk/visits/{visit}", [SCRIPT]),
    ("supervisor", "/reports/{year}/defects", [IMG]),
    ("supervisor", "/admin/audit", []),
]


@pytest.mark.parametrize("role", sorted({role for role, _url, _texts in PAGES}))
def test_stored_xss_renders_as_text(new_page, evil_world, role):
    page = new_page()
    dialogs: list = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    browser_login(page, evil_world.users[role].username)
    values = dict(evil_world.ids, year=clock.now().year)
    for who, template, texts in PAGES:
        if who != role:
            continue
        url = template.format(**values)
        text = open_safely(page, url, dialogs)
        name = "xss" + url.replace("/", "-").rstrip("-")
        screenshot(page, name)
        for expected in texts:
            assert expected in text, f"{role} {url}: {expected!r} is not shown as text"
