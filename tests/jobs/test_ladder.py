"""The supervisor's escalation ladder (issue 13) as the overdue sweep walks it: each dispatch
follows the version in effect for its agency when it was notified, an agency's own ladder beats
the default, and repeated reminders come every N minutes until someone acknowledges, once each,
however often the sweep runs."""

import threading
from collections import Counter
from datetime import timedelta

import pytest
import sqlalchemy as sa

from jobs.escalation import overdue_sweep
from models.core import clock, db
from models.core.errors import Conflict, Forbidden, InvalidInput
from models.dispatch import Dispatch, acknowledge, ladder
from models.dispatch.escalation import DispatchEscalation, steps_for
from models.dispatch.ladder import (
    EscalationLadder,
    Rungs,
    remove_override,
    save_default,
    save_override,
)
from models.reference import agency_by_code
from tests.conftest import make_app
from tests.jobs.conftest import notices

# What the supervisor types on the page: reminder 5 min before (was 3), repeated every 2 min.
NEW_DEFAULT = {
    "default-reminder_minutes": "5",
    "default-repeat_minutes": "2",
    "default-breach_to_supervisors": "y",
    "default-chief_minutes": "5",
    "default-submit": "1",
}


def _reminders(dispatch) -> list[tuple[str, int]]:
    """(step key, seconds after the notification it was due) of a dispatch's reminders."""
    db.session.expire_all()
    return [
        (step.step, int((step.due_at - dispatch.notified_at).total_seconds()))
        for step in steps_for(dispatch.id)
        if step.step.startswith("reminder")
    ]


def _sweep_every_minute_until_the_deadline(run):
    """Run the sweep at each whole minute from now (the notification) to the deadline."""
    for _ in range(10):
        clock.advance(seconds=60)
        run(overdue_sweep)
        run(overdue_sweep)  # a second sweep at the same instant (a restart, a second leader)


def test_a_ladder_change_applies_only_to_dispatches_notified_after_it(
    frozen_clock, run, seeded_ladder, notify_now, login_as, agency_contacts
):
    before = notify_now()  # A: the ladder of the configuration (reminder 3 min before)
    supervisor, _user = login_as("supervisor")
    assert supervisor.post("/admin/escalation", data=NEW_DEFAULT).status_code == 302
    after = notify_now()  # B, the same instant: the supervisor's new ladder
    db.session.expire_all()
    new_version = ladder.default_version()
    assert new_version.id != seeded_ladder.id
    assert before.ladder_id == seeded_ladder.id and after.ladder_id == new_version.id

    _sweep_every_minute_until_the_deadline(run)

    assert _reminders(before) == [("reminder", 420)]  # 3:00 before its deadline, once
    assert _reminders(after) == [("reminder", 300), ("reminder:2", 420), ("reminder:3", 540)]
    assert notices(event_key=f"dispatch:{before.id}:reminder:2") == []
    repeated = notices(event_key=f"dispatch:{after.id}:reminder:3")
    assert len(repeated) == 5 and {n.payload["number"] for n in repeated} == {3}
    # History is never rewritten: the old version is still there, unchanged.
    assert db.session.get(EscalationLadder, seeded_ladder.id).rungs == Rungs(180, None, True, 300)


def test_a_dispatch_keeps_its_version_when_the_configuration_changes(
    frozen_clock, run, seeded_ladder, notify_now, monkeypatch, app
):
    dispatch = notify_now()
    monkeypatch.setitem(app.config, "ESCALATION_REMINDER_SECONDS", None)  # e.g. a restart
    _sweep_every_minute_until_the_deadline(run)
    assert _reminders(dispatch) == [("reminder", 420)]


def test_without_any_version_a_dispatch_follows_the_configured_ladder(
    frozen_clock, run, notify_now, monkeypatch, app
):
    monkeypatch.setitem(app.config, "ESCALATION_REMINDER_SECONDS", 120)
    dispatch = notify_now()
    assert dispatch.ladder_id is None
    _sweep_every_minute_until_the_deadline(run)
    assert _reminders(dispatch) == [("reminder", 480)]


def test_an_agency_override_beats_the_default_and_ending_it_applies_to_later_dispatches(
    frozen_clock, run, seeded_ladder, notify_now, ladder_editor
):
    labor = agency_by_code("labor")
    with ladder_editor() as by:
        override = save_override(labor, Rungs(240, None, True, 300), by=by)
    own = notify_now("labor")
    other = notify_now("social-welfare")
    with ladder_editor() as by:
        remove_override(labor, by=by)
    later = notify_now("labor")
    assert (own.ladder_id, other.ladder_id) == (override.id, seeded_ladder.id)
    assert later.ladder_id == seeded_ladder.id  # back to the default

    _sweep_every_minute_until_the_deadline(run)

    assert _reminders(own) == [("reminder", 360)]  # 4:00 before, its agency's own ladder
    assert _reminders(other) == [("reminder", 420)]
    assert _reminders(later) == [("reminder", 420)]
    with ladder_editor() as by, pytest.raises(Conflict, match="已適用預設程序"):
        remove_override(labor, by=by)


def test_repeated_reminders_stop_at_acknowledgement_and_never_duplicate(
    frozen_clock, run, seeded_ladder, notify_now, ladder_editor, agency_contacts
):
    with ladder_editor() as by:
        save_default(Rungs(300, 60, True, 300), by=by)
    dispatch = notify_now()
    clock.advance(seconds=299)
    assert run(overdue_sweep)["reminder"] == 0
    clock.advance(seconds=1)  # 5:00 before the deadline
    assert [run(overdue_sweep)["reminder"] for _ in range(3)] == [1, 0, 0]
    clock.advance(seconds=59)
    assert run(overdue_sweep)["reminder"] == 0
    clock.advance(seconds=1)  # 4:00 before
    assert [run(overdue_sweep)["reminder"] for _ in range(3)] == [1, 0, 0]
    clock.advance(seconds=60)  # 3:00 before
    assert run(overdue_sweep)["reminder"] == 1

    acknowledge(dispatch, "張社工", by=agency_contacts[0])
    db.session.commit()
    for _ in range(3):
        clock.advance(seconds=60)
        assert run(overdue_sweep)["reminder"] == 0

    keys = [key for key, _due in _reminders(dispatch)]
    assert keys == ["reminder", "reminder:2", "reminder:3"]
    for key in keys:  # each reminder told the agency once: 2 staff, 2 addresses, the webhook
        rows = notices(event_key=f"dispatch:{dispatch.id}:{key}")
        assert len({(n.channel, n.recipient) for n in rows}) == len(rows) == 5
        assert {n.kind for n in rows} == {"dispatch.reminder"}


def test_after_a_pause_only_the_latest_reminder_goes_and_none_after_the_deadline(
    frozen_clock, run, seeded_ladder, notify_now, ladder_editor
):
    with ladder_editor() as by:
        save_default(Rungs(300, 60, True, None), by=by)
    dispatch = notify_now()
    clock.advance(seconds=450)  # 2:30 before: three reminders fell due while the jobs were down
    assert run(overdue_sweep)["reminder"] == 1
    assert _reminders(dispatch) == [("reminder:3", 420)]
    clock.advance(seconds=30)
    assert run(overdue_sweep)["reminder"] == 1  # reminder:4, 2:00 before
    clock.advance(seconds=60)
    assert run(overdue_sweep)["reminder"] == 1  # reminder:5, 1:00 before
    clock.advance(seconds=60)  # the deadline itself: no reminder, not yet a breach
    assert run(overdue_sweep) == {"reminder": 0, "breach": 0, "chief": 0, "notices": 0}
    clock.advance(seconds=60)
    result = run(overdue_sweep)
    assert (result["reminder"], result["breach"]) == (0, 1)
    assert [s.step for s in steps_for(dispatch.id)] == [
        "reminder:3",
        "reminder:4",
        "reminder:5",
        "breach",
    ]


def test_a_reminder_that_would_come_before_the_notification_is_not_sent(
    frozen_clock, run, seeded_ladder, notify_now, ladder_editor, app
):
    with ladder_editor() as by:
        save_default(Rungs(300, 120, True, 300), by=by)
    from models.reference import set_sla_seconds

    set_sla_seconds(240)  # reminders at -5:00 (before the notice), -3:00, -1:00
    db.session.commit()
    dispatch = notify_now()
    _sweep_every_minute_until_the_deadline(run)
    assert _reminders(dispatch) == [("reminder:2", 60), ("reminder:3", 180)]


@pytest.mark.parametrize(
    ("rungs", "field"),
    [
        (Rungs(20, None, True, 300), "reminder_before"),  # under half a minute
        (Rungs(600, None, True, 300), "reminder_before"),  # not shorter than the time limit
        (Rungs(None, 60, True, 300), "repeat_every"),  # nothing to repeat
        (Rungs(180, 180, True, 300), "repeat_every"),  # would never come before the deadline
        (Rungs(300, 90, True, 300), "repeat_every"),  # not whole minutes
        (Rungs(300, 7200, True, 300), "repeat_every"),
        (Rungs(180, None, True, 240 * 60 + 1), "chief_after"),
    ],
)
def test_ladder_values_are_checked_by_the_one_rule(rungs, field, ladder_editor):
    assert list(ladder.problems(rungs, sla_seconds=600)) == [field]
    with ladder_editor() as by, pytest.raises(InvalidInput):
        save_default(rungs, by=by)
    assert ladder.problems(Rungs(180, 60, False, None), sla_seconds=600) == {}


def test_only_supervisors_and_administrators_change_the_ladder(create_user, ladder_editor):
    for role in ("clerk", "agency", "facility"):
        with pytest.raises(Forbidden):
            save_default(Rungs(), by=create_user(role=role))
    with pytest.raises(Forbidden):
        save_default(Rungs(), by=None)
    assert save_default(Rungs(), by=create_user(role="admin")) is not None


def _two_sweeps_at_once(app) -> list[BaseException]:
    """Run two overdue sweeps in threads, started together; the errors they raised."""
    barrier, errors = threading.Barrier(2), []

    def sweep():
        try:
            barrier.wait()
            overdue_sweep(app)
        except BaseException as exc:  # reported to the test
            errors.append(exc)

    threads = [threading.Thread(target=sweep) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not any(thread.is_alive() for thread in threads)
    return errors


@pytest.mark.postgres_only(
    reason="needs PostgreSQL: SQLite has one writer, so nothing runs concurrently there"
)
def test_two_sweeps_at_once_take_each_repeated_reminder_once(
    app, frozen_clock, seeded_ladder, notify_now, ladder_editor, agency_contacts
):
    with ladder_editor() as by:
        save_default(Rungs(300, 60, True, 300), by=by)
    dispatches = [notify_now() for _ in range(6)]
    clock.advance(seconds=240)
    for _ in range(5):  # 5:00, 4:00 ... 1:00 before the deadline: two sweeps race each time
        clock.advance(seconds=60)
        db.session.commit()
        assert _two_sweeps_at_once(app) == []
    db.session.expire_all()
    steps = Counter(
        (row.dispatch_id, row.step) for row in db.session.scalars(sa.select(DispatchEscalation))
    )
    assert set(steps.values()) == {1}
    assert len(steps) == 6 * 5
    for dispatch in dispatches:
        rows = notices(dispatch_id=dispatch.id, kind="dispatch.reminder")
        assert len(rows) == 5 * 5  # five reminders, five recipients each, none twice
        assert len({(n.event_key, n.channel, n.recipient) for n in rows}) == len(rows)


def test_the_migration_makes_the_first_version_from_the_configuration(tmp_path, monkeypatch):
    """Migration 0017 on a database with a dispatch: the first default version holds the
    configured values, and the dispatch follows it."""
    from flask_migrate import upgrade

    monkeypatch.setenv("CITYDESK_INSTANCE_PATH", str(tmp_path))
    configured = make_app(
        f"sqlite:///{tmp_path}/ladder.sqlite3",
        tmp_path,
        ESCALATION_REMINDER_SECONDS=120,
        ESCALATION_BREACH_TO_SUPERVISORS=False,
        ESCALATION_CHIEF_SECONDS="off",
    )
    with configured.app_context():
        upgrade(revision="0012")
        notified = clock.now() - timedelta(days=3)
        db.session.execute(
            sa.text(
                "INSERT INTO dispatch (agency_id, subject, state, notified_at, sla_seconds, "
                "deadline_at) SELECT id, '舊案', 'arrived', :at, 600, :deadline FROM agency "
                "WHERE code = 'labor'"
            ),
            {"at": notified.replace(tzinfo=None), "deadline": notified.replace(tzinfo=None)},
        )
        db.session.commit()
        upgrade()
        [version] = db.session.scalars(sa.select(EscalationLadder))
        assert version.agency_id is None and version.created_by_id is None
        assert version.rungs == Rungs(120, None, False, None)
        assert set(db.session.scalars(sa.select(Dispatch.ladder_id))) == {version.id}
        db.session.remove()
        db.engine.dispose()
