"""The JSON API under /api/v1, documented by an OpenAPI document generated with flask-smorest.

Each area adds a module here with an `ApiBlueprint` and lists it in BLUEPRINTS; the convention
every module follows (error body and error docs, pagination, the acting user) is in
`webapp.api.convention`.
"""

from flask import Flask

from webapp.api import (  # noqa: E402
    dispatches,
    display,
    facility,
    late_reasons,
    me,
    reports,
    scorecards,
)
from webapp.extensions import api

BLUEPRINTS = [
    me.blp,
    dispatches.visits_blp,
    dispatches.dispatches_blp,
    display.blp,
    facility.blp,
    facility.rounds_blp,
    reports.blp,
    late_reasons.blp,
    scorecards.blp,
]


def register(app: Flask) -> None:
    """Register the API blueprints and the bearer-token security scheme."""
    api.spec.components.security_scheme(
        "bearerAuth",
        {
            "type": "http",
            "scheme": "bearer",
            "description": "A token from `citydesk create-token USERNAME`",
        },
    )
    api.spec.components.security_scheme(
        "cookieAuth",
        {
            "type": "apiKey",
            "in": "cookie",
            "name": "citydesk_session",
            "description": "A signed-in session; send X-CSRFToken on writes",
        },
    )
    api.spec.options["security"] = [{"bearerAuth": []}, {"cookieAuth": []}]
    for blp in BLUEPRINTS:
        api.register_blueprint(blp, url_prefix="/api/v1" + blp.url_prefix_suffix)
