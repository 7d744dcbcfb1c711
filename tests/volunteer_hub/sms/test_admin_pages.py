"""The admins' SMS pages: the outbox, held messages, texts with a cost preview, opt-outs."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.conftest import login
from volunteer_hub.models import MessageStatus, MessageTemplate, SmsOptOut
from volunteer_hub.services.messaging import templates
from volunteer_hub.services.messaging.dispatch import send_due_messages
from volunteer_hub.services.messaging.outbox import queue_message
from volunteer_hub.sms.console import ConsoleGateway

PAGES = [
    "/admin/sms/",
    "/admin/sms/templates",
    "/admin/sms/templates/assignment/vi",
    "/admin/sms/opt-outs",
]


@pytest.mark.parametrize("page", PAGES)
def test_sms_pages_are_for_admins_only(client, world, page):
    assert client.get(page).status_code == 302  # to sign in
    login(client, world.a.coordinator.email)
    assert client.get(page).status_code == 403
    for action in (
        "/admin/sms/messages/1/decide",
        "/admin/sms/opt-outs",
        "/admin/sms/templates/assignment/vi",
    ):
        assert client.post(action, data={}).status_code == 403


def test_console_messages_are_shown_in_the_outbox(client, session, world, settings):
    queue_message(
        session, key="a", kind="broadcast", to_phone="+84901234567", body="Doan TN: hop doi luc 7h"
    )
    session.commit()
    send_due_messages(session, ConsoleGateway(), settings=settings)
    login(client, world.admin.email)
    page = client.get("/admin/sms/")
    body = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Doan TN: hop doi luc 7h" in body and "0901 234 567" in body
    assert page.headers["Cache-Control"] == "no-store"
    filtered = client.get("/admin/sms/?status=queued").get_data(as_text=True)
    assert "Doan TN: hop doi luc 7h" not in filtered
    assert client.get("/admin/sms/?status=bogus&phone=xyz").status_code == 200


def test_a_held_message_is_decided_on_the_outbox_page(client, session, world, settings):
    message = queue_message(
        session, key="h", kind="broadcast", to_phone="+84901234567", body="Doan TN: tin bi treo"
    )
    message.status = MessageStatus.HELD
    session.commit()
    login(client, world.admin.email)
    page = client.get("/admin/sms/").get_data(as_text=True)
    assert f"/admin/sms/messages/{message.id}/decide" in page
    response = client.post(f"/admin/sms/messages/{message.id}/decide", data={"decision": "resend"})
    assert response.status_code == 303
    assert message.status == MessageStatus.QUEUED
    # Not held any more: a second decision is refused with a message, not an error page.
    again = client.post(f"/admin/sms/messages/{message.id}/decide", data={"decision": "cancel"})
    assert again.status_code == 303 and message.status == MessageStatus.QUEUED
    assert client.post("/admin/sms/messages/999999/decide", data={}).status_code == 404


def test_the_template_preview_shows_encoding_parts_and_cost(client, world):
    login(client, world.admin.email)
    page = client.post(
        "/admin/sms/templates/broadcast/vi",
        data={"action": "preview", "body": "{sender}: {text} Đã đủ."},
    )
    body = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "GSM-7" in body and "UCS-2" in body
    assert "Du mang ao mua" not in body  # the example text, not ours
    assert "Da du." in body and "Đã đủ." in body


def test_saving_a_template_changes_the_messages_and_bad_ones_are_refused(
    client, session, world, published, settings, clock
):
    login(client, world.admin.email)
    bad = client.post(
        "/admin/sms/templates/assignment/vi", data={"action": "save", "body": "Đi {nowhere} nhé"}
    )
    assert bad.status_code == 422
    text = bad.get_data(as_text=True)
    assert "{nowhere}" in text
    assert session.scalars(select(MessageTemplate)).all() == []

    good = client.post(
        "/admin/sms/templates/assignment/vi",
        data={"action": "save", "body": "{sender}: Lịch {date} {time}. {link}"},
    )
    assert good.status_code == 303
    (row,) = session.scalars(select(MessageTemplate)).all()
    assert row.updated_by_id == world.admin.id

    from volunteer_hub.services.messaging.notifications import notify_assignment

    (message, _) = notify_assignment(
        session, published.visit, version=1, now=clock(), settings=settings
    )
    assert message.body.startswith("Doan TN Hue: Lich Thu Bay 28/11 08:00. https://")

    reset = client.post("/admin/sms/templates/assignment/vi", data={"action": "reset"})
    assert reset.status_code == 303
    assert session.scalars(select(MessageTemplate)).all() == []


def test_unknown_kinds_and_languages_are_404(client, world):
    login(client, world.admin.email)
    assert client.get("/admin/sms/templates/nope/vi").status_code == 404
    assert client.get("/admin/sms/templates/assignment/fr").status_code == 404


def test_every_template_lists_on_the_texts_page(client, world):
    login(client, world.admin.email)
    body = client.get("/admin/sms/templates").get_data(as_text=True)
    for kind in templates.KINDS:
        assert f"/admin/sms/templates/{kind}/vi" in body


def test_admins_add_and_remove_opt_outs(client, session, world):
    login(client, world.admin.email)
    assert (
        client.post(
            "/admin/sms/opt-outs", data={"phone": "0901 234 567", "note": "asked by phone"}
        ).status_code
        == 303
    )
    assert session.get(SmsOptOut, "+84901234567").source == "coordinator"
    assert "0901 234 567" in client.get("/admin/sms/opt-outs").get_data(as_text=True)
    client.post("/admin/sms/opt-outs", data={"phone": "+84901234567", "action": "remove"})
    assert session.get(SmsOptOut, "+84901234567") is None
    bad = client.post("/admin/sms/opt-outs", data={"phone": "12"}, follow_redirects=True)
    assert bad.status_code == 200
    assert session.scalars(select(SmsOptOut)).all() == []


def test_failing_numbers_show_on_the_outbox(client, session, world):
    for i in range(3):
        message = queue_message(session, key=f"f{i}", kind="k", to_phone="+84907654321", body="x")
        message.status = MessageStatus.FAILED
        message.error_code = "30005"
    session.commit()
    login(client, world.admin.email)
    body = client.get("/admin/sms/").get_data(as_text=True)
    assert "0907 654 321" in body and "30005" in body
