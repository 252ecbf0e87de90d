"""The acknowledgement link's page: opening it shows the dispatch (no personal data) and a
name field; its button acknowledges, as the inbox does. Refusals say why: 404 unknown link,
410 used or the dispatch ended, 403 the recipient is no longer the agency's."""

from flask import make_response, render_template, request

from models.core import audit, clock, db
from models.core.errors import DomainError
from models.dispatch import acknowledge_by_link
from models.dispatch.ack_links import (
    REFUSAL_STATUS,
    LinkRefused,
    Refusal,
    ack_link_for,
    link_actor,
    refusal,
    used_link,
)
from webapp.ack import bp
from webapp.ack.forms import AckLinkForm
from webapp.i18n import follows_browser_language
from webapp.security import public


def _page(link, *, form=None, reason=None, done=False, message=None, status=200):
    """The page for a link (never a dispatch's details for an unknown or foreign one)."""
    shown = None
    if link is not None and reason not in (Refusal.UNKNOWN, Refusal.FOREIGN):
        shown = link.dispatch
    ack_link = used_link(shown) if shown is not None else None
    response = make_response(
        render_template(
            "ack/page.html",
            dispatch=shown,
            form=form,
            reason=reason,
            done=done,
            message=message,
            via_link=ack_link is not None,
            now=clock.now(),
        ),
        status,
    )
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"  # the link is the secret
    response.headers["X-Robots-Tag"] = "noindex"
    return response


def _form(link) -> AckLinkForm | None:
    """The name field and its button, while the dispatch waits for an acknowledgement."""
    if link.dispatch.acknowledged_at is not None:
        return None
    return AckLinkForm()


@bp.route("/<string:token>")
@public
@follows_browser_language
def page(token: str):
    """Show the dispatch and the button; opening the link changes nothing."""
    link = ack_link_for(token)
    reason = refusal(link)
    if reason is not None:
        return _page(link, reason=reason, status=REFUSAL_STATUS[reason])
    return _page(link, form=_form(link))


@bp.route("/<string:token>", methods=["POST"])
@public
@follows_browser_language
def acknowledge(token: str):
    """Acknowledge the dispatch with the name typed (once per link)."""
    link = ack_link_for(token)
    reason = refusal(link)
    if reason is not None:
        return _page(link, reason=reason, status=REFUSAL_STATUS[reason])
    form = AckLinkForm()
    if not form.validate_on_submit():
        return _page(link, form=form, status=422)
    try:
        with audit.acting_as(link_actor(link, request.remote_addr)):
            acknowledge_by_link(link, form.responder.data)
        db.session.commit()
    except LinkRefused as exc:
        db.session.rollback()
        return _page(exc.link, reason=exc.reason, status=exc.status)
    except DomainError as exc:  # acknowledged first by someone else, or an unusable name
        db.session.rollback()
        db.session.refresh(link.dispatch)
        return _page(link, form=_form(link), message=exc.message, status=exc.status)
    return _page(link, done=True)
