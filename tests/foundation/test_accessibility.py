"""axe-core over every main page, in both languages, at a desktop and a phone viewport:
no serious or critical violation. Screenshots of each page are saved as CI artefacts."""

from pathlib import Path

import pytest
from sqlalchemy import select

from models.core import clock, db
from models.dispatch import Dispatch, Outcome
from models.facility import Defect, InspectionRound
from models.reference import Agency
from tests.conftest import DESKTOP, PHONE, browser_login, screenshot
from tests.foundation.conftest import DEMO_LOGINS

# The demo data is built once for the four sweeps (they only read it).
pytestmark = [pytest.mark.browser, pytest.mark.module_data]

AXE = (Path(__file__).parent.parent / "vendor/axe-core-4.14.1/axe.min.js").read_text()


def main_pages(year: int) -> list[tuple[str | None, str]]:
    """(role that views it or None for anonymous, path) for every main page, on demo data."""
    dispatch = db.session.scalar(select(Dispatch).order_by(Dispatch.id.desc()))
    social = db.session.scalar(
        select(Dispatch)
        .join(Dispatch.agency)
        .where(Agency.code == "social-welfare")
        .order_by(Dispatch.id)
    )
    ticket = db.session.scalar(select(Defect).order_by(Defect.id))
    walk = db.session.scalar(select(InspectionRound).order_by(InspectionRound.id))
    late_social = db.session.scalar(  # a late dispatch: its page has the "why late" form
        select(Dispatch)
        .join(Dispatch.agency)
        .where(
            Agency.code == "social-welfare",
            Dispatch.outcome_expr(clock.now()) == Outcome.LATE.value,
        )
        .order_by(Dispatch.id)
    )
    return [
        (None, "/login"),
        ("clerk", "/"),
        ("clerk", "/desk/visits/new"),
        ("clerk", "/desk/board"),
        ("clerk", "/desk/board/wall"),
        ("clerk", "/desk/today"),
        ("clerk", "/desk/end-of-day"),
        ("clerk", "/desk/dispatches"),
        ("clerk", f"/desk/dispatches/{dispatch.id}"),
        ("clerk", f"/desk/visits/{dispatch.visit_id}"),
        ("clerk", "/facility/report"),
        ("clerk", "/facility/mine"),
        ("clerk", "/notifications"),
        ("agency", "/"),
        ("agency", "/agency/"),
        ("agency", "/agency/history"),
        ("agency", f"/agency/dispatches/{social.id}"),
        ("agency", f"/agency/dispatches/{late_social.id}"),
        ("agency", "/agency/scorecard"),
        ("clerk", f"/desk/dispatches/{late_social.id}"),
        ("facility", "/"),
        ("facility", "/facility/tickets"),
        ("facility", f"/facility/tickets/{ticket.id}"),
        ("facility", "/facility/grid"),
        ("facility", "/facility/rounds"),
        ("facility", "/facility/rounds/new"),
        ("facility", f"/facility/rounds/{walk.id}"),
        ("supervisor", "/"),
        ("supervisor", f"/reports/{year}"),
        ("supervisor", f"/reports/{year}/dispatches?outcome=on_time"),
        ("supervisor", f"/reports/{year}/defects"),
        ("supervisor", f"/reports/{year}/rounds"),
        ("supervisor", "/facility/settings"),
        ("supervisor", "/facility/calendar"),
        ("supervisor", "/facility/posters"),
        ("supervisor", "/admin/settings"),
        ("supervisor", "/admin/escalation"),
        ("supervisor", "/admin/audit"),
        ("supervisor", "/admin/import"),
        ("supervisor", "/admin/late-reasons"),
        ("supervisor", "/admin/late-reasons/other"),
        ("clerk", "/account/password"),
        ("supervisor", "/agency/scorecard?agency=social-welfare"),
        ("admin", "/"),
        ("admin", "/admin/users"),
        ("admin", "/admin/users/new"),
        ("admin", "/admin/agencies"),
        ("admin", "/admin/agencies/social-welfare"),
        ("admin", "/admin/building"),
        ("admin", "/admin/tokens"),
        ("admin", "/admin/jobs/"),
    ]


def serious_violations(page) -> list[dict]:
    """axe-core's serious and critical violations on the page (axe is added to a page that
    does not have it from its context's init script)."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(AXE)
    result = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
    )
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in result
        if v["impact"] in ("serious", "critical")
    ]


@pytest.mark.parametrize(("viewport", "size"), [("desktop", DESKTOP), ("phone", PHONE)])
@pytest.mark.parametrize("language", ["zh", "en"])
def test_main_pages_have_no_serious_accessibility_violations(
    browser, live_server, module_demo, viewport, size, language
):
    found = {}
    contexts = {}
    pages = main_pages(clock.today().year)
    try:
        for role, path in pages:
            if role not in contexts:
                context = browser.new_context(
                    viewport=size,
                    base_url=live_server,
                    bypass_csp=True,
                    locale="zh-TW" if language == "zh" else "en-US",
                )
                # axe is in every page of the context from its start (sent to Chromium once,
                # not half a megabyte again with each page).
                context.add_init_script(AXE)
                page = context.new_page()
                if language == "en":
                    page.goto("/login")
                    page.get_by_role("button", name="English").click()
                if role is not None:
                    browser_login(page, DEMO_LOGINS[role], module_demo[DEMO_LOGINS[role]])
                contexts[role] = (context, page)
            page = contexts[role][1]
            response = page.goto(path)
            assert response.status == 200, (role, path, response.status)
            slug = path.replace("/", "_").replace("?", "_").replace("=", "-")
            name = f"{language}-{viewport}-{role or 'anonymous'}{slug}"
            screenshot(page, f"a11y/{name}")
            violations = serious_violations(page)
            if violations:
                found[f"{role} {path}"] = violations
    finally:
        for context, _page in contexts.values():
            context.close()
    assert found == {}
