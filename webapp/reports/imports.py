"""Import of past records on an admin page: upload a CSV, read the check, confirm.

The uploaded file waits in the instance folder (`imports/<token>.csv`, visible to every worker
on the machine) until it is confirmed; confirming checks it again and imports it all or nothing,
with the same functions as `citydesk import`.
"""

import io
import json
import secrets
import time
from pathlib import Path

from flask import Response, abort, current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _

from models.core import db
from models.core.errors import DomainError
from models.reports.importer import COLUMNS, KINDS, REQUIRED, apply, check
from webapp.csv_safe import csv_writer
from webapp.reports import imports_bp
from webapp.reports.forms import ConfirmImportForm, UploadForm
from webapp.security import OVERSIGHT_ROLES, role_required

KEEP_SECONDS = 24 * 3600
SHOWN_PROBLEMS = 1000


def _folder() -> Path:
    folder = Path(current_app.instance_path) / "imports"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _paths(token: str) -> tuple[Path, Path]:
    if len(token) != 32 or any(c not in "0123456789abcdef" for c in token):
        abort(404)
    folder = _folder()
    return folder / f"{token}.csv", folder / f"{token}.json"


def _store(data: bytes, kind: str, name: str) -> str:
    """Keep an uploaded file until it is confirmed; forget files older than a day."""
    for old in _folder().iterdir():
        if old.stat().st_mtime < time.time() - KEEP_SECONDS:
            old.unlink(missing_ok=True)
    token = secrets.token_hex(16)
    data_path, meta_path = _paths(token)
    data_path.write_bytes(data)
    meta_path.write_text(json.dumps({"kind": kind, "name": name}))
    return token


def _load(token: str) -> tuple[bytes, dict]:
    data_path, meta_path = _paths(token)
    if not data_path.exists() or not meta_path.exists():
        abort(404)
    return data_path.read_bytes(), json.loads(meta_path.read_text())


def _forget(token: str) -> None:
    for path in _paths(token):
        path.unlink(missing_ok=True)


@imports_bp.route("", methods=["GET", "POST"])
@role_required(*OVERSIGHT_ROLES)
def upload():
    """Upload a CSV file and see every problem in it, or what importing it would do."""
    form = UploadForm()
    result = token = None
    name = ""
    if form.validate_on_submit():
        data = form.file.data.read()
        name = Path(form.file.data.filename or "upload.csv").name
        result = check(form.kind.data, data)
        db.session.rollback()
        token = _store(data, form.kind.data, name)
    return render_template(
        "reports/import.html",
        form=form,
        result=result,
        token=token,
        name=name,
        confirm=ConfirmImportForm(token=token) if result is not None and result.ok else None,
        columns=COLUMNS,
        required=REQUIRED,
        kinds=KINDS,
        shown=SHOWN_PROBLEMS,
    )


@imports_bp.route("/confirm", methods=["POST"])
@role_required(*OVERSIGHT_ROLES)
def confirm():
    """Check the uploaded file again and import it, all or nothing."""
    form = ConfirmImportForm()
    if not form.validate_on_submit():
        abort(400)
    data, meta = _load(form.token.data)
    result = check(meta["kind"], data)
    if not result.ok:
        db.session.rollback()
        flash(
            _("The file has problems now (the records changed meanwhile); nothing was imported."),
            "error",
        )
        return redirect(url_for("imports.upload"))
    try:
        apply(result, source=meta["name"])
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(url_for("imports.upload"))
    _forget(form.token.data)
    flash(
        _(
            "%(rows)s rows read: %(added)s added, %(skipped)s skipped (already imported).",
            rows=result.rows,
            added=result.added,
            skipped=result.identical,
        ),
        "success",
    )
    return redirect(url_for("imports.upload"))


@imports_bp.route("/<token>/problems.csv")
@role_required(*OVERSIGHT_ROLES)
def problems(token: str):
    """Every problem of an uploaded file as CSV (line, column, problem)."""
    data, meta = _load(token)
    result = check(meta["kind"], data)
    db.session.rollback()
    out = io.StringIO()
    writer = csv_writer(out)
    writer.writerow([_("Line"), _("Column"), _("Problem")])
    for problem in result.problems:
        writer.writerow([problem.line, problem.column, str(problem.message)])
    return Response(
        "\ufeff" + out.getvalue(),
        mimetype="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="import-problems.csv"'},
    )
