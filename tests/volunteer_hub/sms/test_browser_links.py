"""The personal link pages on a phone, in Chromium: every touch target is at least 44 x 44
CSS px (WCAG 2.2's enhanced target size), and what to have ready is listed once."""

from __future__ import annotations

from datetime import timedelta

import pytest

from volunteer_hub.models import utcnow
from volunteer_hub.services.messaging import links

pytestmark = pytest.mark.browser

# Every control a thumb may need, as the page lays it out. Links inside a sentence are
# exempt (WCAG's "inline" exception); a radio button counts through its label.
SMALL_TARGETS = """
() => {
  const small = [];
  const seen = new Set();
  const controls = document.querySelectorAll(
    'a[href], button, input:not([type=hidden]):not([type=radio]):not([type=checkbox]), '
    + 'select, textarea, label:has(input[type=radio]), label:has(input[type=checkbox])');
  for (const el of controls) {
    const box = el.getBoundingClientRect();
    if (box.width === 0 || box.height === 0) continue;
    if (box.right <= 0 || box.bottom <= 0) continue;  // off screen until focused (skip link)
    if (el.tagName === 'A') {
      const parent = el.parentElement;
      const text = parent ? parent.textContent.replace(el.textContent, '').trim() : '';
      if (getComputedStyle(el).display === 'inline' && text.length > 0) continue;
    }
    const key = el.outerHTML.slice(0, 80);
    if (seen.has(key)) continue;
    seen.add(key);
    if (box.width < 44 || box.height < 44) {
      small.push(`${el.tagName} "${el.textContent.trim().slice(0, 40)}" `
        + `${Math.round(box.width)}x${Math.round(box.height)}`);
    }
  }
  return small;
}
"""


def _code(session, found, settings, purpose):  # type: ignore[no-untyped-def]
    start = utcnow() + timedelta(days=3)
    visit = found.visit
    visit.starts_at = visit.arrival_at = start
    visit.ends_at = start + timedelta(minutes=45)
    found.drive.blocks[0].starts_at = start - timedelta(hours=1)
    found.drive.blocks[0].ends_at = start + timedelta(hours=3)
    issued = links.issue_link(
        session,
        purpose=purpose,
        visit=visit,
        request_id=visit.request_id if purpose == links.HOUSEHOLD_VISIT else None,
        volunteer_id=found.lan.id if purpose == links.VOLUNTEER_VISIT else None,
        settings=settings,
    )
    session.commit()
    return issued.code


@pytest.mark.parametrize(
    ("purpose", "shot"),
    [
        (links.HOUSEHOLD_VISIT, "link-household-phone.png"),
        (links.VOLUNTEER_VISIT, "link-volunteer-phone.png"),
    ],
)
def test_link_pages_have_thumb_sized_targets(  # type: ignore[no-untyped-def]
    live_server, phone_page, session, published, settings, artifacts, purpose, shot
):
    code = _code(session, published, settings, purpose)
    phone_page.goto(f"{live_server}/s/{code}")
    phone_page.screenshot(path=str(artifacts / shot), full_page=True)
    assert phone_page.evaluate(SMALL_TARGETS) == []


def test_the_household_list_of_what_to_have_ready_names_each_thing_once(  # type: ignore[no-untyped-def]
    live_server, phone_page, session, published, settings
):
    code = _code(session, published, settings, links.HOUSEHOLD_VISIT)
    phone_page.goto(f"{live_server}/s/{code}")
    items = phone_page.locator("section.card").first.locator("li").all_inner_texts()
    assert len(items) >= 3
    assert len(items) == len({i.casefold() for i in items})


def test_the_public_pages_have_thumb_sized_targets(live_server, phone_page, world):  # type: ignore[no-untyped-def]
    for path in ("/", "/request", "/volunteer", "/request/status"):
        phone_page.goto(f"{live_server}{path}")
        assert phone_page.evaluate(SMALL_TARGETS) == [], path
