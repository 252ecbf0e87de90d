"""Who am I: the signed-in user or the token's owner."""

from flask_login import current_user
from flask_smorest import Blueprint
from marshmallow import Schema, fields

blp = Blueprint("me", __name__, description="The caller's own account")
blp.url_prefix_suffix = "/me"


class MeSchema(Schema):
    """The caller's account."""

    username = fields.String(required=True)
    name = fields.String(required=True)
    role = fields.String(required=True)
    agency = fields.String(allow_none=True, required=True)


@blp.route("")
@blp.response(200, MeSchema)
def me():
    """The account behind this request."""
    user = current_user
    return {
        "username": user.username,
        "name": user.name,
        "role": user.role,
        "agency": user.agency.code if user.agency else None,
    }
