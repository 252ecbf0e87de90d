"""Administration views: thin wrappers around the operations in models/."""

from decimal import Decimal

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from models.core import clock, db
from models.core.errors import DomainError
from models.dispatch import (
    DisplayLink,
    create_display_link,
    display_links,
    revoke_display_link,
)
from models.reference import (
    Agency,
    Floor,
    YearTarget,
    Zone,
    add_floor,
    create_agency,
    save_zone,
    set_floor_active,
    set_sla_seconds,
    set_target,
    sla_seconds,
    update_agency,
)
from models.reference import (
    floors as reference_floors,
)
from models.users import (
    ApiToken,
    Role,
    User,
    account_key,
    clear_sign_in_failures,
    create_token,
    create_user,
    revoke_token,
    throttled_accounts,
    update_user,
    user_by_username,
)
from webapp.admin import audit_trail as trail
from webapp.admin import bp
from webapp.admin.forms import (
    AgencyForm,
    ConfirmForm,
    DisplayLinkForm,
    FloorForm,
    SlaForm,
    TargetForm,
    TokenForm,
    UserForm,
    ZoneForm,
)
from webapp.forms import choices, field_error, year_text
from webapp.paging import paginate
from webapp.security import OVERSIGHT_ROLES, acting_user, role_required

PAGE_SIZE = 50
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _agency_choices():
    rows = db.session.scalars(select(Agency).order_by(Agency.has_desk.desc(), Agency.sort_order))
    return choices([("", "—")] + [(a.code, f"{a.name_zh} {a.name_en}") for a in rows])


@bp.route("/users")
@role_required(Role.ADMIN)
def users():
    """All accounts."""
    rows = db.session.scalars(select(User).order_by(User.active.desc(), User.username))
    return render_template("admin/users.html", users=rows, throttled=throttled_accounts())


@bp.route("/users/new", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def user_new():
    """Add an account."""
    form = UserForm()
    form.agency.choices = _agency_choices()
    if form.validate_on_submit():
        if not form.password.data:
            form.password.errors.append(_("A new user needs a password."))
        else:
            try:
                user = create_user(
                    form.username.data,
                    form.password.data,
                    form.role.data,
                    agency=form.agency.data or None,
                    name=form.name.data or "",
                    email=form.email.data or "",
                    locale=form.locale.data or None,
                    receives_escalations=form.receives_escalations.data,
                )
                update_user(user, active=form.active.data)
                db.session.commit()
                flash(_("User %(name)s added.", name=user.username), "success")
                return redirect(url_for("admin.users"))
            except DomainError as exc:
                db.session.rollback()
                form[getattr(exc, "field", "username")].errors.append(exc.message)
    return render_template("admin/user_form.html", form=form, user=None)


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def user_edit(user_id: int):
    """Edit or deactivate an account (the username cannot change)."""
    user = db.session.get(User, user_id) or abort(404)
    form = UserForm(obj=user)
    form.agency.choices = _agency_choices()
    if request.method == "GET":
        form.agency.data = user.agency.code if user.agency else ""
        form.locale.data = user.locale or ""
    form.username.data = user.username
    if form.validate_on_submit():
        try:
            update_user(
                user,
                name=form.name.data or "",
                email=form.email.data or "",
                role=form.role.data,
                agency=form.agency.data or None,
                locale=form.locale.data or None,
                active=form.active.data,
                receives_escalations=form.receives_escalations.data,
                password=form.password.data or None,
            )
            db.session.commit()
            flash(_("User %(name)s saved.", name=user.username), "success")
            return redirect(url_for("admin.users"))
        except DomainError as exc:
            db.session.rollback()
            form[getattr(exc, "field", "role")].errors.append(exc.message)
    return render_template(
        "admin/user_form.html",
        form=form,
        user=user,
        throttled=account_key(user.username) in throttled_accounts(),
        unthrottle=ConfirmForm(prefix="unthrottle"),
    )


@bp.route("/users/<int:user_id>/unthrottle", methods=["POST"])
@role_required(Role.ADMIN)
def user_unthrottle(user_id: int):
    """Let an account sign in again at once: forget its failed sign-ins."""
    user = db.session.get(User, user_id) or abort(404)
    if ConfirmForm(prefix="unthrottle").validate_on_submit():
        clear_sign_in_failures(user)
        db.session.commit()
        flash(_("Failed sign-ins of %(name)s cleared.", name=user.username), "success")
    return redirect(url_for("admin.user_edit", user_id=user.id))


@bp.route("/agencies")
@role_required(Role.ADMIN)
def agencies():
    """All agencies, desk agencies first."""
    rows = db.session.scalars(select(Agency).order_by(Agency.has_desk.desc(), Agency.sort_order))
    return render_template("admin/agencies.html", agencies=rows)


@bp.route("/agencies/new", methods=["GET", "POST"])
@bp.route("/agencies/<code>", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def agency_edit(code: str | None = None):
    """Add or edit an agency."""
    agency = None
    if code is not None:
        agency = db.session.scalar(select(Agency).where(Agency.code == code)) or abort(404)
    form = AgencyForm(obj=agency)
    if agency is not None:
        form.code.data = agency.code
    if form.validate_on_submit():
        fields = {
            k: getattr(form, k).data
            for k in ("has_desk", "extension", "emails", "webhook_url", "webhook_secret", "active")
        }
        fields = {k: v if v is not None else "" for k, v in fields.items()}
        fields["sort_order"] = form.sort_order.data or 100
        try:
            if agency is None:
                agency = create_agency(
                    form.code.data, form.name_zh.data, form.name_en.data, **fields
                )
            else:
                update_agency(
                    agency, name_zh=form.name_zh.data, name_en=form.name_en.data, **fields
                )
            db.session.commit()
            flash(_("Agency %(name)s saved.", name=agency.name_zh), "success")
            return redirect(url_for("admin.agencies"))
        except DomainError as exc:
            db.session.rollback()
            field_error(form, exc.message, getattr(exc, "field", None))
    return render_template("admin/agency_form.html", form=form, agency=agency)


@bp.route("/building", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def building():
    """Zones and floors of the building."""
    zone_form, floor_form = ZoneForm(prefix="zone"), FloorForm(prefix="floor")
    try:
        if zone_form.submit.data and zone_form.validate_on_submit():
            save_zone(
                zone_form.code.data,
                zone_form.name_zh.data,
                zone_form.name_en.data,
                active=zone_form.active.data,
                sort_order=zone_form.sort_order.data or 100,
            )
            db.session.commit()
            flash(_("Zone saved."), "success")
            return redirect(url_for("admin.building"))
        if floor_form.submit.data and floor_form.validate_on_submit():
            add_floor(floor_form.code.data, floor_form.sort_order.data or 100)
            db.session.commit()
            flash(_("Floor added."), "success")
            return redirect(url_for("admin.building"))
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    zones = db.session.scalars(select(Zone).order_by(Zone.sort_order))
    floors = reference_floors(active_only=False)
    return render_template(
        "admin/building.html",
        zones=zones,
        floors=floors,
        zone_form=zone_form,
        floor_form=floor_form,
        toggle=ConfirmForm(),
    )


@bp.route("/building/floors/<code>/toggle", methods=["POST"])
@role_required(Role.ADMIN)
def floor_toggle(code: str):
    """Take a floor out of use, or back into use."""
    floor = db.session.scalar(select(Floor).where(Floor.code == code)) or abort(404)
    if ConfirmForm().validate_on_submit():
        set_floor_active(floor, not floor.active)
        db.session.commit()
    return redirect(url_for("admin.building"))


@bp.route("/tokens", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def tokens():
    """API tokens: issue (shown once) and revoke."""
    form, clear = TokenForm(), None
    if form.validate_on_submit():
        try:
            _row, clear = create_token(user_by_username(form.username.data), form.name.data or "")
            db.session.commit()
        except DomainError as exc:
            db.session.rollback()
            form.username.errors.append(exc.message)
    rows = db.session.scalars(select(ApiToken).order_by(ApiToken.id.desc()))
    return render_template(
        "admin/tokens.html", form=form, tokens=rows, clear=clear, revoke=ConfirmForm()
    )


@bp.route("/tokens/<int:token_id>/revoke", methods=["POST"])
@role_required(Role.ADMIN)
def token_revoke(token_id: int):
    """Revoke an API token."""
    token = db.session.get(ApiToken, token_id) or abort(404)
    if ConfirmForm().validate_on_submit():
        revoke_token(token)
        db.session.commit()
        flash(_("Token revoked."), "success")
    return redirect(url_for("admin.tokens"))


@bp.route("/display-links", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def display_links_page():
    """Display links for wall screens: make (the link is shown once) and revoke."""
    form, link_url = DisplayLinkForm(), None
    if form.validate_on_submit():
        try:
            _link, secret = create_display_link(form.name.data, by=acting_user())
            db.session.commit()
            link_url = url_for("desk.wall_display", secret=secret, _external=True)
        except DomainError as exc:
            db.session.rollback()
            form.name.errors.append(exc.message)
    return render_template(
        "admin/display_links.html",
        form=form,
        links=display_links(),
        link_url=link_url,
        revoke=ConfirmForm(),
    )


@bp.route("/display-links/<int:link_id>/revoke", methods=["POST"])
@role_required(Role.ADMIN)
def display_link_revoke(link_id: int):
    """Revoke a display link: its screen stops showing the board at its next update."""
    link = db.session.get(DisplayLink, link_id) or abort(404)
    if ConfirmForm().validate_on_submit():
        revoke_display_link(link, by=acting_user())
        db.session.commit()
        flash(_("Display link revoked."), "success")
    return redirect(url_for("admin.display_links_page"))


@bp.route("/settings", methods=["GET", "POST"])
@role_required(*OVERSIGHT_ROLES)
def settings():
    """Yearly on-time targets and the dispatch time limit."""
    target_form, sla_form = TargetForm(prefix="target"), SlaForm(prefix="sla")
    try:
        if target_form.submit.data and target_form.validate_on_submit():
            set_target(target_form.year.data, Decimal(target_form.target.data))
            db.session.commit()
            flash(_("Target saved."), "success")
            return redirect(url_for("admin.settings"))
        if sla_form.submit.data and sla_form.validate_on_submit():
            set_sla_seconds(int(Decimal(sla_form.minutes.data) * 60))
            db.session.commit()
            flash(_("Time limit saved; it applies to dispatches notified from now on."), "success")
            return redirect(url_for("admin.settings"))
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    if not sla_form.is_submitted():
        sla_form.minutes.data = Decimal(sla_seconds()) / 60
    targets = db.session.scalars(select(YearTarget).order_by(YearTarget.year.desc()))
    return render_template(
        "admin/settings.html",
        target_form=target_form,
        sla_form=sla_form,
        targets=targets,
        this_year=year_text(clock.today().year),
    )


@bp.route("/audit", endpoint="audit")
@role_required(*OVERSIGHT_ROLES)
def audit_trail():
    """The audit trail, newest first, in words; filtered by person, action, object and dates."""
    filters = trail.read_filters(request.args)
    rows = paginate(trail.search(filters), PAGE_SIZE)
    return render_template(
        "admin/audit.html",
        rows=rows,
        entries=trail.readable(list(rows.items)),
        filters=filters,
        actions=trail.action_choices(),
        objects=trail.object_choices(),
        colon=trail.colon(),
    )


@bp.route("/audit.xlsx", endpoint="audit_export")
@role_required(*OVERSIGHT_ROLES)
def audit_export():
    """The filtered audit trail as an XLSX workbook for the internal-control reviewers."""
    filters = trail.read_filters(request.args)
    if filters.errors:
        return redirect(url_for("admin.audit", **filters.params()))
    data = trail.to_xlsx(trail.search(filters), filters)
    return Response(
        data,
        mimetype=XLSX_MIME,
        headers={"Content-Disposition": f'attachment; filename="{trail.export_name()}"'},
    )
