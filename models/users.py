"""Accounts, roles, sign-in throttling and API tokens."""

import enum
import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask_babel import gettext as _
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


LOCKOUT_FAILURES = 10
LOCKOUT_WINDOW = timedelta(minutes=15)
LOCKOUT_DURATION = timedelta(minutes=15)
USERNAME_RE = re.compile(r"^[A-Za-z0-9_.@-]{2,64}$")
MIN_PASSWORD_LENGTH = 10
# zxcvbn's guessability score, 0 (too guessable) … 4 (very unguessable): 3 resists an
# offline attack on a stolen hash for long enough ("safely unguessable").
MIN_PASSWORD_SCORE = 3


class WeakPassword(InvalidInput):
    """A new password that may not be used; the message says why."""

    field = "password"


class User(db.Model):
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
    locked_until: Mapped[datetime | None]
    receives_escalations: Mapped[bool] = mapped_column(default=False)
    # Agency staff hear new dispatches unless they switch the sound off (kept per user).
    sound_alerts: Mapped[bool] = mapped_column(default=True, server_default=true())
    created_at: Mapped[datetime] = mapped_column(default=clock.now)

    agency: Mapped[Agency | None] = relationship(lazy="joined")

    # Flask-Login's protocol, kept here so that any layer can ask the same questions.
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        """Session identity: the id plus the session version (sign-out bumps it)."""
        return f"{self.id}:{self.session_version}"

    def has_role(self, *roles: str) -> bool:
        """True when the user's role is one of `roles`."""
        return self.role in roles

    def set_password(self, password: str) -> None:
        """Hash and store a new password (werkzeug's default, scrypt) once it is strong enough."""
        problem = password_problem(password, self.username, self.name, self.email)
        if problem:
            raise WeakPassword(problem)
        self.password_hash = generate_password_hash(password)

    def check_password(self, password: str) -> bool:
        """True when `password` matches the stored hash."""
        return check_password_hash(self.password_hash, password or "")

    def is_locked(self, at: datetime | None = None) -> bool:
        """True while a sign-in lockout is in force."""
        return self.locked_until is not None and self.locked_until > (at or clock.now())

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
    """A failed sign-in, kept in the database so throttling holds across workers."""

    __tablename__ = "login_failure"
    __table_args__ = (Index("ix_login_failure_user_at", "user_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
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
        raise InvalidInput(f"Unknown role: {role} (one of {', '.join(r.value for r in Role)})")
    if role == Role.AGENCY:
        if not agency_code:
            raise InvalidInput("An agency user must be bound to an agency (--agency CODE)")
        from models.reference import agency_by_code

        return agency_by_code(agency_code)
    if agency_code:
        raise InvalidInput("Only agency users are bound to an agency")
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
        raise InvalidInput("A username is 2-64 letters, digits or . _ @ -")
    if db.session.scalar(select(User).where(func.lower(User.username) == username.lower())):
        raise InvalidInput(f"Username already taken: {username}")
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


def user_by_username(username: str) -> User:
    """The user with this username (case-insensitive) or NotFound."""
    user = db.session.scalar(
        select(User).where(func.lower(User.username) == (username or "").strip().lower())
    )
    if user is None:
        raise NotFound(f"No such user: {username}")
    return user


@dataclass
class SignIn:
    """The outcome of a sign-in attempt."""

    user: User | None
    locked: bool = False

    @property
    def ok(self) -> bool:
        return self.user is not None and not self.locked


def authenticate(username: str, password: str, *, ip: str | None = None) -> SignIn:
    """Check a sign-in; records failures, applies the lockout, audits both outcomes."""
    at = clock.now()
    user = db.session.scalar(
        select(User).where(func.lower(User.username) == (username or "").strip().lower())
    )
    actor = audit.Actor(user.id if user else None, (username or "")[:120], ip)
    if user is not None and user.is_locked(at):
        audit.record("auth.login_locked", "user", user.id, actor=actor)
        return SignIn(user, locked=True)
    if user is None or not user.active or not user.check_password(password):
        audit.record("auth.login_failed", "user", user.id if user else None, actor=actor)
        if user is not None:
            db.session.add(LoginFailure(user_id=user.id, at=at))
            db.session.flush()
            recent = db.session.scalar(
                select(func.count(LoginFailure.id)).where(
                    LoginFailure.user_id == user.id, LoginFailure.at > at - LOCKOUT_WINDOW
                )
            )
            if recent >= LOCKOUT_FAILURES:
                user.locked_until = at + LOCKOUT_DURATION
                audit.record(
                    "auth.locked",
                    "user",
                    user.id,
                    None,
                    {"locked_until": user.locked_until.isoformat()},
                    actor=actor,
                )
        db.session.flush()
        return SignIn(None)
    db.session.execute(db.delete(LoginFailure).where(LoginFailure.user_id == user.id))
    user.locked_until = None
    audit.record("auth.login", "user", user.id, actor=actor)
    db.session.flush()
    return SignIn(user)


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


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(user: User, name: str = "") -> tuple[ApiToken, str]:
    """Issue an API token; returns the row and the clear token (shown once, never stored)."""
    if not user.active:
        raise InvalidInput("Cannot issue a token to a deactivated user")
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
