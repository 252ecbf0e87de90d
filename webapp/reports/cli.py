"""`citydesk report yearly` and `citydesk import dispatches|defects FILE.csv`."""

import sys
from contextlib import nullcontext
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from flask_babel import force_locale
from flask_babel import gettext as _

from models.core import audit, db
from models.core.errors import DomainError

LANGS = click.Choice(["zh_Hant_TW", "en"])
CLI_ACTOR = audit.Actor(None, "cli")


def _fail(message: str) -> None:
    from webapp.cli import fail

    fail(message)


def _locale(lang: str | None):
    return force_locale(lang or current_app.config["BABEL_DEFAULT_LOCALE"])


@click.group("report")
def report_group():
    """Reports: the yearly compliance figures."""


@report_group.command("yearly")
@click.option("--year", type=int, help="Gregorian year (default: this year in Taipei)")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["json", "csv", "text"]),
    default="text",
    show_default=True,
    help="json: every figure; csv: one figure per row; text: narrative and headline figures",
)
@click.option("--lang", type=LANGS, help="Language of labels (default: the site's)")
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
            _fail(exc.message)
        render = {"json": to_json, "csv": to_csv, "text": to_text}[fmt]
        click.echo(render(report), nl=fmt == "json")


@click.group("import")
def import_group():
    """Import past records from CSV (all or nothing; importing twice changes nothing)."""


def _progress(label: str, length: int):
    """A progress bar on a terminal; nothing when the output is redirected."""
    if not sys.stderr.isatty() or length < 2000:
        return nullcontext(None)
    return click.progressbar(length=length, label=label, file=sys.stderr)


def _run_import(kind: str, path: str, lang: str | None) -> None:
    from models.reports.importer import apply, check

    data = Path(path).read_bytes()
    lines = data.count(b"\n")
    with _locale(lang), audit.acting_as(CLI_ACTOR):
        with _progress(_("Checking"), lines) as bar:
            result = check(kind, data, progress=bar.update if bar else None)
        if not result.ok:
            db.session.rollback()
            for problem in result.problems:
                click.echo(str(problem), err=True)
            _fail(
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
            _fail(exc.message)
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
