"""Retention: names and phones erased after CITYDESK_RETENTION_DAYS; everything else stays."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from jobs.retention import erase_expired
from models.core import clock, db
from models.core.audit import AuditEntry
from models.core.outbox import Channel, enqueue
from models.dispatch import Dispatch, Outcome, Visit
from models.reference import agency_by_code


def _visit(days_ago, name="王小明", phone="0912345678"):
    visit = Visit(
        kind="petition",
        subject="房屋稅",
        agency=agency_by_code("finance"),
        petitioner_name=name,
        petitioner_phone=phone,
        created_at=clock.now() - timedelta(days=days_ago),
    )
    db.session.add(visit)
    db.session.flush()
    return visit


def test_old_visits_lose_name_and_phone_and_keep_everything_else(frozen_clock, run, dispatch_row):
    old = _visit(366)
    recent = _visit(364)
    anonymous = _visit(500, name=None, phone=None)
    dispatch = dispatch_row(
        "finance",
        notified_at=old.created_at,
        visit_id=old.id,
        state="arrived",
        arrived_at=old.created_at + timedelta(minutes=8),
        ended_at=old.created_at + timedelta(minutes=8),
    )
    enqueue(
        f"dispatch:{dispatch.id}:notified",
        "dispatch.notified",
        Channel.EMAIL,
        "desk@finance.example",
        {"dispatch_id": dispatch.id, "petitioner_name": "王小明", "subject": "房屋稅"},
        dispatch_id=dispatch.id,
    )
    db.session.commit()

    assert run(erase_expired) == {"erased": 1}

    old, recent = db.session.get(Visit, old.id), db.session.get(Visit, recent.id)
    assert (old.petitioner_name, old.petitioner_phone) == (None, None)
    assert old.personal_data_erased_at == clock.now()
    assert (old.kind, old.subject, old.agency.code) == ("petition", "房屋稅", "finance")
    assert old.created_at == clock.now() - timedelta(days=366)
    assert (recent.petitioner_name, recent.petitioner_phone) == ("王小明", "0912345678")
    assert db.session.get(Visit, anonymous.id).personal_data_erased_at is None
    dispatch = db.session.get(Dispatch, dispatch.id)
    assert dispatch.outcome() == Outcome.ON_TIME  # the report still adds up
    notice_payload = db.session.scalar(sa.text("select payload from notification"))
    assert "王小明" not in str(notice_payload)

    [entry] = db.session.scalars(
        sa.select(AuditEntry).where(AuditEntry.action == "visit.personal_data_erased")
    )
    assert (entry.actor, entry.object_id) == ("jobs", str(old.id))
    assert entry.before["fields"] == ["petitioner_name", "petitioner_phone"]
    assert "王小明" not in str(entry.before) + str(entry.after)
    assert "0912345678" not in str(entry.before) + str(entry.after)

    assert run(erase_expired) == {"erased": 0}  # idempotent
    clock.advance(days=2)
    assert run(erase_expired) == {"erased": 1}  # the recent one's turn came


def test_the_retention_period_is_a_setting(frozen_clock, run, app, monkeypatch):
    _visit(40)
    db.session.commit()
    assert run(erase_expired) == {"erased": 0}
    monkeypatch.setitem(app.config, "RETENTION_DAYS", 30)
    assert run(erase_expired) == {"erased": 1}
    monkeypatch.setitem(app.config, "RETENTION_DAYS", "zero")
    with pytest.raises(Exception, match="CITYDESK_RETENTION_DAYS must be a whole number"):
        run(erase_expired)
