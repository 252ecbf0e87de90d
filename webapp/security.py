"""Who may reach what: sign-in enforcement, roles, CSRF, idle timeout and security headers."""

from datetime import timedelta
from functools import wraps

from flask import Flask, abort, flash, g, redirect, request, session, url_for
from flask.sessions import SecureCookieSessionInterface
from flask_babel import lazy_gettext as _l
from flask_babel import refresh as babel_refresh
from flask_login import current_user, logout_user
from werkzeug.exceptions import Unauthorized

from models.core import audit, clock
from models.dispatch.access import can_see_dispatches
from models.users import Role, SessionViewer, load_session_user, user_for_token
from webapp.extensions import csrf, login_manager

# What a page loads beside itself: its files, the service worker and the app manifest.
ASSET_ENDPOINTS = {"static", "main.service_worker", "main.manifest"}

# Endpoints an anonymous visitor may reach; every other route requires sign-in.
PUBLIC_ENDPOINTS = {
    *ASSET_ENDPOINTS,
    "auth.login",
    "main.set_language",
    "api-docs.openapi_json",
    "desk.wall_display",  # a display link stands in for a session (models.dispatch.display)
    "display.display_feed",
    "ack.page",  # an acknowledgement link stands in for a session (models.dispatch.ack_links)
    "ack.acknowledge",
}

# Sent by a page's own background polling (live lists, alerts): such a request is not the
# user's activity, so it never postpones the idle timeout.
POLL_HEADER = "X-CityDesk-Poll"

STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "media-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)


def public(view):
    """Mark a view as reachable without signing in (keep PUBLIC_ENDPOINTS in step)."""
    view.is_public = True
    return view


def role_required(*roles: str):
    """Allow a view only to signed-in users with one of `roles`; others get 403."""

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if not current_user.has_role(*roles):
                abort(403)
            return view(*args, **kwargs)

        wrapped.roles = roles
        return wrapped

    return decorator


# The live poll (every open board and inbox, every 2 s) is answered for a `SessionViewer`
# kept per process after a session's first poll: the poll's one statement checks the user's
# row itself (`live_rows`' viewer_valid) instead of a statement of its own to load the user.
# Flask-Login still checks the session (its protection) before asking for the user.
VIEWER_CHECKED_ENDPOINTS = {"dispatches.live"}
VIEWERS_KEPT = 10_000
_viewers: dict[str, SessionViewer] = {}


def load_request_user(session_id: str):
    """Flask-Login's user loader: the kept viewer for a live poll, else the user's row."""
    checked = request.endpoint in VIEWER_CHECKED_ENDPOINTS and request.method == "GET"
    viewer = _viewers.get(session_id) if checked else None
    if viewer is not None:
        return viewer
    user = load_session_user(session_id)
    # Kept only for a user the poll answers: a refused one (403) is read again at each poll,
    # so that a role that now sees dispatches is not refused from a kept copy.
    if checked and user is not None and can_see_dispatches(user):
        if len(_viewers) >= VIEWERS_KEPT:
            _viewers.clear()
        _viewers[session_id] = SessionViewer.of(user)
    return user


def reload_viewer():
    """The poll's viewer no longer matches the user's row: forget it and load the user again
    for this request; None when the session no longer belongs to an active user."""
    session_id = session.get("_user_id")
    if session_id is not None:
        _viewers.pop(session_id, None)
    user = load_session_user(session_id) if session_id else None
    g._login_user = user if user is not None else login_manager.anonymous_user()
    babel_refresh()  # the language may have been the kept viewer's
    return user


def forget_viewers() -> None:
    """Forget every kept viewer of this process (tests: a new database reuses user ids)."""
    _viewers.clear()


def acting_user():
    """The user behind this request (session or bearer token): the `by=` of every operation."""
    user = current_user._get_current_object()
    if not user.is_authenticated:  # the request guard answers first; this is a backstop
        raise Unauthorized("Sign in or send a valid bearer token")
    return user


STAFF = (Role.CLERK, Role.SUPERVISOR)
OVERSIGHT_ROLES = (Role.SUPERVISOR, Role.ADMIN)  # settings, targets and the audit trail


class AssetsLeaveTheCookie(SecureCookieSessionInterface):
    """The session cookie, never sent with an asset's answer. A page's files and the service
    worker's cache fill are requested beside the sign-in form's POST (or a language switch)
    with the cookie of before, and may be answered after it: the browser would keep the
    cookie that came last, the session as it was (signed in, then sent back to the sign-in
    page)."""

    def should_set_cookie(self, app: Flask, session) -> bool:
        # Flask saves the session inside the request it answers.
        return request.endpoint not in ASSET_ENDPOINTS and super().should_set_cookie(app, session)


def is_api_request() -> bool:
    """True for requests to the JSON API."""
    return request.path.startswith("/api/")


def init_app(app: Flask) -> None:
    """Wire Flask-Login and the request guards into the app."""
    login_manager.login_view = "auth.login"
    login_manager.login_message = _l("Please sign in to continue.")
    login_manager.login_message_category = "info"
    login_manager.session_protection = "strong"
    app.session_interface = AssetsLeaveTheCookie()
    login_manager.user_loader(load_request_user)
    login_manager.unauthorized_handler(_unauthorized)
    app.before_request(lambda: _guard(app))
    app.jinja_env.globals["session_locked"] = session_locked
    app.teardown_request(_forget_actor)
    app.after_request(lambda response: _security_headers(app, response))


def _unauthorized():
    """No sign-in: a 401 for the API, else the sign-in page (back here after it)."""
    if is_api_request():
        from webapp.errors import json_error

        return json_error(401, "unauthorized", "Sign in or send a valid bearer token")
    flash(login_manager.login_message, "info")
    return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))


def _guard(app: Flask):
    """Before each request: who asks (bearer token or session), the audit actor, CSRF on
    state changes, and sign-in unless the endpoint is public."""
    # Start from no cached user: when requests share an app context (the test client
    # inside a test's context) Flask-Login would otherwise reuse the previous request's.
    g.pop("_login_user", None)
    g.via_token = False
    refused = _authenticate(app)
    if refused is not None:
        return refused
    user = current_user if current_user.is_authenticated else None
    g.actor_token = audit.set_actor(
        audit.Actor(
            user.id if user else None,
            user.username if user else "anonymous",
            request.remote_addr,
        )
    )
    return _check_access(app, user)


def _authenticate(app: Flask):
    """A bearer token's user for this request (a 401 for a bad token), else the session's
    (signed out or locked when idle too long); a response when refused, else None."""
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        user = user_for_token(header[7:].strip())
        if user is None:
            from webapp.errors import json_error

            return json_error(401, "unauthorized", "Invalid or revoked token")
        g._login_user = user  # Flask-Login's per-request user; the session is not touched
        g.via_token = True
    elif current_user.is_authenticated:
        return _idle_expired(app)
    return None


def _check_access(app: Flask, user):
    """CSRF on a state change (not for a bearer token), and sign-in unless the endpoint is
    public; a response when refused, else None."""
    view = app.view_functions.get(request.endpoint) if request.endpoint else None
    is_public = request.endpoint in PUBLIC_ENDPOINTS or getattr(view, "is_public", False)
    if user is None and view is not None and not is_public and is_api_request():
        return login_manager.unauthorized()  # an API call without credentials: 401
    if (
        request.method in STATE_CHANGING
        and not g.via_token
        and app.config.get("WTF_CSRF_ENABLED", True)
    ):
        csrf.protect()
    if is_public:
        return None
    if view is None:
        return None  # a 404/405 follows; nothing is revealed
    if user is None:
        return login_manager.unauthorized()
    return None


def _forget_actor(_error=None):
    """After each request: reset the audit actor."""
    # The actor lives in a context variable: reset it so that nothing done after this
    # request in the same thread (a test, a job) is recorded as this request's user.
    token = g.pop("actor_token", None)
    if token is not None:
        audit.reset_actor(token)


def _security_headers(app: Flask, response):
    """The security headers on every response; no caching of a signed-in page."""
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    # A page whose URL is a secret (display and acknowledgement links) sets "no-referrer".
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if request.is_secure or app.config["SESSION_COOKIE_SECURE"]:
        response.headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
    if current_user.is_authenticated and request.endpoint != "static":
        response.headers["Cache-Control"] = "no-store"
    return response


def _idle_expired(app: Flask):
    """Sign out a session idle longer than IDLE_TIMEOUT_MINUTES (by the server's clock); an
    agency user's session locks instead (`_locked`)."""
    now = clock.now().timestamp()
    seen = session.get("seen")
    limit = timedelta(minutes=app.config["IDLE_TIMEOUT_MINUTES"]).total_seconds()
    if seen is not None and now - seen > limit and not session.get("locked"):
        if current_user.role == Role.AGENCY:
            session["locked"] = True
        else:
            logout_user()
            session.clear()
            if is_api_request():
                from webapp.errors import json_error

                return json_error(401, "unauthorized", "Session expired")
            flash(_l("Your session expired after inactivity. Please sign in again."), "info")
            return redirect(url_for("auth.login"))
    if not session.permanent:
        session.permanent = True  # (setting it marks the session changed: the cookie is sent)
    if session.get("locked"):
        _renew_for_polls(now, seen, limit)
        return _locked()
    if not is_poll_request() or seen is None:
        session["seen"] = now
    else:
        _renew_for_polls(now, seen, limit)
    return None


def _renew_for_polls(now: float, seen: float | None, limit: float) -> None:
    """A tab that only polls (a locked agency inbox) keeps its cookie: the session is renewed
    (the cookie sent again, with a new expiry) once it is half-way to expiring."""
    renewed = max(seen or 0.0, session.get("renewed", 0.0))
    if now - renewed > limit / 2:
        session["renewed"] = now


# What a locked session may still reach: the alert feed (it answers with minimal data), the
# lock screen itself, signing out, and what every page loads.
WHILE_LOCKED = {
    *ASSET_ENDPOINTS,
    "dispatches.live",
    "auth.unlock",
    "auth.logout",
    "main.set_language",
}


def _locked():
    """The agency inbox locks like a screen saver: its alerts go on (the feed, minimal) and
    anything else asks for the password again."""
    if request.endpoint in WHILE_LOCKED:
        return None
    if is_api_request():
        from webapp.errors import json_error

        return json_error(401, "unauthorized", "Session locked")
    target = request.full_path.rstrip("?") if request.method == "GET" else None
    return redirect(url_for("auth.unlock", next=target))


def session_locked() -> bool:
    """True while this request's session is locked after inactivity (never for a token)."""
    return bool(session.get("locked")) and not g.get("via_token", False)


def is_poll_request() -> bool:
    """True for a page's background polling, which does not count as the user's activity."""
    return request.headers.get(POLL_HEADER) == "1"
