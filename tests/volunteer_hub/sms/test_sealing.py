"""No live secret readable in the outbox: phone codes and links are masked, sealed until sent."""

from __future__ import annotations

import logging
import re

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from tests.conftest import login
from tests.fakes import permanent, real_text, transient
from tests.volunteer_hub.sms.conftest import PUBLIC, THURSDAY
from volunteer_hub import create_app
from volunteer_hub.config import ConfigError
from volunteer_hub.extensions import db
from volunteer_hub.models import AuditEvent, Message, MessageStatus
from volunteer_hub.redaction import redact
from volunteer_hub.services.intake.phone_codes import send_phone_code
from volunteer_hub.services.messaging.dispatch import claim_due_messages, send_due_messages
from volunteer_hub.services.messaging.outbox import cancel_queued, queue_message
from volunteer_hub.services.messaging.reconcile import reconcile_stale_messages
from volunteer_hub.services.messaging.sealing import derived_key, seal, unseal
from volunteer_hub.sms.console import ConsoleGateway

CODE = "Ab3dE5fG7h"
LINK_BODY = f"Doan TN: xac nhan tai {PUBLIC}/s/{CODE}"


def queued(session, body: str = LINK_BODY, phone: str = "+84901234567", **kw) -> Message:  # type: ignore[no-untyped-def]
    message = queue_message(
        session,
        key=f"k:{len(body)}:{phone}",
        kind="assignment",
        to_phone=phone,
        body=body,
        send_after=THURSDAY,
        **kw,
    )
    session.commit()
    return message


def row_text(message: Message) -> str:
    """Everything a reader of the database (or a backup) sees of a message."""
    return " ".join(str(getattr(message, c.key) or "") for c in Message.__table__.columns)


def test_a_link_is_masked_in_the_outbox_and_sealed_until_sent(session, gateway, settings, clock):
    message = queued(session)
    assert message.body == f"Doan TN: xac nhan tai {PUBLIC}/s/••••••••7h"
    assert CODE not in row_text(message)
    assert real_text(message) == LINK_BODY
    assert message.encoding == "GSM-7" and message.segments == 1  # of the real text
    send_due_messages(session, gateway, settings=settings, clock=clock)
    assert gateway.bodies() == [LINK_BODY]  # the person gets the real link
    session.expire_all()
    assert message.status == MessageStatus.SENT and message.sealed_body is None


def test_a_phone_code_is_masked_and_erased_once_sent(session, world, gateway, settings, clock):
    verification = send_phone_code(session, world.a.volunteer, now=clock(), settings=settings)
    session.commit()
    message = session.scalar(select(Message).where(Message.kind == "phone_code"))
    code = re.search(r"\b(\d{6})\b", real_text(message)).group(1)
    assert code not in row_text(message) and "••••••" in message.body
    send_due_messages(session, gateway, settings=settings, clock=clock)
    assert code in gateway.bodies()[0]
    session.expire_all()
    assert message.sealed_body is None and code not in row_text(message)
    assert verification.code_hash != code


def test_the_secret_stays_through_retries_and_goes_when_it_fails_for_good(
    session, gateway, settings, clock
):
    retried = queued(session, phone="+84901111111")
    failed = queued(session, phone="+84902222222")
    cancelled = queued(session, phone="+84903333333")
    gateway.fail_next("+84901111111", transient())
    gateway.fail_next("+84902222222", permanent())
    cancel_queued(session, phone="+84903333333")
    session.commit()
    send_due_messages(session, gateway, settings=settings, clock=clock)
    session.expire_all()
    assert retried.status == MessageStatus.QUEUED and real_text(retried) == LINK_BODY
    assert failed.status == MessageStatus.FAILED and failed.sealed_body is None
    assert cancelled.status == MessageStatus.CANCELLED and cancelled.sealed_body is None


def test_reconciliation_after_a_crash_compares_the_real_text(session, gateway, settings, clock):
    reached = queued(session, phone="+84901111111")
    lost = queued(session, phone="+84902222222")
    for claimed in claim_due_messages(
        session, worker_id="dead:1", provider=gateway.name, now=clock(), limit=2
    ):
        assert claimed.body == LINK_BODY
        if claimed.to_phone == "+84901111111":
            gateway.send(claimed.to_phone, claimed.body)  # then the worker died
    clock.advance(seconds=settings.sending_timeout_s + 1)
    report = reconcile_stale_messages(session, gateway, settings=settings, now=clock())
    assert (report.found_sent, report.requeued) == (1, 1)
    session.expire_all()
    assert reached.status == MessageStatus.SENT and reached.sealed_body is None
    assert lost.status == MessageStatus.QUEUED and real_text(lost) == LINK_BODY
    send_due_messages(session, gateway, settings=settings, clock=clock)
    assert gateway.bodies() == [LINK_BODY, LINK_BODY]  # each person once, with the real link


def test_the_admin_outbox_shows_no_live_link(client, session, world, settings):
    queued(session)
    login(client, world.admin.email)
    page = client.get("/admin/sms/").get_data(as_text=True)
    assert "/s/••••••••7h" in page and CODE not in page
    assert CODE not in str([e.detail for e in session.scalars(select(AuditEvent))])


def test_the_console_log_masks_links_and_codes(caplog):
    with caplog.at_level(logging.INFO, logger="volunteer_hub.sms.console"):
        ConsoleGateway().send("+84901234567", LINK_BODY + " ma 482913")
    logged = caplog.records[-1].getMessage()
    assert CODE not in logged and "482913" not in logged and "/s/••••••••7h" in logged
    with caplog.at_level(logging.INFO, logger="volunteer_hub.sms.console"):
        ConsoleGateway(reveal=True).send("+84901234567", LINK_BODY)  # the demo's invented people
    assert CODE in caplog.records[-1].getMessage()


def test_log_records_never_carry_a_phone_number_or_a_link(app, caplog):
    with caplog.at_level(logging.INFO):
        logging.getLogger("volunteer_hub.anything").info(
            "to %s and %s: %s", "+84912345678", "0912345678", LINK_BODY
        )
    logged = caplog.records[-1].getMessage()
    assert "912345678" not in logged and "+84******678" in logged and CODE not in logged
    assert redact("id 12345678901234, 2026-11-28") == "id 12345678901234, 2026-11-28"


def test_the_engine_hides_sql_parameters(app, session, world):
    from sqlalchemy.exc import IntegrityError

    assert db.engine.hide_parameters
    queue_message(session, key="dup", kind="broadcast", to_phone="+84987654321", body="x")
    session.commit()
    with pytest.raises(IntegrityError) as raised:
        session.execute(
            Message.__table__.insert().values(
                idempotency_key="dup",
                kind="broadcast",
                to_phone="+84987654321",
                body="x",
                locale="vi",
                encoding="GSM-7",
                segments=1,
                status="queued",
                urgent=False,
                send_after=THURSDAY,
                attempts=0,
                created_at=THURSDAY,
            )
        )
    session.rollback()
    assert "+84987654321" not in str(raised.value)
    assert "hidden due to hide_parameters" in str(raised.value)


def test_a_database_error_s_traceback_in_the_logs_shows_no_phone_name_or_note(
    app, session, world, caplog
):
    """PostgreSQL quotes the row in DETAIL whatever the engine hides; the logs must not."""
    from sqlalchemy.exc import IntegrityError

    from volunteer_hub.logs import TEXT_FORMAT, RedactingJsonFormatter
    from volunteer_hub.models import Volunteer

    first, second = session.scalars(select(Volunteer).order_by(Volunteer.id).limit(2))
    log = logging.getLogger("volunteer_hub.anything")
    with caplog.at_level(logging.ERROR):
        try:  # a real unique violation: on PostgreSQL its DETAIL holds the phone
            session.execute(
                Volunteer.__table__.update()
                .where(Volunteer.id == second.id)
                .values(phone=first.phone)
            )
        except IntegrityError:
            log.exception("saving a volunteer failed")
        session.rollback()
        try:  # PostgreSQL's words for a check violation, with a row of personal data
            raise RuntimeError(
                'new row for relation "volunteer" violates check constraint "max_visits_range"\n'
                "DETAIL:  Failing row contains (7, Nguyễn Văn An, +84912345678, nhà gần chợ).\n"
                "DETAIL:  Key (phone)=(+84912345678) already exists.\n"
                f"at {PUBLIC}/s/{CODE}"
            )
        except RuntimeError:
            log.exception("import row failed")
    records = caplog.records[-2:]
    text = logging.Formatter(TEXT_FORMAT.replace("[%(request_id)s]", ""))
    as_json = RedactingJsonFormatter("%(message)s")
    for record in records:
        for written in (text.format(record), as_json.format(record), caplog.text):
            assert "Traceback" in written
            assert first.phone not in written and first.phone[-9:] not in written
            assert "912345678" not in written
            assert "Nguyễn Văn An" not in written and "gần chợ" not in written
            assert CODE not in written
    shown = text.format(records[-1])
    assert "Failing row contains (…)." in shown and "Key (phone)=(…) already exists." in shown


def test_keys_rotate_and_a_wrong_key_is_refused_at_start(database_uri, session):
    old, new = Fernet.generate_key(), Fernet.generate_key()
    token = seal("secret text", [old])
    assert unseal(token, [new, old]) == "secret text"
    assert unseal(token, [new]) is None
    with pytest.raises(ConfigError, match="VH_MESSAGE_KEY"):
        create_app(
            {"TESTING": True, "SQLALCHEMY_DATABASE_URI": database_uri, "MESSAGE_KEY": "nope"}
        )
    both = f"{new.decode()},{old.decode()}"
    app = create_app(
        {"TESTING": True, "SQLALCHEMY_DATABASE_URI": database_uri, "MESSAGE_KEY": both}
    )
    from volunteer_hub.services.messaging.settings import SmsSettings

    assert SmsSettings.from_config(app.config).sealing_keys == (new, old)
    assert derived_key("a") != derived_key("b")


def test_a_message_no_key_opens_fails_instead_of_sending_garbage(session, gateway, settings, clock):
    message = queued(session)
    message.sealed_body = seal(LINK_BODY, [Fernet.generate_key()])
    session.commit()
    report = send_due_messages(session, gateway, settings=settings, clock=clock)
    assert report.failed == 1 and gateway.sent == []
    session.expire_all()
    assert message.error_code == "sealed" and message.sealed_body is None
