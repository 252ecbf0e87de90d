"""Demo users for every role and realistic sample data, for `citydesk serve --demo`."""

import secrets

from sqlalchemy import select

from models.core import db
from models.users import Role, User, create_user, password_problem

DEMO_USERS = [
    # username, role, agency, name, e-mail
    ("clerk", Role.CLERK, None, "陳櫃台", "clerk@citydesk.example"),
    ("agency-social", Role.AGENCY, "social-welfare", "林社工", "social@citydesk.example"),
    ("agency-health", Role.AGENCY, "health", "張衛生", "health@citydesk.example"),
    ("facility", Role.FACILITY, None, "黃機電", "facility@citydesk.example"),
    ("supervisor", Role.SUPERVISOR, None, "李股長", "supervisor@citydesk.example"),
    ("admin", Role.ADMIN, None, "系統管理員", "admin@citydesk.example"),
]


def demo_password() -> str:
    """A random demo password, readable enough to type and strong enough to be accepted."""
    while True:
        password = "demo-" + secrets.token_hex(5)
        if password_problem(password) is None:
            return password


def load_demo() -> dict[str, str]:
    """Create the demo users that are missing and sample data; returns {username: password}."""
    created: dict[str, str] = {}
    existing = set(db.session.scalars(select(User.username)))
    for username, role, agency, name, email in DEMO_USERS:
        if username in existing:
            continue
        password = demo_password()
        create_user(
            username,
            password,
            role,
            agency=agency,
            name=name,
            email=email,
            receives_escalations=role == Role.SUPERVISOR,
        )
        created[username] = password
    if created:
        load_sample_data()
    return created


def load_sample_data() -> None:
    """Realistic sample records for each area (each area adds its own here)."""
    from demo.dispatch import load_dispatch_demo
    from demo.facility import load_facility_sample
    from demo.published import load_published_year

    load_dispatch_demo()
    load_facility_sample()
    load_published_year()
