"""Flask extensions, created once here and bound to the app in `create_app()`."""

from flask_babel import Babel
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_smorest import Api
from flask_wtf.csrf import CSRFProtect
from marshmallow import Schema, fields


class ApiErrorSchema(Schema):
    """Every API error: `{"error": code, "message": text}` (plus `fields` for bad input)."""

    error = fields.String(
        required=True, metadata={"description": "Machine-readable code, e.g. not_found"}
    )
    message = fields.String(required=True, metadata={"description": "What went wrong"})
    fields_ = fields.Dict(
        data_key="fields", metadata={"description": "Per-field messages for invalid input"}
    )


class CityDeskApi(Api):
    """flask-smorest's Api documenting our error body (webapp.errors.json_error)."""

    ERROR_SCHEMA = ApiErrorSchema


login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()
migrate = Migrate()
api = CityDeskApi()
