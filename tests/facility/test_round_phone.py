"""A round on a phone in a real browser: one tap per check with no page load and the place
kept, a finding with a camera photo shrunk on the phone, and the offline queue: records kept
on the phone with no connection (also across a reload), sent in order once it returns, each
once however often sent; a refusal shown with its reason; sign-out asks while items wait."""

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from models import facility as fac
from models.core import db
from models.facility import Defect, DefectPhoto, RoundCheck
from tests.conftest import PHONE, TEST_PASSWORD, browser_login, screenshot
from tests.facility.support import as_user, image_bytes

pytestmark = pytest.mark.browser

COUNTER = "#offline-queue [data-queue-count]"


def start(user, floors):
    with as_user(user):
        inspection = fac.start_round(
            fac.zone_by_code("northeast"), [fac.floor_by_code(f) for f in floors], by=user
        )
        db.session.commit()
    return inspection.id


@pytest.fixture
def big_photo(tmp_path):
    """A camera-sized photo (4000×3000)."""
    path = tmp_path / "IMG_4000.jpg"
    path.write_bytes(image_bytes("JPEG", (4000, 3000), "saddlebrown"))
    return path


def tap(page, floor, category):
    """Tap "no defect" and check that nothing reloaded and the page did not move."""
    button = page.locator(f"#check-{floor}-{category} form[data-check-form] button")
    button.scroll_into_view_if_needed()
    before = page.evaluate("[window.scrollY, window.__samePage]")
    button.click()
    page.locator(f"#check-{floor}-{category}.check-ok").wait_for()
    assert page.evaluate("[window.scrollY, window.__samePage]") == before


def expect_counter(page, text):
    expect(page.locator(COUNTER)).to_have_text(text)


def wait_sent(page):
    """Wait until the queue is empty and no check on the page waits any more."""
    page.locator(COUNTER + "[data-count='0']").wait_for(state="attached")
    expect(page.locator("#round li.check-pending")).to_have_count(0)


def add_finding(page, floor, category_name, photo, description="緊急照明燈不亮"):
    page.get_by_role("link", name=f"登錄缺失 {category_name}").click()
    dialog = page.locator("#finding-dialog")
    dialog.wait_for()
    dialog.get_by_label("詳細位置").fill(f"{floor} 東側電梯廳")
    dialog.get_by_label("發生什麼問題？").fill(description)
    dialog.locator("#photos").set_input_files(str(photo))
    assert dialog.locator("#photos").get_attribute("capture") == "environment"
    dialog.get_by_role("button", name="儲存缺失").click()
    dialog.wait_for(state="hidden")


def test_a_round_of_two_floors_one_tap_per_check_and_a_finding_with_a_photo(
    new_page, create_user, big_photo
):
    create_user(role="facility", username="walker1", name="黃機電")
    page = new_page(viewport=PHONE)
    browser_login(page, "walker1")
    page.goto("/facility/rounds/new?zone=northeast")
    page.get_by_role("button", name="全不選").click()
    page.get_by_label("3F", exact=True).check()
    page.get_by_label("5F", exact=True).check()
    page.get_by_role("button", name="開始巡檢").click()
    page.wait_for_url(re.compile(r"/facility/rounds/\d+"))
    page.evaluate("window.__samePage = 'yes'")  # gone if anything reloads the page

    for category in ("corridor", "facility", "cleanliness"):
        tap(page, "3F", category)
    tap(page, "3F", "ceiling_floor")
    assert page.locator("[data-floor-tab='3F'] [data-floor-progress]").first.inner_text() == "4/4"
    page.locator(".floor-tabs [data-floor-tab='5F']").click()  # the floor switches in place
    assert page.locator("#floor-title-5F").is_visible()
    assert page.locator("#floor-title-3F").is_hidden()
    assert page.url.endswith("floor=5F")
    for category in ("corridor", "cleanliness", "ceiling_floor"):
        tap(page, "5F", category)
    add_finding(page, "5F", "設施正常", big_photo)
    page.locator("#check-5F-facility.check-defects").wait_for()
    wait_sent(page)
    assert page.evaluate("window.__samePage") == "yes"
    assert page.locator("[data-category-progress='facility'] [data-count]").text_content() == "2/2"
    assert page.locator("[data-missing]").inner_text() == "每個樓層與類別都已記錄。"
    screenshot(page, "facility-round-one-tap-phone")

    page.get_by_role("button", name="完成巡檢").click()
    page.wait_for_url(re.compile(r"/facility/rounds$"))
    assert "巡檢完成：東北區，發現 1 項缺失" in page.locator(".flash-success").inner_text()

    db.session.expire_all()
    checks = list(db.session.scalars(select(RoundCheck).order_by(RoundCheck.id)))
    assert [(c.floor.code, c.category.code, c.result) for c in checks] == [
        ("3F", "corridor", "ok"),
        ("3F", "facility", "ok"),
        ("3F", "cleanliness", "ok"),
        ("3F", "ceiling_floor", "ok"),
        ("5F", "corridor", "ok"),
        ("5F", "cleanliness", "ok"),
        ("5F", "ceiling_floor", "ok"),
        ("5F", "facility", "defects"),
    ]
    [finding] = db.session.scalars(select(Defect)).all()
    assert finding.description == "緊急照明燈不亮" and finding.location == "5F 東側電梯廳"
    [photo] = finding.photos
    assert (photo.width, photo.height) == (1600, 1200)  # shrunk on the phone
    assert photo.format == "JPEG"


def ready_offline(page, round_id):
    """Open the round page once the service worker controls the page and keeps its copy."""
    page.goto(f"/facility/rounds/{round_id}")
    page.evaluate(
        """() => navigator.serviceWorker.controller || new Promise(resolve =>
            navigator.serviceWorker.addEventListener('controllerchange', resolve))"""
    )
    page.reload()  # this load goes through the service worker, which keeps the copy


def test_offline_round_is_kept_and_sent_in_order_once(new_page, create_user, big_photo):
    walker = create_user(role="facility", username="walker2")
    round_id = start(walker, ["3F", "5F"])
    page = new_page(viewport=PHONE)
    browser_login(page, "walker2")
    ready_offline(page, round_id)
    tap(page, "3F", "corridor")  # online
    page.locator("#round[data-saved='1']").wait_for(state="attached")  # the copy is kept

    page.context.set_offline(True)
    tap(page, "3F", "cleanliness")
    tap(page, "3F", "ceiling_floor")
    add_finding(page, "3F", "設施正常", big_photo)
    page.locator(".floor-tabs [data-floor-tab='5F']").click()
    tap(page, "5F", "corridor")
    counter = page.locator(COUNTER)
    expect_counter(page, "4 筆待上傳")
    assert page.locator("#offline-queue [data-queue-note]").inner_text().startswith("目前沒有網路")

    page.reload()  # offline: the service worker's copy, with the queue laid on it
    expect_counter(page, "4 筆待上傳")
    assert page.locator("#check-3F-corridor.check-ok:not(.check-pending)").count() == 1
    for place in ("3F-cleanliness", "3F-ceiling_floor", "3F-facility", "5F-corridor"):
        assert page.locator(f"#check-{place}.check-pending").count() == 1, place
    assert page.locator("#floor-title-5F").is_visible()  # the floor of the URL
    screenshot(page, "facility-round-offline-pending-phone")
    db.session.expire_all()
    assert len(db.session.scalars(select(RoundCheck)).all()) == 1  # nothing sent yet

    # keep a copy of the queue to send it all again later
    page.evaluate("CityDeskQueue.all().then(items => { window.__copy = items; })")
    page.context.set_offline(False)
    page.evaluate("window.dispatchEvent(new Event('online'))")
    wait_sent(page)
    assert counter.is_hidden()
    assert page.locator("#check-3F-facility.check-defects:not(.check-pending)").count() == 1

    def recorded():
        db.session.expire_all()
        checks = db.session.scalars(select(RoundCheck).order_by(RoundCheck.id)).all()
        return [(c.floor.code, c.category.code, c.result) for c in checks]

    in_order = [
        ("3F", "corridor", "ok"),
        ("3F", "cleanliness", "ok"),
        ("3F", "ceiling_floor", "ok"),
        ("3F", "facility", "defects"),
        ("5F", "corridor", "ok"),
    ]
    assert recorded() == in_order
    [finding] = db.session.scalars(select(Defect)).all()
    assert len(finding.photos) == 1 and finding.photos[0].width == 1600

    # the same four items sent again: each is answered as done, nothing recorded twice
    page.evaluate(
        """() => new Promise((resolve, reject) => {
            const open = indexedDB.open('citydesk-offline');
            open.onsuccess = () => {
                const tx = open.result.transaction('queue', 'readwrite');
                const store = tx.objectStore('queue');
                window.__copy.forEach(item => { delete item.seq; store.add(item); });
                tx.oncomplete = resolve;
                tx.onerror = reject;
            };
        }).then(() => CityDeskQueue.flush())"""
    )
    wait_sent(page)
    assert recorded() == in_order
    assert len(db.session.scalars(select(Defect)).all()) == 1
    assert len(db.session.scalars(select(DefectPhoto)).all()) == 1


def test_a_refusal_is_shown_with_its_reason_and_sign_out_asks_first(new_page, create_user):
    walker = create_user(role="facility", username="walker3")
    boss = create_user(role="supervisor", username="boss3")
    round_id = start(walker, ["3F"])
    page = new_page(viewport=PHONE)
    browser_login(page, "walker3")
    ready_offline(page, round_id)
    page.context.set_offline(True)
    tap(page, "3F", "corridor")
    expect_counter(page, "1 筆待上傳")

    asked = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
    page.get_by_role("button", name="登出").click()
    assert asked and "1 筆紀錄" in asked[0]
    assert "/facility/rounds/" in page.url  # still here, still signed in

    # a colleague finishes the round meanwhile
    inspection = db.session.get(fac.InspectionRound, round_id)
    with as_user(boss):
        for floor, category in fac.missing_checks(inspection):
            fac.mark_no_defect(inspection, floor, category, by=boss)
        fac.finish_round(inspection, by=boss)
        db.session.commit()

    page.context.set_offline(False)
    page.evaluate("window.dispatchEvent(new Event('online'))")
    refused = page.locator("#offline-queue .queue-refused-item")
    refused.wait_for()
    assert "3F 淨空走道" in refused.inner_text()
    assert "這次巡檢已經完成。" in refused.inner_text()
    assert page.locator(COUNTER).is_hidden()  # nothing waits: the refusal is not retried
    screenshot(page, "facility-round-refused-phone")
    page.reload()  # kept until dismissed
    refused.wait_for()
    refused.get_by_role("button", name="關閉").click()
    refused.wait_for(state="detached")
    page.reload()
    assert page.locator("#offline-queue").is_hidden()


def test_an_expired_session_keeps_the_queue_until_signed_in_again(
    new_page, create_user, frozen_clock
):
    walker = create_user(role="facility", username="walker4")
    round_id = start(walker, ["3F"])
    page = new_page(viewport=PHONE)
    browser_login(page, "walker4")
    ready_offline(page, round_id)
    page.context.set_offline(True)
    tap(page, "3F", "corridor")
    tap(page, "3F", "facility")
    frozen_clock.advance(seconds=45 * 60)  # an hour in the basement: the session has expired
    page.context.set_offline(False)
    page.evaluate("window.dispatchEvent(new Event('online'))")
    hint = page.locator("#offline-queue [data-queue-signin]")
    hint.wait_for()
    assert "重新登入" in hint.inner_text()
    assert page.locator(COUNTER).inner_text() == "2 筆待上傳"
    db.session.expire_all()
    assert db.session.scalars(select(RoundCheck)).all() == []

    hint.get_by_role("link", name="登入").click()
    page.locator("#username").fill("walker4")
    page.locator("#password").fill(TEST_PASSWORD)
    page.locator("main form [type=submit]").first.click()
    page.wait_for_url(re.compile(rf"/facility/rounds/{round_id}"))
    wait_sent(page)
    db.session.expire_all()
    checks = db.session.scalars(select(RoundCheck).order_by(RoundCheck.id)).all()
    assert [c.category.code for c in checks] == ["corridor", "facility"]
