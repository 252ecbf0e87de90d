"""The `citydesk` command: a Flask CLI group (`run`, `shell` and `db` come with it)."""

import sys

import click
from flask import current_app
from flask.cli import FlaskGroup, with_appcontext

from models import audit, db
from models.errors import DomainError


def _create_app(*_args):
    from webapp import create_app

    return create_app()


@click.group(cls=FlaskGroup, create_app=_create_app, add_version_option=False)
def cli():
    """CityDesk: the joint service centre's workflow system."""


CLI_ACTOR = audit.Actor(None, "cli")


def fail(message: str) -> None:
    """Print a clear message and exit non-zero (never a traceback)."""
    raise click.ClickException(message)


def read_password(prompt: str = "Password") -> str:
    """A password from stdin when it is not a terminal, else an interactive prompt."""
    if not sys.stdin.isatty():
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            fail("No password on standard input")
        return password
    return click.prompt(prompt, hide_input=True, confirmation_prompt=True)


def upgrade_database() -> None:
    """Apply every migration (and the reference seed) to the configured database."""
    from flask_migrate import upgrade

    upgrade()


@cli.command("create-user")
@click.argument("username")
@click.option("--role", required=True, help="clerk, agency, facility, supervisor or admin")
@click.option("--agency", "agency_code", help="Agency code (agency users only)")
@click.option("--name", default="", help="Display name")
@click.option("--email", default="", help="E-mail address for notices")
@with_appcontext
def create_user_command(username, role, agency_code, name, email):
    """Create a user; the password is read from stdin or prompted for."""
    from models.user import create_user

    password = read_password()
    with audit.acting_as(CLI_ACTOR):
        try:
            user = create_user(username, password, role, agency=agency_code, name=name, email=email)
            db.session.commit()
        except DomainError as exc:
            db.session.rollback()
            fail(exc.message)
    click.echo(f"Created {user.role} {user.username}")


@cli.command("create-token")
@click.argument("username")
@click.option("--name", default="", help="What the token is for")
@with_appcontext
def create_token_command(username, name):
    """Issue an API token for USERNAME and print it once."""
    from models.user import create_token, user_by_username

    with audit.acting_as(CLI_ACTOR):
        try:
            _row, clear = create_token(user_by_username(username), name)
            db.session.commit()
        except DomainError as exc:
            db.session.rollback()
            fail(exc.message)
    click.echo(clear)


@cli.command("demo")
@with_appcontext
def demo_command():
    """Load demo users for every role and sample data (prints the passwords once)."""
    from models.demo import load_demo

    upgrade_database()
    with audit.acting_as(CLI_ACTOR):
        created = load_demo()
        db.session.commit()
    _print_demo(created)


def _print_demo(created: dict[str, str]) -> None:
    if not created:
        click.echo("Demo users exist already; their passwords were printed when they were made.")
        return
    click.echo("Demo accounts (shown once; write them down):")
    for username, password in created.items():
        click.echo(f"  {username:<22} {password}")


@cli.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--threads", default=8, show_default=True, type=int)
@click.option("--demo", is_flag=True, help="Also load demo users and sample data")
@with_appcontext
def serve_command(host, port, threads, demo):
    """Serve CityDesk with waitress (a production WSGI server)."""
    import waitress

    app = current_app._get_current_object()
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite") or demo:
        upgrade_database()
    if demo:
        from models.demo import load_demo

        with audit.acting_as(CLI_ACTOR):
            created = load_demo()
            db.session.commit()
        _print_demo(created)
    db.session.remove()
    click.echo(f"CityDesk on http://{host}:{port}/  (sign in at http://{host}:{port}/login)")
    waitress.serve(app, host=host, port=port, threads=threads, ident="CityDesk")


# The reports area's commands: `citydesk report yearly` and `citydesk import ...`.
from webapp.reports.cli import import_group, report_group  # noqa: E402

cli.add_command(report_group)
cli.add_command(import_group)
