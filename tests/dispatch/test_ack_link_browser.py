"""The acknowledgement link in a real browser: the agency opens the link from the e-mail the
SMTP server received, types who is coming, presses the one button and sees it acknowledged; the
page fits a phone (screenshots at 360 and 1280 px, in Traditional Chinese)."""

import re

import pytest

from jobs.relay import relay
from models.core import db
from models.dispatch import Dispatch
from models.reference import agency_by_code, update_agency
from tests.conftest import screenshot
from tests.dispatch.test_browser import watch_errors
from tests.foundation.test_accessibility import serious_violations

pytestmark = pytest.mark.browser

NARROW = {"width": 360, "height": 780}
WIDE = {"width": 1280, "height": 860}


@pytest.mark.parametrize("viewport", [NARROW, WIDE], ids=["360", "1280"])
def test_the_agency_acknowledges_from_the_emailed_link(
    new_page, live_server, app, monkeypatch, make_dispatch, mail_to, run, viewport
):
    monkeypatch.setitem(app.config, "BASE_URL", live_server)  # the links the mail carries
    update_agency(agency_by_code("social-welfare"), emails="desk@sw.example")
    db.session.commit()
    dispatch = make_dispatch(petitioner_name="王小明", petitioner_phone="0912345123")
    run(relay)
    [mail] = mail_to.inbox.to("desk@sw.example")
    [link] = set(re.findall(re.escape(live_server) + r"/ack/[A-Za-z0-9_-]+", mail.get_content()))

    page = new_page(viewport=viewport, locale="zh-TW")
    errors = watch_errors(page)
    page.goto(link)
    assert page.locator("h1").inner_text().startswith("確認派員")
    panel = page.locator(".ack-dispatch")
    assert "社會局" in panel.inner_text() and "低收入戶補助申請" in panel.inner_text()
    assert page.locator("[data-field=status]").inner_text() == "剩餘"
    ticking = page.locator("[data-field=remaining]")
    first = ticking.inner_text()
    page.wait_for_function(
        "first => document.querySelector('[data-field=remaining]').textContent !== first",
        arg=first,
    )  # the countdown runs by itself
    assert "王小明" not in page.content() and "0912345123" not in page.content()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= viewport["width"], f"the page is {width}px wide"
    screenshot(page, f"ack-link-open-{viewport['width']}")
    assert serious_violations(page) == []  # axe-core: no serious or critical violation

    db.session.expire_all()
    assert db.session.get(Dispatch, dispatch.id).state == "notified"  # opening changed nothing

    page.locator("#responder").fill("王專員")
    page.get_by_role("button", name="確認派員").click()
    page.locator("[data-ack-summary]").wait_for()
    assert page.locator("h1").inner_text().startswith("已確認")
    assert "王專員 正前往櫃台" in page.locator("[data-ack-summary]").inner_text()
    assert "經由通知信的連結" in page.locator("[data-ack-summary]").inner_text()
    assert page.locator("#responder").count() == 0
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= viewport["width"], f"the page is {width}px wide"
    screenshot(page, f"ack-link-done-{viewport['width']}")
    assert serious_violations(page) == []
    assert errors == []

    db.session.expire_all()
    acknowledged = db.session.get(Dispatch, dispatch.id)
    assert (acknowledged.state, acknowledged.responder) == ("acknowledged", "王專員")

    page.goto(link)  # opened again from the mail: used
    assert page.locator("h1").inner_text().startswith("此連結已使用過")
    assert "王專員" in page.locator("[data-ack-summary]").inner_text()
    screenshot(page, f"ack-link-used-{viewport['width']}")
