"""Sign-in and sign-out views."""

from urllib.parse import urlsplit

from flask import flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from models.core import clock, db
from models.core.errors import DomainError
from models.users import authenticate, change_own_password, end_sessions
from webapp.auth import bp
from webapp.auth.forms import LoginForm, PasswordChangeForm, UnlockForm
from webapp.security import acting_user, session_locked


def _safe_next(target: str | None) -> str:
    """Only same-site relative paths are followed after sign-in."""
    if (
        target
        and target.startswith("/")
        and not target.startswith("//")
        and not urlsplit(target).netloc
    ):
        return target
    return url_for("main.home")


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Show the sign-in form and sign a user in."""
    if current_user.is_authenticated:
        return redirect(url_for("main.home"))
    form = LoginForm()
    if form.validate_on_submit():
        result = authenticate(form.username.data, form.password.data, ip=request.remote_addr)
        db.session.commit()
        if result.wait_seconds:
            flash(_too_many(result.wait_seconds), "error")
        elif not result.ok:
            flash(_("Wrong username or password."), "error")
        else:
            lang = session.get("lang")
            session.clear()  # no session fixation: a fresh session for the signed-in user
            if lang and not result.user.locale:
                session["lang"] = lang
            login_user(result.user)
            session.permanent = True
            session["seen"] = clock.now().timestamp()
            return redirect(_safe_next(request.args.get("next")))
    return render_template("auth/login.html", form=form)


def _too_many(seconds: int) -> str:
    """The same words whether or not the account exists."""
    return _("Too many failed sign-ins. Try again in %(n)d seconds.", n=seconds)


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    """Sign out: the session ends here and every copy of its cookie stops working."""
    end_sessions(acting_user())
    db.session.commit()
    logout_user()
    session.clear()
    flash(_("You have signed out."), "info")
    return redirect(url_for("auth.login"))


@bp.route("/unlock", methods=["GET", "POST"])
@login_required
def unlock():
    """The lock screen of an idle agency inbox: alerts go on; the password unlocks it."""
    target = _safe_next(request.args.get("next"))
    if not session_locked():
        return redirect(target)
    form = UnlockForm()
    if form.validate_on_submit():
        user = acting_user()
        result = authenticate(user.username, form.password.data, ip=request.remote_addr)
        db.session.commit()
        if result.ok:
            session.pop("locked", None)
            session["seen"] = clock.now().timestamp()
            return redirect(target)
        if result.wait_seconds:
            logout_user()
            session.clear()
            flash(_too_many(result.wait_seconds), "error")
            return redirect(url_for("auth.login"))
        flash(_("Wrong password."), "error")
    return render_template("auth/unlock.html", form=form, now=clock.now())


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password():
    """Change one's own password; every other session of the account ends."""
    form = PasswordChangeForm()
    status = 422 if form.is_submitted() else 200
    if form.validate_on_submit():
        user = acting_user()
        try:
            change_own_password(user, form.current_password.data, form.password.data)
        except DomainError as exc:
            db.session.rollback()
            getattr(form, getattr(exc, "field", "password")).errors.append(exc.message)
        else:
            db.session.commit()
            login_user(user)  # this session goes on under the new session version
            flash(_("Your password was changed. Your other sessions have ended."), "success")
            return redirect(url_for("main.home"))
    return render_template("auth/password.html", form=form), status
