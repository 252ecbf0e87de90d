"""Acknowledgement links: the page a personal link in the agency's notice e-mail opens (no
sign-in; the link's token is the authority, models/dispatch/ack_links.py)."""

from flask import Blueprint

bp = Blueprint("ack", __name__)

from webapp.ack import views  # noqa: E402, F401
