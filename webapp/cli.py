"""The `citydesk` command: a Flask CLI group (`run`, `shell` and `db` come with it).

The one place that wires the web app and the jobs together: `serve` runs both, `jobs` runs the
scheduler; every other command calls one operation of `models/` and commits.
"""

import logging
import sys
from contextlib import nullcontext
from datetime import datetime
from pathlib import Path

import click
from flask import current_app
from flask.cli import FlaskGroup, with_appcontext
from flask_babel import force_locale
from flask_babel import gettext as _

from models.core import audit, audit_checkpoint, db
from models.core.errors import DomainError
from models.core.text import CHINESE, ENGLISH, reads_english


def _create_app(*_args):
    from webapp import create_app

    return create_app()


@click.group(cls=FlaskGroup, create_app=_create_app, add_version_option=False)
def cli():
    """CityDesk: the joint service centre's workflow system."""


LANGS = click.Choice(["zh_Hant_TW", "en"])


class Failure(click.ClickException):
    """A clear message and a non-zero exit, its 「錯誤：」 / "Error: " in the CLI's language."""

    def __init__(self, message):
        super().__init__(str(message))
        try:
            self.line = _("Error: %(message)s", message=self.message)
        except RuntimeError:  # no app yet (the app itself could not start)
            self.line = f"Error: {self.message}"

    def show(self, file=None) -> None:
        """Print the message on standard error."""
        click.echo(self.line, err=True, file=file)


def fail(message) -> None:
    """Print a clear message and exit non-zero (never a traceback)."""
    raise Failure(message)


def cli_locale() -> str:
    """The CLI's language, from LC_ALL, else LC_MESSAGES, else LANG, as a POSIX tool reads
    them: zh… → Traditional Chinese, en… → English; none of ours (C, POSIX, unset) → the
    site's default language (BABEL_DEFAULT_LOCALE, Traditional Chinese)."""
    import os

    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = (os.environ.get(name) or "").lower()
        if value.startswith("zh"):
            return CHINESE
        if reads_english(value):
            return ENGLISH
        if value:
            break
    return current_app.config["BABEL_DEFAULT_LOCALE"]


def speaks_cli_language(command):
    """Run a command's body in the CLI's language (its messages and the domain's)."""
    from functools import wraps

    @wraps(command)
    def wrapper(*args, **kwargs):
        with force_locale(cli_locale()):
            return command(*args, **kwargs)

    return wrapper


def read_password(prompt: str = "Password") -> str:
    """A password from stdin when it is not a terminal, else an interactive prompt."""
    if not sys.stdin.isatty():
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            fail(_("No password on standard input"))
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
@speaks_cli_language
def create_user_command(username, role, agency_code, name, email):
    """Create a user; the password is read from stdin or prompted for."""
    from models.users import create_user

    password = read_password()
    with audit.acting_as(audit.CLI):
        try:
            user = create_user(username, password, role, agency=agency_code, name=name, email=email)
            db.session.commit()
        except DomainError as exc:
            db.session.rollback()
            fail(exc.message)
    click.echo(_("Created %(role)s %(name)s", role=user.role, name=user.username))


@cli.command("set-password")
@click.argument("username")
@with_appcontext
@speaks_cli_language
def set_password_command(username):
    """Set a user's password (a forgotten one, a demo one); read from stdin or prompted for.
    Every session of that account ends."""
    from models.users import update_user, user_by_username

    with audit.acting_as(audit.CLI):
        try:
            user = user_by_username(username)
            update_user(user, password=read_password("New password"))
            db.session.commit()
        except DomainError as exc:
            db.session.rollback()
            fail(exc.message)
    click.echo(
        _(
            "Password of %(name)s changed; every session of that account has ended.",
            name=user.username,
        )
    )


@cli.command("create-token")
@click.argument("username")
@click.option("--name", default="", help="What the token is for")
@with_appcontext
@speaks_cli_language
def create_token_command(username, name):
    """Issue an API token for USERNAME and print it once."""
    from models.users import create_token, user_by_username

    with audit.acting_as(audit.CLI):
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
    from demo import load_demo

    upgrade_database()
    with audit.acting_as(audit.CLI):
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


class ZonedFormatter(logging.Formatter):
    """Log lines whose time carries its zone: `2026-11-26 23:10:02.209+0800`."""

    def formatTime(self, record, datefmt=None):  # noqa: N802 - logging's own name
        """The record's local time with milliseconds and its UTC offset."""
        moment = datetime.fromtimestamp(record.created).astimezone()
        return f"{moment:%Y-%m-%d %H:%M:%S}.{int(record.msecs):03d}{moment:%z}"


class StderrHandler(logging.StreamHandler):
    """A console handler that writes to whatever sys.stderr is at the time of each line (a
    command run in-process, as the tests and `flask` do, may swap it and close the old one)."""

    def __init__(self):
        super().__init__(sys.stderr)

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value):
        pass


def configure_logging() -> None:
    """Structured log lines on stderr for the long-running commands (serve, jobs), their times
    with the zone; migrations and the scheduler library speak only of problems."""
    line = ZonedFormatter("%(asctime)s %(levelname)s %(name)s %(message)s")
    root = logging.getLogger()
    # alembic.ini's console handler (if migrations ran first) holds the stderr of its time
    for handler in [h for h in root.handlers if type(h) is logging.StreamHandler]:
        root.removeHandler(handler)
    if not any(isinstance(h, StderrHandler) for h in root.handlers):
        root.addHandler(StderrHandler())
    root.setLevel(logging.INFO)
    # migrations/env.py leaves logging alone when this is set (else alembic.ini configures it)
    root.citydesk_configured = True
    for handler in root.handlers:
        if isinstance(handler, StderrHandler):
            handler.setFormatter(line)
    # A skipped run of a busy job or a late start after a pause is routine, not a problem.
    logging.getLogger("apscheduler").setLevel(logging.ERROR)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    logging.getLogger("flask_migrate").setLevel(logging.WARNING)


def schema_is_current() -> bool:
    """True when the database has every migration applied."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    config = current_app.extensions["migrate"].migrate.get_config()
    heads = set(ScriptDirectory.from_config(config).get_heads())
    with db.engine.connect() as conn:
        current = set(MigrationContext.configure(conn).get_current_heads())
    return current == heads


def check_jobs_config() -> None:
    """Fail with a clear message when a jobs setting is wrong or the schema is behind."""
    from jobs.config import check

    try:
        check(current_app.config)
    except DomainError as exc:
        fail(exc.message)
    if not schema_is_current():
        fail("The database is not up to date: run `citydesk db upgrade` first.")


@cli.command("jobs")
@click.option("--once", is_flag=True, help="Run every job once and exit (cron, tests)")
@with_appcontext
def jobs_command(once):
    """Run the time-driven jobs (overdue sweep, outbox relay, retention).

    Without --once this is the scheduler process for multi-worker deployments: only one
    copy acts at a time (a database lock); further copies stand by and take over.
    """
    import signal
    import threading

    from jobs.scheduler import JobRunner, run_once

    app = current_app._get_current_object()
    configure_logging()
    check_jobs_config()
    db.session.remove()
    if once:
        outcomes = run_once(app)
        for outcome in outcomes:
            state = "ok" if outcome.ok else "FAILED"
            click.echo(f"{outcome.name}: {state} {outcome.result} ({outcome.duration_ms} ms)")
        if not all(outcome.ok for outcome in outcomes):
            raise SystemExit(1)
        return
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_args: stop.set())
    runner = JobRunner(app, process="citydesk jobs")
    runner.start()
    click.echo(f"CityDesk jobs as {runner.holder}; standing by until it holds the scheduler lock")
    try:
        while not stop.wait(1):
            pass
    finally:
        runner.shutdown()


@cli.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int, help="0 takes a free port")
@click.option("--threads", default=8, show_default=True, type=int)
@click.option("--demo", is_flag=True, help="Also load demo users and sample data")
@with_appcontext
def serve_command(host, port, threads, demo):
    """Serve CityDesk with waitress (a production WSGI server), and run the jobs in-process
    unless CITYDESK_RUN_SCHEDULER is false."""
    from waitress.server import create_server

    app = current_app._get_current_object()
    configure_logging()
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite") or demo:
        upgrade_database()
    if demo:
        from demo import load_demo

        with audit.acting_as(audit.CLI):
            created = load_demo()
            db.session.commit()
        _print_demo(created)
    try:  # take the port before the jobs start: a second copy on a used port stops here
        server = create_server(app, host=host, port=port, threads=threads, ident="CityDesk")
    except OSError as exc:
        fail(
            f"Cannot listen on {host}:{port} ({exc.strerror or exc}). Is CityDesk already "
            "running there? Stop it, or choose another port with --port."
        )
    runner = _start_jobs(app)
    db.session.remove()
    port = server.effective_port  # --port 0 takes a free port: say which one
    click.echo(f"CityDesk on http://{host}:{port}/  (sign in at http://{host}:{port}/login)")
    try:
        server.run()
    except KeyboardInterrupt:
        pass  # Ctrl-C or SIGTERM: a clean stop, no traceback
    finally:
        server.close()
        if runner is not None:
            from jobs.scheduler import stop_in_process

            stop_in_process()


def _start_jobs(app):
    """Start the in-process scheduler for `serve` (once per process), unless switched off."""
    import signal

    from jobs.config import flag
    from jobs.scheduler import start_in_process

    try:
        wanted = flag(app.config, "RUN_SCHEDULER")
    except DomainError as exc:
        fail(exc.message)
    if not wanted:
        click.echo("Jobs are not run here (CITYDESK_RUN_SCHEDULER is off): run `citydesk jobs`.")
        return None
    check_jobs_config()

    def stop(*_args):
        raise KeyboardInterrupt  # waitress closes; the finally clause releases the scheduler

    signal.signal(signal.SIGTERM, stop)
    runner = start_in_process(app, process="citydesk serve")
    click.echo(f"Jobs run in this process as {runner.holder} while it holds the scheduler lock.")
    return runner


@cli.group("audit")
def audit_group():
    """The audit trail."""


class _CannotCheck(click.ClickException):
    """A checkpoint file that cannot be used: exit 2 (a broken trail exits 1)."""

    exit_code = 2


@audit_group.command("verify")
@click.option(
    "--against",
    "checkpoint_file",
    type=click.Path(dir_okay=False),
    help="A checkpoint from `citydesk audit checkpoint`: the trail must still extend it",
)
@with_appcontext
def audit_verify_command(checkpoint_file):
    """Check the audit trail's hash chain; exit 1 and name the first broken entry."""
    checkpoint = None
    if checkpoint_file is not None:
        try:
            with open(checkpoint_file, "rb") as handle:
                data = handle.read(audit_checkpoint.CHECKPOINT_MAX_BYTES + 1)
            checkpoint = audit_checkpoint.load_checkpoint(data)
        except OSError as exc:
            raise _CannotCheck(
                f"Cannot read the checkpoint {checkpoint_file}: {exc.strerror}."
            ) from None
        except audit_checkpoint.BadCheckpoint as exc:
            raise _CannotCheck(f"{checkpoint_file} is not a usable checkpoint: {exc}.") from None
    report = audit.verify_chain()
    if not report.ok:
        click.echo(
            f"Audit trail broken at entry {report.broken_seq}: {report.reason} "
            f"({report.checked} entries before it are intact).",
            err=True,
        )
        raise SystemExit(1)
    click.echo(f"Audit trail intact: {report.checked} entries.")
    if report.unsealed:
        click.echo(
            f"{report.unsealed} newer entries are not sealed into the chain yet (nothing "
            "protects them until then; `citydesk audit seal` seals them)."
        )
    if checkpoint is None:
        return
    seq = checkpoint["seq"]
    problem = audit_checkpoint.checkpoint_problem(checkpoint, report)
    if problem:
        click.echo(
            f"The audit trail no longer extends the checkpoint of entry {seq} "
            f"(taken at {checkpoint['taken_at']}): {problem}.",
            err=True,
        )
        raise SystemExit(1)
    click.echo(f"It extends the checkpoint of entry {seq} (taken at {checkpoint['taken_at']}).")


@audit_group.command("seal")
@with_appcontext
def audit_seal_command():
    """Chain the committed entries not sealed yet (normally done right after each commit)."""
    sealed = audit.seal()
    click.echo(f"Sealed {sealed} audit entries.")


@audit_group.command("checkpoint")
@click.option(
    "--output",
    type=click.Path(dir_okay=False, writable=True),
    help="Also write the checkpoint to this file (keep it outside this server)",
)
@with_appcontext
def audit_checkpoint_command(output):
    """Verify the trail and print its signed head (JSON) for an auditor to keep elsewhere."""
    import json

    try:
        checkpoint = audit_checkpoint.make_checkpoint()
    except audit_checkpoint.BrokenChain as exc:
        report = exc.report
        fail(
            f"No checkpoint: the audit trail is broken at entry {report.broken_seq}: "
            f"{report.reason}. Run `citydesk audit verify`."
        )
    text = json.dumps(checkpoint, indent=2) + "\n"
    click.echo(text, nl=False)
    if output:
        try:
            Path(output).write_text(text)
        except OSError as exc:
            fail(f"Cannot write {output}: {exc.strerror}.")
        click.echo(
            f"Checkpoint of entry {checkpoint['seq']} written to {output}; "
            "keep a copy outside this server.",
            err=True,
        )


# --- Reports: `citydesk report yearly` and `citydesk import dispatches|defects FILE.csv` ---


def _locale(lang: str | None):
    return force_locale(lang or cli_locale())


@cli.group("report")
def report_group():
    """Reports: the yearly compliance figures."""


@report_group.command("yearly")
@click.option(
    "--year", help="the year, ROC (115) or Gregorian (2026) (default: this year in Taipei)"
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["json", "csv", "text"]),
    default="text",
    show_default=True,
    help="json: every figure; csv: one figure per row; text: narrative and headline figures",
)
@click.option("--lang", type=LANGS, help="Language of labels (default: the CLI's, see LANG)")
@with_appcontext
def report_yearly_command(year, fmt, lang):
    """Print the yearly report (the same figures as the page and the API)."""
    from models.core import clock
    from models.reports import yearly_report
    from webapp.reports.export import to_csv, to_json, to_text

    with _locale(lang):
        try:
            report = yearly_report(year if year is not None else clock.today().year)
        except DomainError as exc:
            fail(exc.message)
        render = {"json": to_json, "csv": to_csv, "text": to_text}[fmt]
        click.echo(render(report), nl=fmt == "json")


@cli.group("import")
def import_group():
    """Import past records from CSV (all or nothing; importing twice changes nothing)."""


def _progress(label: str, length: int):
    """A progress bar on a terminal; nothing when the output is redirected."""
    if not sys.stderr.isatty() or length < 2000:
        return nullcontext(None)
    return click.progressbar(length=length, label=label, file=sys.stderr)


SHOWN_PROBLEMS = 100  # a file with a problem on every row must not print a million lines


def _run_import(kind: str, path: str, lang: str | None) -> None:
    from models.reports.importer import apply, check

    data = Path(path).read_bytes()
    lines = data.count(b"\n")
    with _locale(lang), audit.acting_as(audit.CLI):
        with _progress(_("Checking"), lines) as bar:
            result = check(kind, data, progress=bar.update if bar else None)
        if not result.ok:
            db.session.rollback()
            for problem in result.problems[:SHOWN_PROBLEMS]:
                click.echo(str(problem), err=True)
            if len(result.problems) > SHOWN_PROBLEMS:
                more = len(result.problems) - SHOWN_PROBLEMS
                click.echo(_("… and %(n)s more problem(s).", n=more), err=True)
            fail(
                _(
                    "Nothing was imported: %(n)s problem(s) in %(file)s.",
                    n=len(result.problems),
                    file=path,
                )
            )
        try:
            with _progress(_("Importing"), len(result.new_rows)) as bar:
                apply(result, source=Path(path).name, progress=bar.update if bar else None)
            db.session.commit()
        except DomainError as exc:
            db.session.rollback()
            fail(exc.message)
        click.echo(
            _(
                "%(rows)s rows read: %(added)s added, %(skipped)s skipped (already imported).",
                rows=result.rows,
                added=result.added,
                skipped=result.identical,
            )
        )


@import_group.command("dispatches")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--lang", type=LANGS, help="Language of messages (default: the site's)")
@with_appcontext
def import_dispatches_command(file, lang):
    """Import dispatches: reference, agency, notified_at, outcome, arrived_at, closed_at,
    sla_seconds, subject."""
    _run_import("dispatches", file, lang)


@import_group.command("defects")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--lang", type=LANGS, help="Language of messages (default: the site's)")
@with_appcontext
def import_defects_command(file, lang):
    """Import defects: reference, category, zone, floor, found_at, fixed_at, source,
    description."""
    _run_import("defects", file, lang)
