"""The facility pages: reporting, the duplicate hint, ticket moves, permissions, uploads,
photos, lists, the grid, rounds, settings, the calendar and the QR posters."""

import io
import re
from datetime import date
from pathlib import Path

from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import encode_multipart

from models import facility as fac
from models.core import db
from models.facility import Defect
from models.workdays import is_working_day
from tests.facility.support import (
    flat_png,
    image_bytes,
)


def photo(name="photo.jpg", data=None):
    return (io.BytesIO(image_bytes() if data is None else data), name)


def multipart(client, path, fields):
    """POST multipart/form-data encoded in memory (the test client spools big bodies to a
    temporary file it never closes)."""
    values = MultiDict()
    for key, value in fields.items():
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, tuple):
                item = FileStorage(item[0], filename=item[1])
            values.add(key, item)
    boundary, body = encode_multipart(values)
    return client.post(path, data=body, content_type=f"multipart/form-data; boundary={boundary}")


def report(client, **overrides):
    data = {
        "category": "corridor",
        "zone": "northeast",
        "floor": "3F",
        "location": "東側樓梯",
        "description": "逃生梯堆放紙箱",
        "duplicate_checked": "1",
        "photos": [photo()],
    }
    data.update(overrides)
    return multipart(client, "/facility/report", data)


def defects():
    db.session.expire_all()
    return list(db.session.scalars(select(Defect).order_by(Defect.id)))


def text(response):
    return response.get_data(as_text=True)


def test_any_signed_in_user_reports_with_a_photo(login_as):
    for role in ("clerk", "agency", "admin", "facility", "supervisor"):
        client, user = login_as(role)
        response = report(client, description=f"report by {role}", zone="southwest")
        assert response.status_code == 302, text(response)
        defect = defects()[-1]
        assert response.headers["Location"].endswith(f"/facility/tickets/{defect.id}")
        assert defect.reported_by_id == user.id and len(defect.photos) == 1
        page = client.get(f"/facility/tickets/{defect.id}")
        assert page.status_code == 200 and f"report by {role}" in text(page)


def test_report_form_from_a_qr_poster_is_filled_in(login_as):
    client, _ = login_as("agency")
    page = text(client.get("/facility/report?zone=southeast&floor=5F"))
    assert re.search(r'<option selected value="southeast">', page)
    assert re.search(r'<option selected value="5F">', page)


def test_anonymous_visitors_are_sent_to_sign_in(client):
    response = client.get("/facility/report?zone=southeast&floor=5F")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert "zone%3Dsoutheast" in response.headers["Location"]  # back to the form after sign-in


def test_duplicate_hint_then_add_to_the_open_ticket(login_as):
    first_client, _ = login_as("clerk")
    assert report(first_client).status_code == 302
    [first] = defects()
    client, other = login_as("agency")
    # without having seen the hint, the form shows it and files nothing
    response = report(client, duplicate_checked="0", description="又被堆滿了")
    assert response.status_code == 200
    assert f'name="add_to" value="{first.id}"' in text(response)
    assert len(defects()) == 1
    # add to the open ticket instead
    response = report(client, add_to=str(first.id), description="又被堆滿了")
    assert response.status_code == 302
    assert len(defects()) == 1
    assert [e.action for e in fac.events_of(first)] == ["reported", "report_added"]
    assert client.get(f"/facility/tickets/{first.id}").status_code == 200  # now theirs too
    assert other.id in {e.user_id for e in fac.events_of(first)}
    # or file a new one anyway once the hint was shown
    assert report(client, duplicate_checked="1").status_code == 302
    assert len(defects()) == 2


def test_a_jpg_that_is_really_text_is_refused(login_as):
    client, _ = login_as("clerk")
    response = report(client, photos=[photo("broken.jpg", b"just some text, not a JPEG")])
    assert response.status_code == 422
    assert "broken.jpg" in text(response) and "不是" in text(response)
    assert defects() == []


def test_an_oversized_photo_gets_413_and_a_clear_message(login_as, app):
    client, _ = login_as("clerk")
    big = image_bytes() + b"\0" * (10 * 1024 * 1024)  # a real JPEG padded past 10 MB
    response = report(client, photos=[photo("huge.jpg", big)])
    assert response.status_code == 413
    page = text(response)
    assert "huge.jpg" in page and "10 MB" in page
    assert defects() == []


def test_a_photo_with_too_many_pixels_gets_a_clear_message(login_as):
    client, _ = login_as("clerk")
    response = report(client, photos=[photo("scan.png", flat_png(7700, 7700))])
    assert response.status_code == 422
    assert "scan.png 的像素太多（7700 × 7700）" in text(response)
    assert defects() == []


def test_the_size_limit_is_a_setting(login_as, app, monkeypatch):
    monkeypatch.setitem(app.config, "PHOTO_MAX_BYTES", 1000)
    client, _ = login_as("clerk")
    response = report(client, photos=[photo("a.png", image_bytes("PNG", (400, 400)))])
    assert response.status_code == 413


def test_photos_are_stored_under_the_instance_folder_with_random_names(login_as, app):
    client, _ = login_as("clerk")
    report(client, photos=[photo("my holiday.jpg")])
    [stored] = defects()[0].photos
    path = stored.path()
    assert Path(app.instance_path) in path.parents and "static" not in path.parts
    assert "holiday" not in path.name and len(stored.token) == 32
    assert path.exists() and stored.path("display").exists() and stored.path("thumb").exists()


def test_photos_are_served_only_to_people_who_may_see_the_ticket(login_as, app):
    client, _ = login_as("clerk")
    report(client)
    [stored] = defects()[0].photos
    with client.get(f"/facility/photos/{stored.id}/thumb") as thumb:
        assert thumb.status_code == 200 and thumb.mimetype == "image/jpeg"
        assert thumb.data[:2] == b"\xff\xd8"
    with client.get(f"/facility/photos/{stored.id}") as original:
        assert original.status_code == 200 and original.mimetype == "image/jpeg"
    staff, _ = login_as("facility")
    with staff.get(f"/facility/photos/{stored.id}/display") as display:
        assert display.status_code == 200
    stranger, _ = login_as("clerk")
    assert stranger.get(f"/facility/photos/{stored.id}").status_code == 404
    assert stranger.get(f"/facility/tickets/{stored.defect_id}").status_code == 404
    anonymous = app.test_client()
    assert anonymous.get(f"/facility/photos/{stored.id}").status_code == 302
    assert client.get(f"/facility/photos/{stored.id}/huge").status_code == 404


def test_ticket_moves_through_the_pages(login_as):
    reporter_client, reporter = login_as("clerk")
    report(reporter_client)
    [defect] = defects()
    tech_client, tech = login_as("facility")
    url = f"/facility/tickets/{defect.id}"
    page = text(tech_client.get(url))
    assert "指派給我" in page  # "Assign to me"
    assert tech_client.post(f"{url}/assign", data={"to_me": "1"}).status_code == 302
    assert defects()[0].assignee_id == tech.id
    assert tech_client.post(f"{url}/start").status_code == 302
    # the after photo is taken straight with the phone's back camera
    page = text(tech_client.get(url))
    assert re.search(r'<input[^>]*capture="environment"[^>]*name="fix-photos"', page) or re.search(
        r'<input[^>]*name="fix-photos"[^>]*capture="environment"', page
    )
    # closing without an after photo is refused with a message
    response = tech_client.post(
        f"{url}/fix", data={"fix-note": "已清除"}, content_type="multipart/form-data"
    )
    assert response.status_code == 422 and defects()[0].state == "in_progress"
    response = tech_client.post(
        f"{url}/fix",
        data={"fix-note": "已清除", "fix-photos": [photo("after.jpg")]},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302 and defects()[0].state == "fixed"
    # the fixer is not the reporter: refused, with a reason
    response = tech_client.post(f"{url}/verify")
    assert response.status_code == 403 and defects()[0].state == "fixed"
    page = text(reporter_client.get(url))
    assert "驗收" in page  # the reporter is offered "Confirm the repair"
    assert reporter_client.post(f"{url}/verify").status_code == 302
    assert defects()[0].state == "verified"
    response = reporter_client.post(f"{url}/reopen", data={"reopen-reason": ""})
    assert response.status_code == 422 and defects()[0].state == "verified"
    assert (
        reporter_client.post(f"{url}/reopen", data={"reopen-reason": "又壞了"}).status_code == 302
    )
    assert defects()[0].state == "in_progress"
    timeline = text(tech_client.get(url))
    for label in ("已報修", "已指派", "開始處理", "已修復", "已驗收", "重新開啟", "又壞了"):
        assert label in timeline, label


def test_refused_moves_through_the_pages_change_nothing(login_as):
    reporter_client, _ = login_as("clerk")
    report(reporter_client)
    [defect] = defects()
    url = f"/facility/tickets/{defect.id}"
    # a clerk cannot work tickets
    assert reporter_client.post(f"{url}/assign", data={"to_me": "1"}).status_code == 403
    assert reporter_client.post(f"{url}/start").status_code == 403
    # starting a ticket nobody took is a conflict
    tech_client, _ = login_as("facility")
    response = tech_client.post(f"{url}/start")
    assert response.status_code == 409 and "已報修" in text(response)
    assert defects()[0].state == "reported"
    assert [e.action for e in fac.events_of(defect)] == ["reported"]
    assert tech_client.post("/facility/tickets/999/start").status_code == 404


def test_ticket_list_filters_and_permissions(login_as):
    clerk, _ = login_as("clerk")
    report(clerk, category="corridor", zone="northeast", floor="1F", description="AAA")
    report(clerk, category="facility", zone="southwest", floor="2F", description="BBB")
    staff, _ = login_as("facility")
    page = text(staff.get("/facility/tickets"))
    assert "AAA" in page and "BBB" in page
    page = text(staff.get("/facility/tickets?category=facility&state=open"))
    assert "AAA" not in page and "BBB" in page
    page = text(staff.get("/facility/tickets?zone=northeast&floor=1F&source=report"))
    assert "AAA" in page and "BBB" not in page
    # a bad filter value is shown as an error on the filter, not a failure; the rest applies
    response = staff.get("/facility/tickets?found_from=not-a-date&category=facility")
    assert response.status_code == 200
    page = text(response)
    assert 'class="error"' in page and "AAA" not in page and "BBB" in page
    page = text(staff.get("/facility/tickets?assignee=nobody-here"))
    assert 'class="error"' in page
    assert clerk.get("/facility/tickets").status_code == 403
    mine = text(clerk.get("/facility/mine"))
    assert "AAA" in mine and "BBB" in mine
    other, _ = login_as("agency")
    assert "AAA" not in text(other.get("/facility/mine"))


def test_overdue_tickets_are_highlighted(login_as, frozen_clock):
    from datetime import datetime

    from models.core import clock

    clock.freeze(datetime(2024, 3, 4, 9, 0, tzinfo=clock.TAIPEI))
    clerk, _ = login_as("clerk")
    report(clerk, category="corridor")
    clock.freeze(datetime(2024, 3, 7, 9, 0, tzinfo=clock.TAIPEI))
    staff, _ = login_as("facility")
    page = text(staff.get("/facility/tickets?overdue=y"))
    assert "is-overdue" in page and "逾期" in page


def test_building_grid_links_each_cell_to_its_tickets(login_as):
    clerk, _ = login_as("clerk")
    report(clerk, zone="southeast", floor="7F")
    staff, _ = login_as("supervisor")
    page = text(staff.get("/facility/grid"))
    assert "/facility/tickets?zone=southeast&amp;floor=7F&amp;state=open" in page
    assert clerk.get("/facility/grid").status_code == 403


def test_a_round_through_the_pages(login_as):
    staff, tech = login_as("facility")
    assert staff.get("/facility/rounds").status_code == 200
    assert staff.get("/facility/rounds/new?zone=central-north").status_code == 200
    response = staff.post("/facility/rounds/new", data={"zone": "central-north", "floors": ["2F"]})
    assert response.status_code == 302
    inspection = db.session.scalar(select(fac.InspectionRound))
    url = f"/facility/rounds/{inspection.id}"
    assert "淨空走道" in text(staff.get(url))
    # finishing early is refused with a message
    assert staff.post(f"{url}/finish").status_code == 302
    page = text(staff.get(url))
    assert "尚有 4 項檢查未完成" in page and not inspection.is_finished
    for code in ("corridor", "cleanliness", "ceiling_floor"):
        assert staff.post(f"{url}/check", data={"floor": "2F", "category": code}).status_code == 302
    finding = f"{url}/finding?floor=2F&category=facility"
    assert staff.get(finding).status_code == 200
    response = staff.post(
        finding,
        data={"location": "電梯", "description": "按鈕失靈", "photos": [photo()]},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    assert staff.post(f"{url}/finish").status_code == 302
    db.session.expire_all()
    assert inspection.is_finished
    [defect] = fac.round_findings(inspection)
    assert (defect.source, defect.category.code) == ("inspection", "facility")
    clerk, _ = login_as("clerk")
    assert clerk.get(url).status_code == 403
    assert staff.get("/facility/rounds/999").status_code == 404


def test_settings_are_for_supervisors(login_as):
    boss, _ = login_as("supervisor")
    assert boss.get("/facility/settings").status_code == 200
    response = boss.post(
        "/facility/settings/plans/northeast",
        data={
            "plan-northeast-zone": "northeast",
            "plan-northeast-frequency_days": "14",
            "plan-northeast-active": "y",
        },
    )
    assert response.status_code == 302
    plan = db.session.scalar(select(fac.InspectionPlan))
    assert (plan.frequency_days, plan.active) == (14, True)
    response = boss.post(
        "/facility/settings/due-days/facility",
        data={"due-facility-category": "facility", "due-facility-days": "5"},
    )
    assert response.status_code == 302
    assert fac.category_by_code("facility").due_working_days == 5
    boss.post(
        "/facility/settings/due-days/facility",
        data={"due-facility-category": "facility", "due-facility-days": "-3"},
    )
    db.session.expire_all()
    assert fac.category_by_code("facility").due_working_days == 5
    staff, _ = login_as("facility")
    assert staff.get("/facility/settings").status_code == 403
    assert staff.post("/facility/settings/plans/northeast", data={}).status_code == 403


def test_the_calendar_is_editable(login_as):
    boss, _ = login_as("supervisor")
    page = text(boss.get("/facility/calendar?year=2024"))
    assert "補班" in page and "國慶日" in page
    response = boss.post(
        "/facility/calendar", data={"day": "2024-07-25", "working": "0", "name": "颱風停班"}
    )
    assert response.status_code == 302
    assert not is_working_day(date(2024, 7, 25))
    response = boss.post(
        "/facility/calendar", data={"day": "2024-07-24", "working": "1", "name": ""}
    )
    assert response.status_code == 422  # a Wednesday cannot be a make-up working day
    assert boss.post("/facility/calendar/2024-07-25/remove").status_code == 302
    db.session.expire_all()
    from flask import g

    g.pop("_work_calendar", None)
    assert is_working_day(date(2024, 7, 25))
    assert boss.post("/facility/calendar/2024/reload").status_code == 302
    assert boss.get("/facility/calendar?year=99999").status_code == 200
    staff, _ = login_as("facility")
    assert staff.get("/facility/calendar").status_code == 403


def test_qr_posters(login_as, app):
    admin, _ = login_as("admin")
    page = text(admin.get("/facility/posters"))
    assert "/facility/posters/northeast/3F.svg" in page
    response = admin.get("/facility/posters/northeast/3F.svg")
    assert response.status_code == 200 and response.mimetype == "image/svg+xml"
    svg = text(response)
    assert "東北區 · 3F" in svg and "<path" in svg
    assert "/facility/report?zone=northeast&amp;floor=3F" in svg
    assert "<script" not in svg and "style=" not in svg
    assert admin.get("/facility/posters/northeast").status_code == 200
    assert admin.get("/facility/posters/atlantis/3F.svg").status_code == 404
    download = admin.get("/facility/posters/northeast/3F.svg?download=1")
    assert "attachment" in download.headers["Content-Disposition"]
    staff, _ = login_as("facility")
    assert staff.get("/facility/posters").status_code == 403


def test_nav_shows_each_role_its_facility_pages(login_as):
    staff, _ = login_as("facility")
    home = text(staff.get("/"))
    for endpoint in ("/facility/tickets", "/facility/grid", "/facility/rounds", "/facility/report"):
        assert endpoint in home
    clerk, _ = login_as("clerk")
    home = text(clerk.get("/"))
    assert "/facility/report" in home and "/facility/mine" in home
    assert "/facility/tickets" not in home


def test_no_inline_scripts_or_styles(login_as):
    clerk, _ = login_as("clerk")
    report(clerk)
    staff, _ = login_as("supervisor")
    [defect] = defects()
    for url in (
        "/facility/report",
        f"/facility/tickets/{defect.id}",
        "/facility/tickets",
        "/facility/grid",
        "/facility/rounds",
        "/facility/settings",
        "/facility/calendar",
        "/facility/posters",
    ):
        page = text(staff.get(url))
        assert "style=" not in page and "<style" not in page, url
        assert not re.search(r"<script(?![^>]*\ssrc=)", page), url
    assert db.session.scalar(select(func.count(Defect.id))) == 1


def test_settings_ranges_are_one_pair_for_form_page_and_operation(login_as):
    """DUE_WORKING_DAYS and ROUND_FREQUENCY_DAYS: the operations, the forms' validators and
    the pages' messages all come from these two constants."""
    import pytest
    from flask_babel import force_locale
    from wtforms.validators import NumberRange

    from models.core.errors import InvalidInput
    from webapp.facility.forms import DueDaysForm, PlanForm

    due, every = fac.DUE_WORKING_DAYS, fac.ROUND_FREQUENCY_DAYS
    assert (due.low, due.high, every.low, every.high) == (0, 60, 1, 366)
    category, zone = fac.category_by_code("facility"), fac.zone_by_code("northeast")
    for setting, save in (
        (due, lambda v: fac.set_due_days(category, v)),
        (every, lambda v: fac.set_plan(zone, v)),
    ):
        save(setting.low)
        save(setting.high)
        for wrong in (setting.low - 1, setting.high + 1):
            with pytest.raises(InvalidInput) as refused:
                save(wrong)
            assert refused.value.message == setting.message
    db.session.rollback()
    for form_class, field, setting in (
        (DueDaysForm, "days", due),
        (PlanForm, "frequency_days", every),
    ):
        [validator] = [
            v for v in form_class.__dict__[field].kwargs["validators"] if isinstance(v, NumberRange)
        ]
        assert (validator.min, validator.max, validator.message) == (
            setting.low,
            setting.high,
            setting.message,
        )
    boss, _ = login_as("supervisor")
    for days, saved in (("61", 7), ("60", 60)):
        response = boss.post(
            "/facility/settings/due-days/facility",
            data={"due-facility-category": "facility", "due-facility-days": days},
            follow_redirects=True,
        )
        db.session.expire_all()
        assert fac.category_by_code("facility").due_working_days == saved
        with force_locale("zh_Hant_TW"):
            assert (str(due.message) in response.get_data(as_text=True)) is (days == "61")
    response = boss.post(
        "/facility/settings/plans/northeast",
        data={"plan-northeast-zone": "northeast", "plan-northeast-frequency_days": "367"},
        follow_redirects=True,
    )
    with force_locale("zh_Hant_TW"):
        assert str(every.message) in response.get_data(as_text=True)
    assert db.session.scalar(select(fac.InspectionPlan)) is None


def _photo_ids(html: str) -> set[int]:
    return {int(n) for n in re.findall(r"/facility/photos/(\d+)", html)}


def _status(client, url: str) -> int:
    with client.get(url) as response:
        return response.status_code


def test_joining_a_ticket_shows_neither_the_other_reporters_name_nor_photos(login_as):
    """Issue 12: "me too" used to open the whole ticket, the first reporter's name and photos."""
    first_client, first = login_as("clerk", name="王小明")
    assert report(first_client).status_code == 302
    [ticket] = defects()
    [first_photo] = [p.id for p in ticket.photos]
    client, other = login_as("agency", name="李大華")
    response = report(client, add_to=str(ticket.id), description="又被堆滿了")
    assert response.status_code == 302
    db.session.expire_all()
    [own_photo] = [p.id for p in ticket.photos if p.uploaded_by_id == other.id]

    page = text(client.get(f"/facility/tickets/{ticket.id}"))
    assert "逃生梯堆放紙箱" in page and "又被堆滿了" in page  # the defect and their own words
    assert "王小明" not in page and first.username not in page
    assert _photo_ids(page) == {own_photo}
    for variant in ("", "/display", "/thumb"):
        assert _status(client, f"/facility/photos/{first_photo}{variant}") == 404
    assert _status(client, f"/facility/photos/{own_photo}/thumb") == 200

    # nor does the first reporter learn who joined, what they wrote or what they took
    page = text(first_client.get(f"/facility/tickets/{ticket.id}"))
    assert "李大華" not in page and other.username not in page and "又被堆滿了" not in page
    assert _photo_ids(page) == {first_photo}
    assert _status(first_client, f"/facility/photos/{own_photo}") == 404

    staff, _ = login_as("facility")
    page = text(staff.get(f"/facility/tickets/{ticket.id}"))
    assert "王小明" in page and "李大華" in page and "又被堆滿了" in page
    assert _photo_ids(page) == {first_photo, own_photo}


def test_a_ticket_number_alone_does_not_join_a_ticket(login_as):
    """Issue 12: the report is added only to an open ticket at the place the form names."""
    first_client, _ = login_as("clerk")
    assert report(first_client).status_code == 302
    [ticket] = defects()
    client, _ = login_as("agency")
    for elsewhere in ({"category": "facility"}, {"floor": "1F"}, {"zone": "southwest"}):
        response = report(client, add_to=str(ticket.id), description="我也看到", **elsewhere)
        assert response.status_code == 404, elsewhere
        assert f"此處沒有這類問題的案件 #{ticket.id}。" in text(response)
    assert [e.action for e in fac.events_of(ticket)] == ["reported"]
    assert client.get(f"/facility/tickets/{ticket.id}").status_code == 404
