"""The webhook signature, both sides: CityDesk signs `<t>.<body>` with the agency's secret and
sends `X-CityDesk-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>`; a receiver recomputes it
and refuses a signature older (or newer) than five minutes, so a captured request cannot be
replayed later. Standard library only: an agency may copy `verify` (docs/jobs.md)."""

import hashlib
import hmac

HEADER = "X-CityDesk-Signature"
TOLERANCE_SECONDS = 300


def _mac(secret: str, timestamp: int, body: bytes) -> str:
    signed = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The signature header value for `body` sent at `timestamp` (Unix seconds)."""
    return f"t={timestamp},v1={_mac(secret, timestamp, body)}"


def verify(
    secret: str, body: bytes, header: str, *, now: float, tolerance: int = TOLERANCE_SECONDS
) -> bool:
    """True when `header` signs the raw `body` with `secret` within `tolerance` s of `now`."""
    fields: dict[str, list[str]] = {}
    for part in (header or "").split(","):
        key, _, value = part.strip().partition("=")
        fields.setdefault(key, []).append(value)
    try:
        [timestamp] = fields.get("t", [])
        timestamp = int(timestamp)
    except ValueError:
        return False
    if abs(now - timestamp) > tolerance:
        return False
    expected = _mac(secret, timestamp, body)
    return any(hmac.compare_digest(expected, given) for given in fields.get("v1", []))
