"""A volunteer's day link on a phone, in Chromium: her visits of the day in order, each with
thumb-sized answers (44 x 44 CSS px at least), and an answer given from the page sticks."""

from __future__ import annotations

import re

import pytest

from tests.volunteer_hub.sms.test_browser_links import SMALL_TARGETS
from tests.volunteer_hub.test_day_messages import _busiest, _code, _day_messages
from tests.volunteer_hub.test_day_messages import dw as dw  # noqa: F401 (the fixture)
from tests.volunteer_hub.test_replanning import TZ, solve
from volunteer_hub.models import Visit
from volunteer_hub.services.drives import publishing

pytestmark = pytest.mark.browser


def test_the_day_page_lists_her_visits_with_thumb_sized_answers(  # type: ignore[no-untyped-def]
    live_server, phone_390, session, dw, artifacts
):
    plan = solve(session, dw.drive)
    publishing.publish_plan(session, plan, user=dw.coordinator)
    session.commit()
    her = _busiest(plan, dw)
    hers = sorted(
        (v for v in plan.visits if v.team and her in v.team.members), key=lambda v: v.starts_at
    )
    (sms,) = [m for m in _day_messages(session) if m.volunteer_id == her.id]
    page = phone_390
    page.goto(f"{live_server}/s/{_code(sms)}")
    cards = page.locator("section.day-visit")
    assert cards.count() == len(hers) >= 3
    for index, visit in enumerate(hers):
        heading = cards.nth(index).locator("h2").inner_text()
        assert heading.startswith(visit.starts_at.astimezone(TZ).strftime("%H:%M"))
        assert visit.request.beneficiary_name.split()[-1] in heading
    assert page.evaluate(SMALL_TARGETS) == []
    page.screenshot(path=str(artifacts / "day-link-phone.png"), full_page=True)

    # Opening "I cannot go to this visit" shows its reasons, still thumb-sized.
    second = page.locator(f"#visit-{hers[1].id}")
    second.locator("summary").click()
    assert page.evaluate(SMALL_TARGETS) == []
    page.screenshot(path=str(artifacts / "day-link-decline-phone.png"), full_page=True)

    # "I will go" on the first visit: the page comes back to it, saying so.
    page.locator(f"#visit-{hers[0].id}").get_by_role("button", name="Tôi sẽ đi").click()
    page.wait_for_url(re.compile(rf"#visit-{hers[0].id}$"))
    page.locator(f"#visit-{hers[0].id}").get_by_text("Bạn đã nhận lượt hỗ trợ này").wait_for()
    session.expire_all()
    assert session.get(Visit, hers[0].id).volunteer_accepted_at is not None
    assert session.get(Visit, hers[1].id).volunteer_accepted_at is None


def test_the_thanks_link_opens_her_day_and_says_which_household_asked_for_another_time(  # type: ignore[no-untyped-def]
    live_server, phone_390, session, dw, artifacts
):
    from volunteer_hub.services.messaging import responses
    from volunteer_hub.services.messaging.notifications import notify_day_thanks

    plan = solve(session, dw.drive)
    publishing.publish_plan(session, plan, user=dw.coordinator)
    session.commit()
    her = _busiest(plan, dw)
    hers = sorted(
        (v for v in plan.visits if v.team and her in v.team.members), key=lambda v: v.starts_at
    )
    responses.household_reschedule(session, hers[1], "Chiều mai mới có nhà")
    day = hers[0].starts_at.astimezone(TZ).date()
    thanks = notify_day_thanks(session, her, day, hers, drive=plan.drive)
    session.commit()
    page = phone_390
    page.goto(f"{live_server}/s/{_code(thanks)}")
    cards = page.locator("section.day-visit")
    assert cards.count() == len(hers)
    moved = page.locator(f"#visit-{hers[1].id}")
    moved.get_by_text("Gia đình xin hẹn giờ khác").wait_for()
    assert moved.locator("button").count() == 0  # nothing to answer for that one
    assert page.evaluate(SMALL_TARGETS) == []
    page.screenshot(path=str(artifacts / "day-link-thanks-phone.png"), full_page=True)
