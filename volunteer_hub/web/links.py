"""Personal link pages (``/s/<code>``): no login, the answers people give by SMS link.

A visit link shows that one visit; a volunteer's day link (the link in their SMS of the day)
shows all their visits of that drive day, each with the answers a visit link offers.
"""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_limiter.util import get_remote_address

from volunteer_hub.extensions import db, limiter
from volunteer_hub.i18n import local_zone, locale_code
from volunteer_hub.models import Drive, PersonalLink, Visit, Volunteer
from volunteer_hub.models.drives import drive_days
from volunteer_hub.services.messaging import links, outbox, responses
from volunteer_hub.services.messaging.notifications import address_of
from volunteer_hub.services.reference.catalogue import things_to_bring
from volunteer_hub.services.results import outcomes
from volunteer_hub.web.outcome_forms import outcome_form

bp = Blueprint("links", __name__, url_prefix="/s")


def _link_limit() -> str:
    return str(current_app.config["RATELIMIT_LINK"])


def _miss_limit() -> str:
    return str(current_app.config["RATELIMIT_LINK_MISS"])


def _address_limit() -> str:
    return str(current_app.config["RATELIMIT_LINK_ADDRESS"])


def _code() -> str:
    return str((request.view_args or {}).get("code") or "")


def _address_and_code() -> str:
    return f"{get_remote_address()}|{_code()[:40]}"


def _found() -> tuple[PersonalLink, Visit | None] | None:
    """The live link behind this request's code and its visit (None for a day link), looked
    up once per request."""
    if "link_found" not in g:
        link = links.find_link(db.session, _code())
        visit = links.visit_of(db.session, link) if link is not None else None
        is_day = link is not None and link.purpose == links.VOLUNTEER_DAY
        g.link_found = (link, visit) if link is not None and (visit or is_day) else None
    return g.link_found  # type: ignore[no-any-return]


def _is_valid_code() -> bool:
    return _found() is not None


def _is_miss(response: Any) -> bool:
    return response.status_code == 404


# Three limits, so that a guesser is slowed without locking out the households behind the same
# carrier NAT (one public address for thousands of phones):
# - each link's page, per address *and code* (``RATELIMIT_LINK``): one holder reloading their
#   page never uses up anyone else's;
# - unknown or expired codes, per address (``RATELIMIT_LINK_MISS``): past it, wrong codes get
#   429, but a valid code is exempt and still opens;
# - every link request, per address (``RATELIMIT_LINK_ADDRESS``): a loose ceiling that bounds
#   how fast one address can try codes at all (10 letters or digits: 62**10 codes).
_limits = (
    limiter.limit(_address_limit),
    limiter.limit(_link_limit, key_func=_address_and_code),
    limiter.limit(_miss_limit, deduct_when=_is_miss, exempt_when=_is_valid_code),
)


def _limited(view: Any) -> Any:
    for decorate in reversed(_limits):
        view = decorate(view)
    return view


@bp.before_request
def _private() -> None:
    """A personal page must not stay in a shared cache or a borrowed phone's history."""
    g.private_page = True


@bp.after_request
def _no_index(response: Any) -> Any:
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    return response


def _load(code: str) -> tuple[PersonalLink, Visit]:
    """The link and its visit; for a day link, the visit of the day named by ``?visit=`` (or
    the form's ``visit``), 404 when it is not one of the holder's visits that day."""
    found = _found()
    if found is None:
        abort(404)
    link, visit = found
    if visit is None:
        visit = _day_visit(link, request.values.get("visit"))
        if visit is None:
            abort(404)
    return link, visit


def _is_day(link: PersonalLink) -> bool:
    return link.purpose == links.VOLUNTEER_DAY


def _day_visit(link: PersonalLink, raw: str | None) -> Visit | None:
    """The visit ``raw`` names among the day link's visits, or None."""
    text = (raw or "").strip()
    if not text.isascii() or not text.isdigit() or len(text) > 10:
        return None
    return next((v for v in links.day_visits(db.session, link) if v.id == int(text)), None)


def _day_page(link: PersonalLink, code: str, error: str | None = None, status: int = 200) -> Any:
    """A volunteer's visits of one drive day, in order, each with its answers."""
    volunteer = db.session.get(Volunteer, link.volunteer_id) if link.volunteer_id else None
    if volunteer is None:
        abort(404)
    drive = db.session.get(Drive, link.drive_id) if link.drive_id else None
    if drive is None:
        abort(404)
    items = []
    visits = links.day_visits(db.session, link)
    mine = responses.declined_by(db.session, [v.id for v in visits], volunteer.id)
    moved = responses.asked_another_time(db.session, [v.id for v in visits])
    for visit in visits:
        reason = links.holder_reason(db.session, link, visit)
        if reason == "declined" and visit.id not in mine:
            reason = "household_moved" if visit.id in moved else "partner_declined"
        started = outcomes.has_started(visit)
        items.append(
            {
                "visit": visit,
                "request": visit.request,
                "reason": reason,
                "first_name": _first_name(visit.request.beneficiary_name),
                "address": address_of(visit.request, with_landmark=False),
                "partners": [m for m in visit.team.members if m.id != volunteer.id]
                if visit.team
                else [],
                "is_open": reason is None
                and visit.status in responses.OPEN_STATUSES
                and not started,
                "has_started": reason is None and started,
            }
        )
    phone = volunteer.phone
    return render_template(
        "links/day.html",
        code=code,
        day=link.day,
        drive=drive,
        volunteer=volunteer,
        items=items,
        opted_out=bool(phone) and outbox.is_opted_out(db.session, phone),
        many_days=len(drive_days(drive, local_zone())) > 1,
        error=error,
    ), status


def _first_name(full_name: str) -> str:
    # Vietnamese names put the given name last: "Hoàng Thị Hoa" is called Hoa.
    words = (full_name or "").split()
    return words[-1] if words else ""


def _role(link: PersonalLink) -> str:
    volunteer_purposes = (links.VOLUNTEER_VISIT, links.VOLUNTEER_DAY)
    return responses.VOLUNTEER if link.purpose in volunteer_purposes else responses.HOUSEHOLD


def _not_yours(reason: str, status: int = 200) -> Any:
    """The polite page of a volunteer link whose visit is no longer the holder's."""
    return render_template("links/not_yours.html", reason=reason), status


def _page(
    link: PersonalLink, visit: Visit, code: str, error: str | None = None, status: int = 200
) -> Any:
    reason = links.holder_reason(db.session, link, visit)
    if reason is not None:
        return _not_yours(reason, status)
    volunteer = db.session.get(Volunteer, link.volunteer_id) if link.volunteer_id else None
    role = _role(link)
    current = links.is_latest_published(db.session, visit)
    started = outcomes.has_started(visit)
    phone = volunteer.phone if volunteer else visit.request.phone
    return render_template(
        "links/visit.html",
        code=code,
        role=role,
        visit=visit,
        request_=visit.request,
        volunteer=volunteer,
        partners=[
            m
            for m in (visit.team.members if visit.team else [])
            if volunteer is None or m.id != volunteer.id
        ],
        address=address_of(visit.request, with_landmark=False),
        bring=things_to_bring(visit.request.services, locale_code()),
        is_current=current,
        is_open=current and visit.status in responses.OPEN_STATUSES and not started,
        has_started=started,
        answers=responses.responses_for(db.session, visit.id),
        opted_out=bool(phone) and outbox.is_opted_out(db.session, phone),
        many_days=len(drive_days(visit.plan.drive, local_zone())) > 1,
        error=error,
    ), status


@bp.get("/<code>")
@_limited
def show(code: str):  # type: ignore[no-untyped-def]
    """Show the one visit this link is about (a day link: the day's visits), and what its
    holder can do."""
    found = _found()
    if found is not None and _is_day(found[0]):
        links.touch(found[0])
        db.session.commit()
        return _day_page(found[0], code)
    link, visit = _load(code)
    links.touch(link)
    db.session.commit()
    return _page(link, visit, code)


# What each role may do from its page, and the service that does it.
_VOLUNTEER_ACTIONS = ("accept", "decline")
_HOUSEHOLD_ACTIONS = ("confirm", "cancel", "reschedule", "feedback")


@bp.post("/<code>")
@_limited
def act(code: str):  # type: ignore[no-untyped-def]
    """Record an answer: accept, decline, confirm, cancel, ask for another time, feedback.

    From a day link the form names the visit (``visit``), one of the holder's that day."""
    found = _found()
    if found is None:
        abort(404)
    day = _is_day(found[0])
    if day and _day_visit(found[0], request.form.get("visit")) is None:
        return _day_page(found[0], code, _("This visit is not one of yours on this day."), 400)
    link, visit = _load(code)
    role = _role(link)
    action = request.form.get("action", "")
    note = request.form.get("note")
    allowed = _VOLUNTEER_ACTIONS if role == responses.VOLUNTEER else _HOUSEHOLD_ACTIONS

    def page(error: str, status: int) -> Any:
        if day:
            return _day_page(link, code, error, status)
        return _page(link, visit, code, error, status)

    if action not in allowed:
        return page(_("This action is not available here."), 400)
    if not links.is_latest_published(db.session, visit):
        changed = _("This visit was changed. Please use your newest message.")
        return page(changed, 409)
    reason = links.holder_reason(db.session, link, visit)
    if reason is not None:
        return (
            page(_("This visit can no longer be changed here."), 409)
            if day
            else _not_yours(reason, 409)
        )
    try:
        if role == responses.VOLUNTEER:
            volunteer = db.session.get(Volunteer, link.volunteer_id)
            if volunteer is None:
                abort(404)
            if action == "accept":
                responses.volunteer_accept(db.session, visit, volunteer)
            else:
                responses.volunteer_decline(
                    db.session,
                    visit,
                    volunteer,
                    note,
                    scope=request.form.get("scope") or "visit",
                    tz=local_zone(),
                )
        elif action == "confirm":
            responses.household_confirm(db.session, visit)
        elif action == "cancel":
            responses.household_cancel(db.session, visit, note)
        elif action == "reschedule":
            responses.household_reschedule(db.session, visit, note)
        else:
            responses.household_feedback(db.session, visit, note)
    except responses.ResponseError as exc:
        db.session.rollback()
        return page(str(exc), 422)
    links.touch(link)
    db.session.commit()
    flash(_THANKS[action](), "success")
    if day:
        return redirect(url_for(".show", code=code, _anchor=f"visit-{visit.id}"))
    return redirect(url_for(".show", code=code))


_THANKS = {
    "accept": lambda: _("Thank you! Your coordinator can see that you will go."),
    "decline": lambda: _(
        "Noted. Your coordinator will find someone else. Thank you for telling us."
    ),
    "confirm": lambda: _("Thank you! The volunteers will come as planned."),
    "cancel": lambda: _("The visit is cancelled. Thank you for telling us."),
    "reschedule": lambda: _("Noted. The coordinator will propose another time."),
    "feedback": lambda: _("Thank you for your feedback."),
}


@bp.post("/<code>/stop")
@_limited
def stop(code: str):  # type: ignore[no-untyped-def]
    """Stop all SMS to the number this link was sent to."""
    found = _found()
    if found is None:
        abort(404)
    link, visit = found
    volunteer = db.session.get(Volunteer, link.volunteer_id) if link.volunteer_id else None
    if visit is None and volunteer is None:
        abort(404)
    phone = volunteer.phone if volunteer else visit.request.phone  # type: ignore[union-attr]
    if not phone:
        abort(404)
    outbox.opt_out(
        db.session, phone, source="link", note=visit.request.reference if visit else None
    )
    links.touch(link)
    db.session.commit()
    flash(
        _("You will receive no more SMS from us. Your coordinator can turn them back on."),
        "success",
    )
    return redirect(url_for(".show", code=code))


@bp.route("/<code>/report", methods=["GET", "POST"])
@_limited
def report(code: str):  # type: ignore[no-untyped-def]
    """A volunteer reports how the visit went: an outcome per service, people helped, a note."""
    link, visit = _load(code)
    volunteer = db.session.get(Volunteer, link.volunteer_id) if link.volunteer_id else None
    if _role(link) != responses.VOLUNTEER or volunteer is None:
        abort(404)
    reason = links.holder_reason(db.session, link, visit)
    if reason is not None:
        return _not_yours(reason)
    if not outcomes.can_volunteer_report(db.session, visit, volunteer):
        return render_template(
            "links/report.html",
            code=code,
            visit=visit,
            request_=visit.request,
            started=outcomes.has_started(visit),
        )
    day = _is_day(link)
    return outcome_form(
        visit,
        back=url_for(".show", code=code, _anchor=f"visit-{visit.id}" if day else None),
        volunteer=volunteer,
        before_commit=lambda: links.touch(link),
    )
