"""Accounts, roles, sign-in throttling and API tokens."""

import enum
import hashlib
import math
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import ForeignKey, Index, String, func, select, true
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash
from zxcvbn import zxcvbn

from models.core import audit, clock, db
from models.core.errors import InvalidInput, NotFound
from models.reference import Agency


class Role(enum.StrEnum):
    """What a user is for; see DESIGN "Who uses it"."""

    CLERK = "clerk"
    AGENCY = "agency"
    FACILITY = "facility"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"


# Sign-in throttling: no hard lock that a stranger could set off on someone else's account.
# Failures count per account (the username as typed) and per source address; past a few, each
# next attempt waits longer. An account's wait is capped low, so its owner signing in from a
# new address waits a little at most; one address guessing gets ever slower.
THROTTLE_WINDOW = timedelta(minutes=15)
FREE_FAILURES = 5
ACCOUNT_MAX_WAIT = timedelta(seconds=30)
ADDRESS_MAX_WAIT = timedelta(minutes=15)
ATTACK_FAILURES = 10  # failures on one account in the window that warn its owner and the admins
USERNAME_RE = re.compile(r"^[A-Za-z0-9_.@-]{2,64}$")
MIN_PASSWORD_LENGTH = 10
# zxcvbn's guessability score, 0 (too guessable) … 4 (very unguessable): 3 resists an
# offline attack on a stolen hash for long enough ("safely unguessable").
MIN_PASSWORD_SCORE = 3


class WeakPassword(InvalidInput):
    """A new password that may not be used; the message says why."""

    field = "password"


class SignedIn:
    """Flask-Login's protocol for a signed-in person (a `User`, or the live poll's kept
    `SessionViewer`), kept here so that any layer can ask the same questions."""

    is_authenticated = True
    is_anonymous = False

    def get_id(self) -> str:
        """Session identity: the id plus the session version (sign-out bumps it)."""
        return f"{self.id}:{self.session_version}"

    def has_role(self, *roles: str) -> bool:
        """True when the role is one of `roles`."""
        return self.role in roles


class User(SignedIn, db.Model):
    """A person who signs in to CityDesk."""

    __tablename__ = "user"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(100), default="")
    email: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(20))
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agency.id"))
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(default=True)
    locale: Mapped[str | None] = mapped_column(String(20))
    # Bumped at sign-out and password change: every older session cookie stops working.
    session_version: Mapped[int] = mapped_column(default=1)
    receives_escalations: Mapped[bool] = mapped_column(default=False)
    # Agency staff hear new dispatches unless they switch the sound off (kept per user).
    sound_alerts: Mapped[bool] = mapped_column(default=True, server_default=true())
    created_at: Mapped[datetime] = mapped_column(default=clock.now)

    agency: Mapped[Agency | None] = relationship(lazy="joined")

    @property
    def is_active(self) -> bool:
        return self.active

    def set_password(self, password: str) -> None:
        """Hash and store a new password (werkzeug's default, scrypt) once it is strong enough."""
        problem = password_problem(password, self.username, self.name, self.email)
        if problem:
            raise WeakPassword(problem)
        self.password_hash = generate_password_hash(password)

    def check_password(self, password: str) -> bool:
        """True when `password` matches the stored hash."""
        return check_password_hash(self.password_hash, password or "")

    def to_dict(self) -> dict:
        """Audit/API view of the user (never the password hash)."""
        return {
            "username": self.username,
            "name": self.name,
            "email": self.email,
            "role": self.role,
            "agency": self.agency.code if self.agency else None,
            "active": self.active,
            "locale": self.locale,
            "receives_escalations": self.receives_escalations,
        }

    def __repr__(self) -> str:
        return f"<User {self.username} {self.role}>"


class LoginFailure(db.Model):
    """A failed sign-in, kept in the database so throttling holds across workers: the account
    as typed (whether or not it exists) and the source address."""

    __tablename__ = "login_failure"
    __table_args__ = (
        Index("ix_login_failure_account_at", "account", "at"),
        Index("ix_login_failure_ip_at", "ip", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account: Mapped[str] = mapped_column(String(120))
    ip: Mapped[str | None] = mapped_column(String(64))
    at: Mapped[datetime]


class ApiToken(db.Model):
    """A bearer token for the JSON API; only its SHA-256 is stored."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    user: Mapped[User] = relationship(lazy="joined")


def password_problem(password: str, *personal: str | None) -> str | None:
    """Why `password` may not be used (too short, the username, common or guessable), or None;
    `personal` are the account's own words (username, name, e-mail) a guesser would try."""
    password = password or ""
    if len(password) < MIN_PASSWORD_LENGTH:
        return _("A password needs at least %(n)d characters.", n=MIN_PASSWORD_LENGTH)
    words = [w for w in personal if w]
    if any(password.casefold() == w.casefold() for w in words):
        return _("A password may not be the username, the name or the e-mail address.")
    if zxcvbn(password[:100], user_inputs=words)["score"] < MIN_PASSWORD_SCORE:
        return _(
            "This password is common or easy to guess (a word, a name, a date or a run of "
            "keys). Use a longer phrase of a few unrelated words."
        )
    return None


def _validate(role: str, agency_code: str | None) -> Agency | None:
    if role not in {r.value for r in Role}:
        raise InvalidInput(
            _l(
                "Unknown role: %(role)s (one of %(roles)s)",
                role=role,
                roles=", ".join(r.value for r in Role),
            )
        )
    if role == Role.AGENCY:
        if not agency_code:
            raise InvalidInput(_l("An agency user must be bound to an agency (--agency CODE)"))
        from models.reference import agency_by_code

        return agency_by_code(agency_code)
    if agency_code:
        raise InvalidInput(_l("Only agency users are bound to an agency"))
    return None


def create_user(
    username: str,
    password: str,
    role: str,
    *,
    agency: str | None = None,
    name: str = "",
    email: str = "",
    locale: str | None = None,
    receives_escalations: bool = False,
) -> User:
    """Create an account; raises InvalidInput on an unknown role, agency or a taken name."""
    username = (username or "").strip()
    if not USERNAME_RE.match(username):
        raise InvalidInput(_l("A username is 2-64 letters, digits or . _ @ -"))
    if db.session.scalar(select(User).where(func.lower(User.username) == username.lower())):
        raise InvalidInput(_l("Username already taken: %(name)s", name=username))
    try:
        agency_row = _validate(role, agency)
    except NotFound as exc:
        raise InvalidInput(exc.message) from exc
    user = User(
        username=username,
        name=name or username,
        email=email,
        role=role,
        agency=agency_row,
        locale=locale,
        receives_escalations=receives_escalations,
    )
    user.set_password(password)
    db.session.add(user)
    db.session.flush()
    audit.record("user.create", "user", user.id, None, user.to_dict())
    return user


def update_user(user: User, *, password: str | None = None, **fields) -> User:
    """Change a user's profile, role or password; audited without the password."""
    before = user.to_dict()
    role = fields.get("role", user.role)
    agency_code = fields.pop("agency", user.agency.code if user.agency else None)
    if role != Role.AGENCY:
        agency_code = None
    try:
        user.agency = _validate(role, agency_code)
    except NotFound as exc:
        raise InvalidInput(exc.message) from exc
    for key, value in fields.items():
        if key not in {"name", "email", "role", "active", "locale", "receives_escalations"}:
            raise InvalidInput(f"Unknown user field: {key}")
        setattr(user, key, value)
    if password:
        user.set_password(password)
        user.session_version += 1
    if not user.active:
        user.session_version += 1
    after = user.to_dict()
    if password:
        after["password_changed"] = True
    audit.record("user.update", "user", user.id, before, after)
    db.session.flush()
    return user


class WrongCurrentPassword(InvalidInput):
    """The current password, asked before a new one is set, does not match."""

    field = "current_password"


def change_own_password(user: User, current: str, new: str) -> User:
    """A signed-in user sets a new password: the current one first; every session ends
    (the caller signs this one in again); audited without either password."""
    if not user.check_password(current):
        raise WrongCurrentPassword(_("That is not your current password."))
    user.set_password(new)
    user.session_version += 1
    audit.record("user.password_change", "user", user.id)
    db.session.flush()
    return user


def user_by_username(username: str) -> User:
    """The user with this username (case-insensitive) or NotFound."""
    user = db.session.scalar(
        select(User).where(func.lower(User.username) == (username or "").strip().lower())
    )
    if user is None:
        raise NotFound(_l("No such user: %(name)s", name=username))
    return user


@dataclass
class SignIn:
    """The outcome of a sign-in attempt: the user, or how long to wait before the next try."""

    user: User | None
    wait_seconds: int = 0

    @property
    def ok(self) -> bool:
        return self.user is not None


def account_key(username: str | None) -> str:
    """The account a sign-in names, as failures are counted (case and spaces folded)."""
    return (username or "").strip().casefold()[:120]


def _next_allowed(failures: list[datetime], max_wait: timedelta) -> datetime | None:
    if len(failures) < FREE_FAILURES:
        return None
    wait = timedelta(seconds=2 ** (len(failures) - FREE_FAILURES))
    return max(failures) + min(wait, max_wait)


def _failures(column, value, at: datetime) -> list[datetime]:
    rows = select(LoginFailure.at).where(column == value, LoginFailure.at > at - THROTTLE_WINDOW)
    return list(db.session.scalars(rows))


def sign_in_wait(username: str, ip: str | None, at: datetime | None = None) -> int:
    """Seconds the next sign-in to `username` from `ip` must wait (0: go ahead); the same for
    an account that exists and one that does not."""
    at = at or clock.now()
    allowed = [
        _next_allowed(_failures(LoginFailure.account, account_key(username), at), ACCOUNT_MAX_WAIT)
    ]
    if ip:
        allowed.append(_next_allowed(_failures(LoginFailure.ip, ip, at), ADDRESS_MAX_WAIT))
    latest = max((t for t in allowed if t is not None), default=None)
    if latest is None or latest <= at:
        return 0
    return max(1, math.ceil((latest - at).total_seconds()))


def throttled_accounts(at: datetime | None = None) -> set[str]:
    """The accounts (as `account_key` folds them) whose sign-ins are being slowed down now."""
    at = at or clock.now()
    rows = (
        select(LoginFailure.account)
        .where(LoginFailure.at > at - THROTTLE_WINDOW)
        .group_by(LoginFailure.account)
        .having(func.count(LoginFailure.id) >= FREE_FAILURES)
    )
    return set(db.session.scalars(rows))


def clear_sign_in_failures(user: User) -> int:
    """Forget an account's failed sign-ins (an administrator unlocking it); how many."""
    deleted = db.session.execute(
        db.delete(LoginFailure).where(LoginFailure.account == account_key(user.username))
    ).rowcount
    audit.record("auth.unthrottle", "user", user.id, None, {"failures": deleted})
    db.session.flush()
    return deleted


def _dummy_hash() -> str:
    """A password hash of the current kind, checked for unknown accounts so that they take as
    long to refuse as known ones (no discovering usernames by timing)."""
    global _DUMMY_HASH
    if _DUMMY_HASH is None:
        _DUMMY_HASH = generate_password_hash(secrets.token_hex(16))
    return _DUMMY_HASH


_DUMMY_HASH: str | None = None


def authenticate(username: str, password: str, *, ip: str | None = None) -> SignIn:
    """Check a sign-in: throttled per account and address, one password hash checked whether
    or not the account exists, failures recorded, both outcomes audited."""
    at = clock.now()
    account = account_key(username)
    user = db.session.scalar(select(User).where(func.lower(User.username) == account))
    actor = audit.Actor(user.id if user else None, (username or "")[:120], ip)
    wait = sign_in_wait(account, ip, at)
    if wait:
        audit.record("auth.login_throttled", "user", user.id if user else None, actor=actor)
        db.session.flush()
        return SignIn(None, wait_seconds=wait)
    matches = check_password_hash(user.password_hash if user else _dummy_hash(), password or "")
    if user is None or not user.active or not matches:
        audit.record("auth.login_failed", "user", user.id if user else None, actor=actor)
        db.session.add(LoginFailure(account=account, ip=(ip or None) and ip[:64], at=at))
        db.session.flush()
        if (
            user is not None
            and len(_failures(LoginFailure.account, account, at)) == ATTACK_FAILURES
        ):
            _warn_of_attack(user, ip, at)
        return SignIn(None)
    db.session.execute(db.delete(LoginFailure).where(LoginFailure.account == account))
    audit.record("auth.login", "user", user.id, actor=actor)
    db.session.flush()
    return SignIn(user)


def _warn_of_attack(user: User, ip: str | None, at: datetime) -> None:
    """Tell the account's owner and the administrators that someone keeps guessing its
    password (once per throttle window)."""
    from models.core import outbox

    titles = {}
    for key, locale in (("title", "zh_Hant_TW"), ("title_en", "en")):
        with force_locale(locale):
            titles[key] = _(
                "Someone keeps trying wrong passwords on the account %(name)s.",
                name=user.username,
            )
    admins = db.session.scalars(select(User).where(User.role == Role.ADMIN, User.active.is_(True)))
    window = int(at.timestamp() // THROTTLE_WINDOW.total_seconds())
    for person in {user, *admins}:
        path = f"/admin/users/{user.id}" if person.role == Role.ADMIN else None
        outbox.enqueue(
            f"auth:attack:{user.id}:{window}",
            "auth.attack",
            outbox.Channel.IN_APP,
            f"user:{person.id}",
            {**titles, "path": path, "ip": ip},
            user_id=person.id,
        )
    audit.record("auth.under_attack", "user", user.id, None, {"ip": ip})


def set_sound_alerts(user: User, on: bool) -> None:
    """Switch the user's alert sound on or off (their choice follows them to any browser)."""
    if user.sound_alerts != on:
        audit.record("user.sound_alerts", "user", user.id, {"on": user.sound_alerts}, {"on": on})
        user.sound_alerts = on
        db.session.flush()


def end_sessions(user: User) -> None:
    """Sign the user out everywhere: every existing session cookie stops working."""
    user.session_version += 1
    audit.record("auth.logout", "user", user.id)
    db.session.flush()


def load_session_user(session_id: str) -> User | None:
    """The active user a session identity (`id:version`) still belongs to, else None."""
    try:
        user_id, version = (int(part) for part in session_id.split(":"))
    except (ValueError, AttributeError):
        return None
    user = db.session.get(User, user_id)
    if user is None or not user.active or user.session_version != version:
        return None
    return user


@dataclass(frozen=True)
class SessionViewer(SignedIn):
    """What a poll needs to know of the signed-in user, copied from a loaded `User`: a poll
    that is answered for it checks, inside its own statement, that the user's row still says
    the same (`dispatch.live_rows`' `viewer_valid`), so it needs no statement to load them."""

    id: int
    username: str
    name: str
    role: str
    agency_id: int | None
    locale: str | None
    session_version: int
    is_active = True  # checked against the row at each poll (`viewer_valid`)

    @classmethod
    def of(cls, user: User) -> "SessionViewer":
        """The viewer a loaded user is now."""
        return cls(
            user.id,
            user.username,
            user.name,
            user.role,
            user.agency_id,
            user.locale,
            user.session_version,
        )


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(user: User, name: str = "") -> tuple[ApiToken, str]:
    """Issue an API token; returns the row and the clear token (shown once, never stored)."""
    if not user.active:
        raise InvalidInput(_l("Cannot issue a token to a deactivated user"))
    clear = "cd_" + secrets.token_urlsafe(32)
    row = ApiToken(user_id=user.id, token_hash=_hash_token(clear), name=name)
    db.session.add(row)
    db.session.flush()
    audit.record("token.create", "api_token", row.id, None, {"user": user.username, "name": name})
    return row, clear


def revoke_token(token: ApiToken) -> None:
    """Revoke a token for good."""
    if token.revoked_at is None:
        token.revoked_at = clock.now()
        audit.record("token.revoke", "api_token", token.id, None, {"user": token.user.username})
        db.session.flush()


def user_for_token(clear: str) -> User | None:
    """The active user behind a bearer token that is not revoked, else None."""
    row = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == _hash_token(clear)))
    if row is None or row.revoked_at is not None or not row.user.active:
        return None
    return row.user
