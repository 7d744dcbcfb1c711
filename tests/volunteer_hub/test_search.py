"""Searching the lists finds people as typed: accents and case ignored, `%` and `_` literal."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests import factories
from tests.conftest import login
from volunteer_hub.models import HelpRequest, Volunteer
from volunteer_hub.models.search import contains, fold


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("nguyen van", "Nguyễn Văn"),
        ("NGUYỄN", "nguyễn"),
        ("dong", "Đông"),
        ("  le   thi ", "Lê Thị"),
    ],
)
def test_fold_makes_typed_text_and_names_meet(typed, stored):
    assert fold(typed) in fold(stored)


def _names(session, model, column, typed):  # type: ignore[no-untyped-def]
    return set(session.scalars(select(column).where(contains(model.search_text, typed))))


def test_a_search_without_accents_finds_the_names_with_them(session, world):
    a = world.a.commune
    factories.help_request(session, a, beneficiary_name="Nguyễn Thị Hoà", house="12 Đặng Huy Trứ")
    factories.help_request(session, a, beneficiary_name="Trần Văn Đông")
    factories.volunteer(session, a, full_name="Phạm Đức Anh", school_or_unit="Đại học Huế")
    session.commit()
    names = lambda typed: _names(session, HelpRequest, HelpRequest.beneficiary_name, typed)  # noqa: E731
    assert names("nguyen thi hoa") == {"Nguyễn Thị Hoà"}
    assert names("NGUYỄN") == {"Nguyễn Thị Hoà"}
    assert names("dang huy tru") == {"Nguyễn Thị Hoà"}  # the house is searched too
    assert names("van dong") == {"Trần Văn Đông"}
    assert _names(session, Volunteer, Volunteer.full_name, "duc anh") == {"Phạm Đức Anh"}
    assert _names(session, Volunteer, Volunteer.full_name, "dai hoc hue") == {"Phạm Đức Anh"}


def test_percent_and_underscore_are_taken_literally(session, world):
    a = world.a.commune
    factories.help_request(session, a, beneficiary_name="Bà Lan", house="Kiệt 5_2")
    factories.help_request(session, a, beneficiary_name="Ông Tư", house="Kiệt 512")
    factories.help_request(session, a, beneficiary_name="Bà Mai", house="Giảm 100% phí")
    session.commit()
    names = lambda typed: _names(session, HelpRequest, HelpRequest.beneficiary_name, typed)  # noqa: E731
    assert names("5_2") == {"Bà Lan"}
    assert names("%") == {"Bà Mai"}
    assert names("100%") == {"Bà Mai"}
    assert names("\\") == set()


def test_the_search_text_follows_every_change_of_the_name(session, world):
    request = factories.help_request(session, world.a.commune, beneficiary_name="Hồ Văn Tâm")
    session.commit()
    assert request.search_text == fold(request.reference, "Hồ Văn Tâm")
    request.beneficiary_name = "Võ Thị Sáu"
    session.commit()
    assert _names(session, HelpRequest, HelpRequest.beneficiary_name, "vo thi sau") == {
        "Võ Thị Sáu"
    }
    assert _names(session, HelpRequest, HelpRequest.beneficiary_name, "ho van tam") == set()


def test_the_coordinators_lists_search_without_accents(client, session, world):
    a = world.a
    factories.help_request(session, a.commune, beneficiary_name="Nguyễn Thị Bưởi")
    factories.volunteer(session, a.commune, full_name="Lê Quốc Việt")
    session.commit()
    login(client, a.coordinator.email)
    page = client.get("/requests?q=nguyen+thi+buoi")
    assert page.status_code == 200
    assert "Nguyễn Thị Bưởi" in page.get_data(as_text=True)
    page = client.get("/volunteers?q=le+quoc+viet")
    assert page.status_code == 200
    assert "Lê Quốc Việt" in page.get_data(as_text=True)
    # A wildcard typed alone matches nothing it should not.
    page = client.get("/requests?q=%25")
    assert page.status_code == 200
    assert "Nguyễn Thị Bưởi" not in page.get_data(as_text=True)
