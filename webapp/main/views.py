"""Home page and language switch."""

from flask import redirect, render_template, session, url_for
from flask_login import current_user

from models.core import db
from models.users import update_user
from webapp.auth.views import _safe_next
from webapp.main import bp
from webapp.main.forms import LanguageForm
from webapp.nav import items_for
from webapp.security import acting_user


@bp.route("/")
def home():
    """Each role's starting page: the work that role does."""
    return render_template("main/home.html", items=items_for(current_user))


@bp.route("/language", methods=["POST"])
def set_language():
    """Switch the interface language (remembered on the account when signed in)."""
    form = LanguageForm()
    if form.validate_on_submit():
        session["lang"] = form.lang.data
        if current_user.is_authenticated:
            update_user(acting_user(), locale=form.lang.data)
            db.session.commit()
    return redirect(_safe_next(form.next.data) if form.next.data else url_for("main.home"))
