"""The counter's whole story in real browsers (issue 13's done-when): a clerk logs a visit for a
senior, records two care notes, the agency acknowledges from the link in the e-mail the SMTP
server received, the clerk confirms the arrival, the visitor taps 不滿意; the chief is told by
e-mail and in the app, and the supervisor's yearly report shows the wait and the rating.
Screenshots at 1280 and 360 px (zh-TW) of each new screen."""

import re

import pytest
from sqlalchemy import select

from jobs.relay import relay
from models.core import clock, db
from models.dispatch import Dispatch
from models.reference import agency_by_code, update_agency
from tests.conftest import ARTIFACTS, browser_login, screenshot
from tests.dispatch.test_browser import watch_errors

pytestmark = pytest.mark.browser

WIDE = {"width": 1280, "height": 860}
NARROW = {"width": 360, "height": 780}


def shoot(page, name: str) -> None:
    """Screenshots at 1280 and 360 px; neither scrolls sideways."""
    for viewport in (WIDE, NARROW):
        page.set_viewport_size(viewport)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= viewport["width"], f"{name} is {width}px wide at {viewport['width']}px"
        screenshot(page, f"{name}-{viewport['width']}")
    page.set_viewport_size(WIDE)


def shoot_part(page, first: str, last: str, name: str) -> None:
    """Screenshots at 1280 and 360 px of the part of the page from `first` to `last`."""
    for viewport in (WIDE, NARROW):
        page.set_viewport_size(viewport)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= viewport["width"], f"{name} is {width}px wide at {viewport['width']}px"
        top = page.locator(first).bounding_box()
        bottom = page.locator(last).bounding_box()
        scroll = page.evaluate("window.scrollY")
        clip = {
            "x": 0,
            "y": top["y"] + scroll - 8,
            "width": viewport["width"],
            "height": bottom["y"] + bottom["height"] - top["y"] + 16,
        }
        page.screenshot(
            path=str(ARTIFACTS / f"{name}-{viewport['width']}.png"), clip=clip, full_page=True
        )
    page.set_viewport_size(WIDE)


def test_a_seniors_visit_from_the_form_to_the_chiefs_notice_and_the_report(
    new_page, live_server, app, monkeypatch, create_user, mail_to, run, frozen_clock
):
    monkeypatch.setitem(app.config, "BASE_URL", live_server)  # the links the mail carries
    update_agency(agency_by_code("social-welfare"), emails="desk@sw.example")
    db.session.commit()
    create_user(role="clerk", username="counter-s", name="陳櫃台")
    create_user(
        role="supervisor",
        username="chief-s",
        name="李主任",
        email="chief@city.example",
        receives_escalations=True,
    )

    # 10:00 — the clerk logs the visit for a senior and notifies 社會局 from the form.
    clerk = new_page(viewport=WIDE)
    clerk_errors = watch_errors(clerk)
    browser_login(clerk, "counter-s")
    clerk.goto("/desk/visits/new")
    clerk.locator("#subject").fill("老人福利津貼申請")
    clerk.locator("#agency").fill("社會局")
    clerk.locator("#petitioner_name").fill("王阿嬤")
    clerk.get_by_label("高齡長者").check()
    clerk.get_by_role("button", name="通知機關").click()
    clerk.wait_for_url("**/desk/dispatches/*")
    dispatch = db.session.scalar(select(Dispatch))
    assert dispatch.agency.code == "social-welfare" and dispatch.visit.is_senior
    page_url = f"**/desk/dispatches/{dispatch.id}"

    # Two care notes while the visitor waits, a minute apart, each one tap.
    for note in ("已請入座", "已提供茶水"):
        clock.advance(minutes=1)
        clerk.get_by_role("button", name=note).click()
        clerk.wait_for_url(page_url)
        assert f"已記錄：{note}" in clerk.locator(".flash-success").inner_text()
    timeline = clerk.locator(".timeline").inner_text()
    assert "10:01" in timeline and "已請入座" in timeline
    assert "10:02" in timeline and "已提供茶水" in timeline
    shoot(clerk, "counter-story-care-notes")

    # The relay mails the agency its notice; the link in it is opened signed out.
    run(relay)
    [mail] = mail_to.inbox.to("desk@sw.example")
    [link] = set(re.findall(re.escape(live_server) + r"/ack/[A-Za-z0-9_-]+", mail.get_content()))
    clock.advance(minutes=1)  # 10:03
    agency = new_page(viewport=WIDE)
    agency_errors = watch_errors(agency)
    agency.goto(link)
    assert agency.locator("h1").inner_text().startswith("確認派員")
    assert "王阿嬤" not in agency.content()
    shoot(agency, "counter-story-ack")
    agency.locator("#responder").fill("王專員")
    agency.get_by_role("button", name="確認派員").click()
    agency.locator("[data-ack-summary]").wait_for()
    assert "王專員 正前往櫃台" in agency.locator("[data-ack-summary]").inner_text()
    shoot(agency, "counter-story-ack-done")

    # The clerk's open dispatch page shows who is coming without reloading.
    clerk.locator(".call-panel [data-field=ack]").filter(has_text="王專員").wait_for(timeout=6_000)

    # 10:07 — the responder arrives; the clerk confirms it on the dispatch page.
    clock.advance(minutes=4)
    clerk.get_by_role("button", name="人員已到場").click()
    clerk.wait_for_url(page_url)
    assert clerk.locator(".result-panel h2").inner_text() == "結果：準時"
    assert "113/03/04 10:10:00（時限 10 分 00 秒）" in clerk.locator(".result-panel").inner_text()
    whole_wait = clerk.locator(".result-panel dt:text-is('民眾等候總時間') + dd").inner_text()
    assert whole_wait == "7 分 00 秒（自 10:00:00 臨櫃登記起算）"
    shoot(clerk, "counter-story-arrived")

    # The clerk turns the screen to the visitor, who taps 不滿意.
    clerk.locator("[data-open-rating]").click()
    clerk.wait_for_url(f"**/desk/visits/{dispatch.visit_id}/rating")
    shoot(clerk, "counter-story-rating")
    clerk.get_by_role("button", name="不滿意").click()
    clerk.get_by_text("謝謝您的寶貴意見！").wait_for()
    shoot(clerk, "counter-story-rating-thanks")
    assert clerk_errors == [] and agency_errors == []

    # The relay tells the chief at once, by e-mail with the visit, the agency and the wait.
    run(relay)
    [chief_mail] = mail_to.inbox.to("chief@city.example")
    assert "民眾不滿意" in chief_mail["Subject"] and "社會局" in chief_mail["Subject"]
    body = chief_mail.get_content()
    assert f"臨櫃案件：#{dispatch.visit_id}" in body
    assert "民眾等候：7.0 分鐘" in body
    assert "人員到場：113/03/04 10:07（臺北時間）" in body  # when, not only the notice's time

    # The chief (a supervisor) reads the notice in the app and the year's report.
    chief = new_page(viewport=WIDE)
    chief_errors = watch_errors(chief)
    browser_login(chief, "chief-s")
    chief.get_by_role("link", name="通知 1 則未讀").click()  # the header says so on any page
    chief.wait_for_url("**/notifications")
    notice = chief.locator("table.notifications tbody tr").first
    assert (
        f"民眾不滿意：來訪 #{dispatch.visit_id}，由社會局服務，民眾等候 7.0 分鐘"
        in notice.inner_text()
    )
    assert "檢視" in notice.inner_text()  # the button that opens it, not a state
    shoot(chief, "counter-story-notifications")
    notice.get_by_role("button", name="檢視").click()  # opens the dispatch, marks it read
    chief.wait_for_url(page_url)
    assert "民眾評價：不滿意" in chief.locator("[data-rating]").inner_text()

    chief.goto("/reports/2024")
    assert chief.locator("[data-figure=wait-median] dd").inner_text() == "7.0"
    assert chief.locator("[data-figure=wait-p90] dd").inner_text() == "7.0"
    assert chief.locator("[data-figure=responses] dd").inner_text() == "1"
    assert chief.locator("[data-figure=share-satisfied] dd").inner_text() == "0.00%"
    row = chief.locator("[data-table=visitors] tbody tr")
    assert row.count() == 1
    cells = [cell.inner_text() for cell in row.locator("th, td").all()]
    assert cells == ["社會局", "100.00", "7.0", "7.0", "1", "0.00"]
    narrative = chief.locator("main").inner_text()
    assert "民眾滿意度調查共計回收1件，其中表示滿意者0件，滿意度為0.00%。" in narrative
    shoot_part(chief, "#visitors-title", "[data-table=visitors]", "counter-story-report")
    assert chief_errors == []
