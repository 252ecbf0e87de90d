"""The wall display's feed: the open dispatches for a display link, with no personal data.

A display link (made by an administrator, see models.dispatch.display) stands in for a signed-in
session; this feed is the only thing it opens. It shows what a passer-by may see on the wall:
the agency, its extension, the kind of visit and the clock. No visitor, subject, names of staff
or care flags.
"""

from marshmallow import Schema, fields, validate

from models.core import clock, db
from models.dispatch import Dispatch, dispatches_on_display, display_link_for
from webapp.api.convention import ApiBlueprint
from webapp.api.dispatch_schemas import STATE_VALUES, TaipeiDateTime
from webapp.errors import json_error
from webapp.i18n import current_locale

blp = ApiBlueprint(
    "display", __name__, path="/display", description="The wall display (a display link)"
)


class DisplayDispatchSchema(Schema):
    """An open dispatch as a wall display shows it (no personal data)."""

    id = fields.Integer(required=True)
    agency = fields.String(required=True, metadata={"description": "Agency code"})
    agency_name = fields.String(required=True)
    agency_extension = fields.String(required=True)
    kind = fields.String(allow_none=True, metadata={"description": "The visit's kind"})
    state = fields.String(required=True, validate=validate.OneOf(STATE_VALUES))
    notified_at = TaipeiDateTime(required=True)
    deadline_at = TaipeiDateTime(required=True)
    acknowledged_at = TaipeiDateTime(allow_none=True, required=True)
    eta_minutes = fields.Integer(allow_none=True)


class DisplayFeedSchema(Schema):
    """The open dispatches with the server's time to correct the screen's clock."""

    server_time = TaipeiDateTime(required=True)
    dispatches = fields.List(fields.Nested(DisplayDispatchSchema), required=True)


def display_data(dispatch: Dispatch) -> dict:
    """What a wall display shows of an open dispatch."""
    return {
        "id": dispatch.id,
        "agency": dispatch.agency.code,
        "agency_name": dispatch.agency.display_name(current_locale()),
        "agency_extension": dispatch.agency.extension,
        "kind": dispatch.visit.kind if dispatch.visit else None,
        "state": dispatch.state,
        "notified_at": dispatch.notified_at,
        "deadline_at": dispatch.deadline_at,
        "acknowledged_at": dispatch.acknowledged_at,
        "eta_minutes": dispatch.eta_minutes,
    }


@blp.route("/<string:secret>/open")
@blp.response(200, DisplayFeedSchema)
@blp.errors(401)
def display_feed(secret: str):
    """The open dispatches for a display link, overdue first (polled by the wall screen); a
    revoked or unknown link is a 401."""
    if display_link_for(secret) is None:
        return json_error(401, "unauthorized", "This display link is revoked or unknown")
    db.session.commit()  # when the link was last used
    at = clock.now()
    return {
        "server_time": at,
        "dispatches": [display_data(d) for d in dispatches_on_display(at)],
    }
