"""Offline rounds, the server side: a check or finding sent with the id the phone made for it
is recorded once however often it is sent (also when two syncs race), and what the server
refuses comes back with its reason."""

import threading
import uuid

import pytest
from sqlalchemy import func, select

from models import facility as fac
from models.core import audit, db
from models.core.errors import Conflict, InvalidInput
from models.facility import Defect, RoundCheck
from models.facility import rounds as rounds_module
from tests.facility.support import as_user, image_bytes, upload

pytestmark = pytest.mark.usefixtures("english")


def start(tech, floors=("3F",)):
    with as_user(tech):
        inspection = fac.start_round(
            fac.zone_by_code("northeast"), [fac.floor_by_code(f) for f in floors], by=tech
        )
        db.session.commit()
    return inspection


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def audit_actions(action: str) -> int:
    return db.session.scalar(
        select(func.count()).select_from(audit.AuditEntry).where(audit.AuditEntry.action == action)
    )


def test_a_repeated_check_id_is_recorded_once(tech):
    inspection = start(tech)
    client_id = str(uuid.uuid4())
    with as_user(tech):
        first = fac.mark_no_defect(
            inspection,
            fac.floor_by_code("3F"),
            fac.category_by_code("corridor"),
            by=tech,
            client_id=client_id,
        )
        db.session.commit()
        again = fac.mark_no_defect(
            inspection,
            fac.floor_by_code("3F"),
            fac.category_by_code("corridor"),
            by=tech,
            client_id=client_id.upper(),
        )
        db.session.commit()
    assert again.id == first.id and first.client_id == client_id
    assert count(RoundCheck) == 1
    assert audit_actions("round.check") == 1


def test_a_repeated_finding_id_is_recorded_once(tech):
    inspection = start(tech)
    client_id = str(uuid.uuid4())
    kwargs = {
        "by": tech,
        "location": "電梯廳",
        "description": "緊急照明故障",
        "client_id": client_id,
    }
    with as_user(tech):
        first = fac.record_finding(
            inspection,
            fac.floor_by_code("3F"),
            fac.category_by_code("facility"),
            uploads=[upload()],
            **kwargs,
        )
        db.session.commit()
        again = fac.record_finding(
            inspection,
            fac.floor_by_code("3F"),
            fac.category_by_code("facility"),
            uploads=[upload()],
            **kwargs,
        )
        db.session.commit()
    assert again.id == first.id
    assert count(Defect) == 1 and len(first.photos) == 1


def test_a_repeat_after_the_round_was_finished_is_still_done(tech):
    """The phone never heard the answer, a colleague finished the round: the retry of what
    was recorded is done, not refused."""
    inspection = start(tech)
    ids = {c.code: str(uuid.uuid4()) for c in fac.categories()}
    with as_user(tech):
        for category in fac.categories():
            fac.mark_no_defect(
                inspection, fac.floor_by_code("3F"), category, by=tech, client_id=ids[category.code]
            )
        fac.finish_round(inspection, by=tech)
        db.session.commit()
        again = fac.mark_no_defect(
            inspection,
            fac.floor_by_code("3F"),
            fac.category_by_code("corridor"),
            by=tech,
            client_id=ids["corridor"],
        )
    assert again.client_id == ids["corridor"] and count(RoundCheck) == 4


def test_a_new_check_on_a_finished_round_is_refused_with_the_reason(tech):
    inspection = start(tech)
    with as_user(tech):
        for category in fac.categories():
            fac.mark_no_defect(inspection, fac.floor_by_code("3F"), category, by=tech)
        fac.finish_round(inspection, by=tech)
        db.session.commit()
        with pytest.raises(Conflict, match="finished already"):
            fac.mark_no_defect(
                inspection,
                fac.floor_by_code("3F"),
                fac.category_by_code("corridor"),
                by=tech,
                client_id=str(uuid.uuid4()),
            )


def test_a_client_id_that_is_not_a_uuid_is_refused(tech):
    inspection = start(tech)
    with as_user(tech), pytest.raises(InvalidInput, match="id the phone gave"):
        fac.mark_no_defect(
            inspection,
            fac.floor_by_code("3F"),
            fac.category_by_code("corridor"),
            by=tech,
            client_id="1; drop table",
        )
    assert count(RoundCheck) == 0


def test_a_client_id_of_another_round_is_refused(tech, create_user):
    first = start(tech)
    other = start(create_user(role="facility", username="tech-other"))
    client_id = str(uuid.uuid4())
    with as_user(tech):
        fac.mark_no_defect(
            first,
            fac.floor_by_code("3F"),
            fac.category_by_code("corridor"),
            by=tech,
            client_id=client_id,
        )
        db.session.commit()
    with pytest.raises(Conflict, match="another round"):
        fac.mark_no_defect(
            other,
            fac.floor_by_code("3F"),
            fac.category_by_code("corridor"),
            by=other.inspector,
            client_id=client_id,
        )


def test_a_racing_sync_that_loses_the_insert_gets_the_winners_record(tech, monkeypatch):
    """Both syncs looked and saw nothing; the second insert hits the unique constraint and
    answers with the first one's record instead of an error or a second row."""
    inspection = start(tech)
    client_id = str(uuid.uuid4())
    with as_user(tech):
        won = fac.mark_no_defect(
            inspection,
            fac.floor_by_code("3F"),
            fac.category_by_code("corridor"),
            by=tech,
            client_id=client_id,
        )
        db.session.commit()
    real = rounds_module._earlier
    calls = []

    def blind_then_real(*args):
        calls.append(args)  # the look before the lock and the one after it saw nothing
        return None if len(calls) <= 2 else real(*args)

    monkeypatch.setattr(rounds_module, "_earlier", blind_then_real)
    with as_user(tech):
        lost = fac.mark_no_defect(
            inspection,
            fac.floor_by_code("3F"),
            fac.category_by_code("cleanliness"),
            by=tech,
            client_id=client_id,
        )
        db.session.commit()
    assert lost.id == won.id
    assert count(RoundCheck) == 1  # the loser's check at another place was rolled back


# --- the API -------------------------------------------------------------------------------


def test_api_records_a_check_once_per_client_id(api):
    staff = api("facility")
    inspection = start(staff.user)
    body = {"floor": "3F", "category": "corridor", "client_id": str(uuid.uuid4())}
    first = staff.post(f"/rounds/{inspection.id}/checks", body)
    again = staff.post(f"/rounds/{inspection.id}/checks", body)
    assert first.status_code == again.status_code == 200, first.get_data(as_text=True)
    assert first.get_json() == again.get_json()
    assert first.get_json()["result"] == "ok"
    assert count(RoundCheck) == 1


def test_api_records_a_finding_with_photos_once_per_client_id(api):
    staff = api("facility")
    inspection = start(staff.user)
    client_id = str(uuid.uuid4())

    def send():
        return staff.client.post(
            f"/api/v1/rounds/{inspection.id}/findings",
            headers=staff.headers,
            data={
                "floor": "3F",
                "category": "facility",
                "location": "電梯廳",
                "description": "緊急照明故障",
                "client_id": client_id,
                "photo": (io_bytes(), "shrunk.jpg", "image/jpeg"),
            },
        )

    first, again = send(), send()
    assert first.status_code == again.status_code == 201, first.get_data(as_text=True)
    assert first.get_json()["id"] == again.get_json()["id"]
    assert len(first.get_json()["photos"]) == 1
    assert count(Defect) == 1


def io_bytes():
    import io

    return io.BytesIO(image_bytes("JPEG", (1600, 1200)))


def test_api_refusals_carry_the_reason(api, create_user):
    staff = api("facility")
    inspection = start(staff.user)
    url = f"/rounds/{inspection.id}/checks"
    with as_user(staff.user):
        for category in fac.categories():
            fac.mark_no_defect(inspection, fac.floor_by_code("3F"), category, by=staff.user)
        fac.finish_round(inspection, by=staff.user)
        db.session.commit()
    refused = staff.post(
        url, {"floor": "3F", "category": "corridor", "client_id": str(uuid.uuid4())}
    )
    assert refused.status_code == 409
    assert refused.get_json()["message"] == "這次巡檢已經完成。"  # in the user's language
    assert staff.post(url, {"floor": "9Z", "category": "corridor"}).status_code == 404
    bad = staff.post(url, {"floor": "3F", "category": "corridor", "client_id": "x"})
    assert bad.status_code == 422
    assert api("clerk").post(url, {"floor": "3F", "category": "corridor"}).status_code == 403
    assert (
        staff.post("/rounds/999999/checks", {"floor": "3F", "category": "corridor"}).status_code
        == 404
    )


def test_api_session_call_needs_the_csrf_token(csrf_app, create_user):
    from tests.conftest import csrf_token, login

    tech = create_user(role="facility", username="tech-csrf")
    inspection = start(tech)
    client = csrf_app.test_client()
    login(client, "tech-csrf", csrf=True)
    url = f"/api/v1/rounds/{inspection.id}/checks"
    body = {"floor": "3F", "category": "corridor", "client_id": str(uuid.uuid4())}
    refused = client.post(url, json=body)
    assert refused.status_code == 400 and refused.get_json()["error"] == "csrf"
    token = csrf_token(client, f"/facility/rounds/{inspection.id}")
    assert client.post(url, json=body, headers={"X-CSRFToken": token}).status_code == 200


@pytest.mark.postgres_only(
    reason="needs PostgreSQL: SQLite has one writer, so two syncs cannot race there"
)
def test_two_syncs_racing_with_the_same_ids_record_once(app, api):
    staff = api("facility")
    inspection = start(staff.user)
    check = {"floor": "3F", "category": "corridor", "client_id": str(uuid.uuid4())}
    finding = {
        "floor": "3F",
        "category": "facility",
        "description": "緊急照明故障",
        "client_id": str(uuid.uuid4()),
    }
    checks_url = f"/api/v1/rounds/{inspection.id}/checks"
    findings_url = f"/api/v1/rounds/{inspection.id}/findings"
    answers: list[int] = []
    barrier = threading.Barrier(4)

    def sync(kind):
        client = app.test_client()
        barrier.wait()
        if kind == "check":
            response = client.post(checks_url, headers=staff.headers, json=check)
        else:
            response = client.post(
                findings_url,
                headers=staff.headers,
                data=dict(finding, photo=(io_bytes(), "p.jpg", "image/jpeg")),
            )
        answers.append(response.status_code)

    threads = [threading.Thread(target=sync, args=(k,)) for k in ("check", "check", "f", "f")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(answers) == [200, 200, 201, 201]
    db.session.expire_all()
    assert count(RoundCheck) == 2  # the corridor check and the finding's check
    assert count(Defect) == 1
