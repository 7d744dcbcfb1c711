"""What people read for each coded value (statuses, kinds, slots), in their language."""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import date, datetime
from typing import Any

from flask import Flask
from flask_babel import lazy_gettext as _l
from wtforms import SelectChoice

from volunteer_hub.phones import national_format

LABELS: dict[str, dict[str, Any]] = {
    "request_status": {
        "new": _l("New"),
        "triaged": _l("Triaged"),
        "scheduled": _l("Scheduled"),
        "confirmed": _l("Confirmed"),
        "done": _l("Done"),
        "not_home": _l("Not at home"),
        "referred": _l("Referred"),
        "cancelled": _l("Cancelled"),
    },
    "volunteer_status": {
        "pending": _l("Waiting for approval"),
        "active": _l("Active"),
        "inactive": _l("Inactive"),
    },
    "drive_status": {
        "draft": _l("Draft"),
        "planning": _l("Planning"),
        "published": _l("Published"),
        "completed": _l("Completed"),
        "cancelled": _l("Cancelled"),
    },
    "volunteer_kind": {
        "student": _l("Student volunteer"),
        "ambassador": _l("Digital ambassador"),
        "community": _l("Community digital team member"),
    },
    "travel_mode": {
        "walk": _l("On foot"),
        "bicycle": _l("Bicycle"),
        "motorbike": _l("Motorbike"),
    },
    "slot": {
        "sat_morning": _l("Saturday morning"),
        "sat_afternoon": _l("Saturday afternoon"),
        "sun_morning": _l("Sunday morning"),
        "sun_afternoon": _l("Sunday afternoon"),
        "weekday_evening": _l("Weekday evenings"),
    },
    "age_group": {
        "under_18": _l("Under 18"),
        "18_59": _l("18 to 59"),
        "60_74": _l("60 to 74"),
        "75_plus": _l("75 or older"),
    },
    "situation": {
        "elderly_alone": _l("Elderly, living alone"),
        "disability": _l("Has a disability"),
        "illness": _l("Ill or bedridden"),
        "no_smartphone": _l("Has no smartphone"),
        "remote": _l("Lives far from the commune office"),
        "low_income": _l("Poor or near-poor household"),
    },
    "source": {
        "web": _l("Web form"),
        "api": _l("Partner app"),
        "phone": _l("By phone"),
        "in_person": _l("In person"),
        "import": _l("Imported"),
        "follow_up": _l("Follow-up"),
    },
    "invitation": {
        "invited": _l("Invited"),
        "accepted": _l("Accepted"),
        "declined": _l("Declined"),
        "withdrawn": _l("Dropped out"),
    },
    "visit_status": {
        "planned": _l("Planned"),
        "unassigned": _l("Not planned"),
        "scheduled": _l("Scheduled"),
        "confirmed": _l("Confirmed by the household"),
        "declined": _l("Declined by a volunteer"),
        "in_progress": _l("In progress"),
        "done": _l("Done"),
        "not_home": _l("Not at home"),
        "cancelled": _l("Cancelled"),
    },
    "plan_status": {
        "queued": _l("Waiting"),
        "running": _l("Planning"),
        "done": _l("Done"),
        "failed": _l("Failed"),
        "cancelled": _l("Cancelled"),
    },
    # Why the planner left a visit out, as a coordinator reads it.
    "reason": {
        "no_skill": _l("no team has the skill or language"),
        "no_window": _l("no team works at the times the household gave"),
        "unreachable": _l("no team can get there in time"),
        "forbidden": _l("every team that could go declined it"),
        "capacity": _l("the teams are full"),
        "left_out": _l("taken out of the plan by hand"),
    },
    "outcome": {
        "done": _l("Done"),
        "partly_done": _l("Partly done"),
        "referred": _l("Referred (commune office, police)"),
        "not_possible": _l("Not possible"),
        "not_home": _l("Not at home"),
    },
    "response": {
        "accept": _l("accepted"),
        "decline": _l("declined"),
        "confirm": _l("confirmed"),
        "cancel": _l("cancelled"),
        "reschedule": _l("asks for another time"),
        "done": _l("done"),
        "feedback": _l("feedback"),
    },
    # How much a volunteer's decline covers.
    "decline_scope": {
        "visit": _l("this visit only"),
        "day": _l("cannot come that day"),
        "drive": _l("cannot come to the drive"),
    },
    "role": {
        "admin": _l("Admin"),
        "coordinator": _l("Coordinator"),
        "partner": _l("Partner app"),
    },
    "language": {
        "vi": _l("Vietnamese"),
        "en": _l("English"),
        "hmn": _l("H'Mông"),
        "km": _l("Khmer"),
        "tyz": _l("Tày"),
        "hre": _l("Hrê"),
        "pac": _l("Pa Kô"),
        "cma": _l("Cơ Tu"),
    },
    "message_status": {
        "queued": _l("Queued"),
        "sending": _l("Sending"),
        "sent": _l("Sent"),
        "delivered": _l("Delivered"),
        "undelivered": _l("Not delivered"),
        "failed": _l("Failed"),
        "held": _l("Held: sent or not?"),
        "cancelled": _l("Cancelled"),
    },
    "answer": {
        "accept": _l("accepted"),
        "decline": _l("declined"),
        "confirm": _l("confirmed"),
        "cancel": _l("cancelled"),
        "reschedule": _l("asked for another time"),
        "done": _l("done"),
        "feedback": _l("feedback"),
    },
    "opt_out_source": {
        "link": _l("personal link"),
        "sms": _l("SMS reply (STOP)"),
        "coordinator": _l("coordinator"),
        "provider": _l("the provider (opted out there)"),
        "invalid_number": _l("invalid number"),
    },
    # The SMS outbox: what each message was for.
    "sms_kind": {
        "already_registered": _l("Already registered"),
        "assignment": _l("Assignment"),
        "broadcast": _l("Message to many"),
        "cancellation_household": _l("Cancellation (household)"),
        "cancellation_volunteer": _l("Cancellation (volunteer)"),
        "change_household": _l("Change (household)"),
        "change_volunteer": _l("Change (volunteer)"),
        "day_assignment": _l("Visits of the day (volunteer)"),
        "day_change": _l("Day changed (volunteer)"),
        "day_cancellation": _l("Day cancelled (volunteer)"),
        "guardian_assignment": _l("Visits of the day (guardian of a minor)"),
        "guardian_cancellation": _l("Day cancelled (guardian of a minor)"),
        "guardian_change": _l("Day changed (guardian of a minor)"),
        "household_confirmation": _l("Visit time (household)"),
        "phone_code": _l("Phone code"),
        "reminder_household_day": _l("Reminder the day before (household)"),
        "reminder_household_morning": _l("Reminder that morning (household)"),
        "reminder_volunteer_eve": _l("Reminder the evening before (volunteer)"),
        "reminder_volunteer_soon": _l("Reminder before the first visit of the day (volunteer)"),
        "reply_help": _l("Reply: help"),
        "reply_no_visit": _l("Reply: no visit found"),
        "reply_ok": _l("Reply: answer received"),
        "reply_opt_out": _l("Reply: SMS stopped"),
        "reply_unknown": _l("Reply: not understood"),
        "thanks_household": _l("Thanks (household)"),
        "thanks_volunteer": _l("Thanks for the day (volunteer)"),
    },
    # A spreadsheet import run by the worker.
    "import_status": {
        "queued": _l("waiting"),
        "running": _l("running"),
        "done": _l("done"),
        "failed": _l("failed"),
    },
    # The audit log: what was done, and to what.
    "audit_action": {
        "accept": _l("accepted"),
        "activate": _l("reactivated"),
        "cancel": _l("cancelled"),
        "confirm": _l("confirmed"),
        "create": _l("created"),
        "deactivate": _l("deactivated"),
        "decline": _l("declined"),
        "done": _l("reported done"),
        "export": _l("exported"),
        "feedback": _l("gave feedback"),
        "import": _l("imported"),
        "login": _l("signed in"),
        "login_failed": _l("sign-in failed"),
        "logout": _l("signed out"),
        "password_change": _l("changed the password"),
        "password_reset": _l("reset the password"),
        "plan": _l("made a plan"),
        "publish": _l("published"),
        "purge": _l("erased (retention)"),
        "report": _l("reported the outcome"),
        "reschedule": _l("asked for another time"),
        "revoke": _l("revoked"),
        "update": _l("changed"),
        "view": _l("viewed"),
    },
    "audit_entity": {
        "api_token": _l("API token"),
        "certificate": _l("Certificate"),
        "drive": _l("Drive"),
        "drive_volunteer": _l("Drive volunteer"),
        "hamlet": _l("Hamlet"),
        "help_request": _l("Request"),
        "import_job": _l("Spreadsheet import"),
        "message": _l("SMS"),
        "plan": _l("Plan"),
        "report": _l("Report"),
        "route_sheet": _l("Route sheet"),
        "team": _l("Team"),
        "user": _l("Account"),
        "visit": _l("Visit"),
        "volunteer": _l("Volunteer"),
    },
}


def label(kind: str, value: object) -> str:
    """Return what a person reads for a coded value (the code itself when unknown)."""
    key = getattr(value, "value", value)
    found = LABELS.get(kind, {}).get(key)
    return str(found) if found is not None else str(key)


def choices(kind: str) -> list[SelectChoice]:
    """Return the choices of a form's select or checkboxes, labelled in the reader's language."""
    return [SelectChoice(value, text) for value, text in LABELS[kind].items()]


def label_choices(kind: str) -> list[tuple[str, str]]:
    """Return (value, label) pairs for a template's radios or checkboxes."""
    return [(value, str(text)) for value, text in LABELS[kind].items()]


def _folded(name: str) -> str:
    return " ".join(unicodedata.normalize("NFC", name).casefold().split())


def volunteer_names(volunteers: Iterable[Any]) -> Callable[[Any], str]:
    """Return a function naming a volunteer so that namesakes on one page are told apart.

    A name shared by two or more of ``volunteers`` gets the volunteer's commune and the last
    digits of the phone: "Nguyễn Văn An (Thuận Hóa, …456)". Other names stay as they are.
    """
    people = {v.id: v for v in volunteers if v is not None}
    counts = Counter(_folded(v.full_name) for v in people.values())

    def name_of(volunteer: Any) -> str:
        if volunteer is None:
            return ""
        if counts[_folded(volunteer.full_name)] < 2:
            return str(volunteer.full_name)
        digits = "".join(ch for ch in volunteer.phone or "" if ch.isdigit())[-3:]
        commune = volunteer.home_commune.short_name if volunteer.home_commune else ""
        tag = ", ".join(part for part in (commune, f"…{digits}" if digits else "") if part)
        return f"{volunteer.full_name} ({tag})" if tag else str(volunteer.full_name)

    return name_of


def grouped(reference: str) -> str:
    """Return a reference code in groups of three, easier to read out ("K7M 3QP")."""
    return " ".join(reference[i : i + 3] for i in range(0, len(reference), 3))


def spaced(reference: str) -> str:
    """Return a code letter by letter, for screen readers."""
    return " ".join(reference)


def init_app(app: Flask) -> None:
    """Make labels and small helpers available in templates."""
    from flask_babel import format_date, format_time

    from volunteer_hub.i18n import local_zone, localized

    def today() -> date:
        return datetime.now(local_zone()).date()

    def commune_options(communes: list[Any]) -> list[tuple[str, ...]]:
        # The third item centres the optional map on the commune.
        return [
            (c.code, c.name, f"{c.lat},{c.lng}") if c.lat is not None else (c.code, c.name)
            for c in communes
        ]

    def service_options(services: list[Any]) -> list[tuple[str, str]]:
        return [(s.code, localized(s)) for s in services]

    def block_options(blocks: list[Any]) -> list[tuple[str, str]]:
        options = []
        for block in blocks:
            start = block.starts_at.astimezone(local_zone())
            end = block.ends_at.astimezone(local_zone())
            hours = f"{format_time(start, 'HH:mm')}–{format_time(end, 'HH:mm')}"
            text = f"{format_date(start, 'EEEE dd/MM')}, {hours}"
            options.append((str(block.id), text))
        return options

    def short_address(request: Any) -> str:
        """House, hamlet and commune of a request, without empty parts."""
        parts = [request.house, request.hamlet_label, request.commune.short_name]
        return ", ".join(p for p in parts if p)

    def groupby_day(visits: list[Any]) -> list[tuple[date | None, list[Any]]]:
        """Split visits in time order by their local day, so Saturday never runs into Sunday."""
        groups: list[tuple[date | None, list[Any]]] = []
        for visit in visits:
            day = visit.starts_at.astimezone(local_zone()).date() if visit.starts_at else None
            if not groups or groups[-1][0] != day:
                groups.append((day, []))
            groups[-1][1].append(visit)
        return groups

    app.jinja_env.globals.update(
        label=label, today=today, label_choices=label_choices, volunteer_names=volunteer_names
    )
    app.jinja_env.filters.update(short_address=short_address, groupby_day=groupby_day)
    app.jinja_env.filters.update(
        phone=national_format,
        map_options=commune_options,
        service_options=service_options,
        block_options=block_options,
        grouped=grouped,
        spaced=spaced,
    )
