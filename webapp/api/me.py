"""Who am I: the signed-in user or the token's owner."""

from marshmallow import Schema, fields

from webapp.api.convention import ApiBlueprint, acting_user

blp = ApiBlueprint("me", __name__, path="/me", description="The caller's own account")


class MeSchema(Schema):
    """The caller's account."""

    username = fields.String(required=True)
    name = fields.String(required=True)
    role = fields.String(required=True)
    agency = fields.String(allow_none=True, required=True)


@blp.route("")
@blp.response(200, MeSchema)
@blp.errors()
def me():
    """The account behind this request."""
    user = acting_user()
    return {
        "username": user.username,
        "name": user.name,
        "role": user.role,
        "agency": user.agency.code if user.agency else None,
    }
