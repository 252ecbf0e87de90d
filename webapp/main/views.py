"""Home page and language switch."""

from flask import (
    current_app,
    jsonify,
    redirect,
    render_template,
    send_from_directory,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user

from models.core import db
from models.users import update_user
from webapp.auth.views import _safe_next
from webapp.i18n import language_tag
from webapp.main import bp
from webapp.main.forms import LanguageForm
from webapp.nav import items_for
from webapp.security import acting_user, public


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


@bp.route("/sw.js")
@public
def service_worker():
    """The service worker, served from the root so that its scope is the whole app."""
    response = send_from_directory(current_app.static_folder, "js/sw.js", max_age=0)
    response.headers["Service-Worker-Allowed"] = "/"
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.route("/manifest.webmanifest")
@public
def manifest():
    """The web app manifest that makes CityDesk installable on a phone."""
    body = {
        "name": _("CityDesk"),
        "short_name": _("CityDesk"),
        "lang": language_tag(),
        "start_url": url_for("main.home"),
        "scope": "/",
        "display": "standalone",
        "background_color": "#ffffff",
        "theme_color": "#1f4e79",
        "icons": [
            {
                "src": url_for("static", filename="favicon.svg"),
                "sizes": "any",
                "type": "image/svg+xml",
            },
            # PNG icons (made once with Pillow) for the install prompt and the home screen
            *(
                {
                    "src": url_for("static", filename=f"icons/icon-{size}.png"),
                    "sizes": f"{size}x{size}",
                    "type": "image/png",
                    "purpose": "any maskable",
                }
                for size in (192, 512)
            ),
        ],
    }
    response = jsonify(body)
    response.mimetype = "application/manifest+json"
    return response
