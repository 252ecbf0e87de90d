"""Checkpoints of the audit trail: its sealed head (seq, hash and time) signed with the audit key,
kept by an auditor outside the database; a later trail must still extend it, which catches even
a rewrite made with the key (`citydesk audit checkpoint`, `citydesk audit verify --against`).
The chain itself (entries, sealing, `verify_chain()`) is `models.core.audit`.
"""

import hashlib
import hmac
import json
from datetime import datetime

from sqlalchemy import select, text

from models.core import clock, db
from models.core.audit import AuditEntry, ChainReport, audit_key, canonical_json, verify_chain

CHECKPOINT_FIELDS = ("seq", "hash", "entry_at", "taken_at")
_CHECKPOINT_DOMAIN = b"citydesk-audit-checkpoint\n"  # a signature is never an entry's hash
CHECKPOINT_MAX_BYTES = 64 * 1024


class BrokenChain(Exception):
    """The trail does not verify, so no checkpoint is taken of it."""

    def __init__(self, report: ChainReport):
        super().__init__(report.reason)
        self.report = report


class BadCheckpoint(ValueError):
    """A checkpoint that cannot be used: unreadable, malformed or not signed with our key."""


def _checkpoint_signature(checkpoint: dict, key: bytes) -> str:
    body = canonical_json({name: checkpoint[name] for name in CHECKPOINT_FIELDS})
    return hmac.new(key, _CHECKPOINT_DOMAIN + body, hashlib.sha256).hexdigest()


def _flush_sealings() -> None:
    """Make every sealing so far durable (PostgreSQL commits them without waiting for the
    disk): a transaction with an id, committed synchronously, flushes the log up to it."""
    if db.engine.dialect.name == "postgresql":
        with db.engine.begin() as conn:
            conn.execute(text("SELECT pg_current_xact_id()"))


def make_checkpoint() -> dict:
    """The signed head of the verified trail (`BrokenChain` when it does not verify)."""
    # An empty trail gives the checkpoint of entry 0 (hash GENESIS, entry_at None): every trail
    # extends it.
    _flush_sealings()
    report = verify_chain()
    if not report.ok:
        raise BrokenChain(report)
    entry_at = None
    if report.checked:
        at = db.session.scalar(select(AuditEntry.at).where(AuditEntry.seq == report.checked))
        entry_at = at.isoformat()
    checkpoint = {
        "seq": report.checked,
        "hash": report.last_hash,
        "entry_at": entry_at,
        "taken_at": clock.now().isoformat(),
    }
    checkpoint["signature"] = _checkpoint_signature(checkpoint, audit_key())
    return checkpoint


def _is_hex64(value: object) -> bool:
    return (
        isinstance(value, str) and len(value) == 64 and all(c in "0123456789abcdef" for c in value)
    )


def _is_time(value: object) -> bool:
    try:
        return isinstance(value, str) and datetime.fromisoformat(value).tzinfo is not None
    except ValueError:
        return False


def load_checkpoint(data: bytes) -> dict:
    """The checkpoint in `data` (JSON from `make_checkpoint()`), else `BadCheckpoint` and why."""
    if len(data) > CHECKPOINT_MAX_BYTES:
        raise BadCheckpoint(f"it is larger than {CHECKPOINT_MAX_BYTES} bytes")
    try:
        checkpoint = json.loads(data)
    except (ValueError, RecursionError):
        raise BadCheckpoint("it is not a JSON checkpoint") from None
    expected = {*CHECKPOINT_FIELDS, "signature"}
    if not isinstance(checkpoint, dict) or set(checkpoint) != expected:
        raise BadCheckpoint(f"it must be a JSON object with exactly {', '.join(sorted(expected))}")
    seq = checkpoint["seq"]
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
        raise BadCheckpoint("its seq is not a whole number")
    if not _is_hex64(checkpoint["hash"]) or not _is_hex64(checkpoint["signature"]):
        raise BadCheckpoint("its hash or signature is not 64 hexadecimal digits")
    times = [checkpoint["taken_at"]] + ([] if seq == 0 else [checkpoint["entry_at"]])
    if (seq == 0 and checkpoint["entry_at"] is not None) or not all(map(_is_time, times)):
        raise BadCheckpoint("its entry_at or taken_at is not a time")
    signature = _checkpoint_signature(checkpoint, audit_key())
    if not hmac.compare_digest(signature, checkpoint["signature"]):
        raise BadCheckpoint("its signature does not match (altered, or signed with another key)")
    return checkpoint


def checkpoint_problem(checkpoint: dict, report: ChainReport) -> str | None:
    """Why the verified trail (`report`) does not extend `checkpoint`, or None when it does."""
    seq = checkpoint["seq"]
    if seq == 0:
        return None
    if seq > report.checked:
        return f"entry {seq} is missing: the trail has {report.checked} entries"
    stored = db.session.scalar(select(AuditEntry.hash).where(AuditEntry.seq == seq))
    if stored != checkpoint["hash"]:
        return f"entry {seq} has another hash than at the checkpoint: it was rewritten"
    return None
