"""The data model: aware times in UTC, minors, scoping helpers and the request lifecycle."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, StatementError

from tests import factories
from volunteer_hub.models import (
    REQUEST_TRANSITIONS,
    HelpRequest,
    RequestStatus,
    TimeBlock,
    Volunteer,
)
from volunteer_hub.models.people import age_on


def test_times_are_stored_in_utc_and_come_back_aware(session, world):
    hanoi = timezone(timedelta(hours=7))
    block = TimeBlock(
        drive=world.a.drive,
        starts_at=datetime(2026, 11, 28, 7, 30, tzinfo=hanoi),
        ends_at=datetime(2026, 11, 28, 11, 0, tzinfo=hanoi),
    )
    session.add(block)
    session.commit()
    session.expire_all()
    loaded = session.get(TimeBlock, block.id)
    assert loaded.starts_at.tzinfo is not None
    assert loaded.starts_at == datetime(2026, 11, 28, 0, 30, tzinfo=UTC)


def test_naive_datetimes_are_refused(session, world):
    session.add(
        TimeBlock(
            drive=world.a.drive,
            starts_at=datetime(2026, 11, 28, 7, 30),
            ends_at=datetime(2026, 11, 28, 11, 0),
        )
    )
    with pytest.raises(StatementError):
        session.flush()
    session.rollback()


def test_priority_outside_1_to_5_is_refused_by_the_database(session, world):
    factories.help_request(session, world.a.commune, priority=3)
    session.commit()
    with pytest.raises(IntegrityError):
        factories.help_request(session, world.a.commune, priority=6)
    session.rollback()


def test_reference_codes_are_unique(session, world):
    with pytest.raises(IntegrityError):
        factories.help_request(session, world.a.commune, reference=world.a.request.reference)
    session.rollback()


def test_a_volunteer_is_a_minor_until_the_eighteenth_birthday(session, world):
    volunteer = factories.volunteer(session, world.a.commune, date_of_birth=date(2008, 11, 29))
    assert volunteer.is_minor_on(date(2026, 11, 28))
    assert not volunteer.is_minor_on(date(2026, 11, 29))
    assert age_on(date(2000, 2, 29), date(2018, 2, 28)) == 17


def test_phone_numbers_are_unique_among_volunteers(session, world):
    with pytest.raises(IntegrityError):
        factories.volunteer(session, world.b.commune, phone=world.a.volunteer.phone)
    session.rollback()


def test_the_request_lifecycle_only_moves_forward_to_an_end():
    ends = {
        RequestStatus.DONE,
        RequestStatus.NOT_HOME,
        RequestStatus.REFERRED,
        RequestStatus.CANCELLED,
    }
    for status in ends:
        assert REQUEST_TRANSITIONS[status] == frozenset()
    assert RequestStatus.TRIAGED in REQUEST_TRANSITIONS[RequestStatus.NEW]
    assert RequestStatus.CONFIRMED in REQUEST_TRANSITIONS[RequestStatus.SCHEDULED]
    assert set(REQUEST_TRANSITIONS) == set(RequestStatus)


def test_deleting_a_volunteer_removes_their_skills_and_availability(session, world):
    from volunteer_hub.models import AvailabilitySlot, VolunteerAvailability

    volunteer = factories.volunteer(session, world.a.commune)
    volunteer.availability = [VolunteerAvailability(slot=AvailabilitySlot.SAT_MORNING)]
    session.commit()
    session.delete(volunteer)
    session.commit()
    assert session.scalars(select(VolunteerAvailability)).all() == []
    assert session.get(Volunteer, volunteer.id) is None
    assert session.scalars(select(HelpRequest)).all()
