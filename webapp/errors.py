"""Error responses: JSON `{"error", "message"}` on the API, a page in both languages elsewhere."""

import logging

from flask import Flask, jsonify, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from models.core import db
from models.core.errors import DomainError

log = logging.getLogger("citydesk.web")

ERROR_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid",
    429: "too_many_requests",
    500: "server_error",
}


# marshmallow's messages about a field of an API request, in the reader's language
FIELD_MESSAGES = {
    "Missing data for required field.": _l("Please fill in this field."),
    "Unknown field.": _l("Unknown field."),
    "Field may not be null.": _l("This field may not be empty."),
    "Not a valid integer.": _l("Not a valid whole number."),
    "Not a valid number.": _l("Not a valid number."),
    "Not a valid string.": _l("Not a valid text."),
    "Not a valid boolean.": _l("Not a valid yes or no."),
    "Not a valid date.": _l("Not a valid date."),
    "Not a valid datetime.": _l("Not a valid date and time."),
    "Not a valid email address.": _l("Not a valid e-mail address."),
    "Invalid input type.": _l("Invalid input type."),
    "Invalid value.": _l("Invalid value."),
}


def localized(messages):
    """marshmallow's field messages (nested dicts and lists) in the reader's language; a
    message it has no translation for stays as it is."""
    if isinstance(messages, dict):
        return {key: localized(value) for key, value in messages.items()}
    if isinstance(messages, list):
        return [localized(value) for value in messages]
    if isinstance(messages, str) and messages in FIELD_MESSAGES:
        return str(FIELD_MESSAGES[messages])
    return messages


def json_error(status: int, error: str, message: str, **extra):
    """A JSON error response."""
    body = {"error": error, "message": message}
    body.update(extra)
    response = jsonify(body)
    response.status_code = status
    return response


def _page_title(status: int) -> str:
    """The title of an error page (and an API error's message when there is no better one)."""
    titles = {
        400: _("Bad request"),
        403: _("You do not have access to this page"),
        404: _("Page not found"),
        405: _("Not allowed"),
        409: _("Conflict"),
        413: _("File too large"),
        422: _("Invalid input"),
        500: _("Something went wrong"),
    }
    return titles.get(status, _("Error"))


def _page(status: int, message: str):
    title = _page_title(status)
    return render_template("errors/error.html", status=status, title=title, message=message), status


def init_app(app: Flask) -> None:
    """Register the handlers."""

    @app.errorhandler(CSRFError)
    def csrf_error(exc):
        message = _("The form expired or was sent from elsewhere. Please try again.")
        if request.path.startswith("/api/"):
            return json_error(400, "csrf", message)
        return _page(400, message)

    @app.errorhandler(DomainError)
    def domain_error(exc: DomainError):
        db.session.rollback()
        if request.path.startswith("/api/"):
            return json_error(exc.status, exc.code, exc.message)
        return _page(exc.status, exc.message)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        status = exc.code or 500
        messages = {
            403: _("Your role does not allow this. Ask an administrator if you need access."),
            404: _("The page or record does not exist, or you cannot see it."),
            413: _("The upload is larger than allowed."),
        }
        if request.path.startswith("/api/"):
            message = exc.description if status != 500 else _("Internal error")
            if exc.description == type(exc).description:  # Werkzeug's own English sentence
                message = messages.get(status) or _page_title(status)
            data = getattr(exc, "data", None)
            if isinstance(data, dict) and "messages" in data:
                return json_error(
                    422 if status == 422 else status,
                    "invalid",
                    _("Invalid input"),
                    fields=localized(data["messages"]),
                )
            response = json_error(status, ERROR_CODES.get(status, "error"), str(message))
            if getattr(exc, "valid_methods", None):  # 405 names the methods allowed
                response.headers["Allow"] = ", ".join(exc.valid_methods)
            return response
        return _page(status, messages.get(status, ""))

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        if isinstance(exc, HTTPException):
            return http_error(exc)
        log.exception("unhandled error on %s %s", request.method, request.path)
        db.session.rollback()
        if request.path.startswith("/api/"):
            return json_error(500, "server_error", _("Internal error; it has been logged."))
        return _page(
            500, _("The error has been logged. Please try again or tell the administrator.")
        )
