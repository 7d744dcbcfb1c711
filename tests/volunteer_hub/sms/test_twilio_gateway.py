"""The real twilio client against the local fake Twilio: requests, replies and errors."""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta

import pytest

from tests.fakes import ACCOUNT_SID, AUTH_TOKEN, FakeTwilio
from tests.volunteer_hub.sms.conftest import PUBLIC, twilio_config
from volunteer_hub.sms import (
    GatewayConfigError,
    PermanentGatewayError,
    SmsGateway,
    TransientGatewayError,
    UncertainSendError,
    build_gateway,
)
from volunteer_hub.sms.console import ConsoleGateway
from volunteer_hub.sms.twilio import TwilioGateway


def gateway_for(fake: FakeTwilio, **extra: object) -> TwilioGateway:
    gateway = build_gateway(twilio_config(fake, **extra))
    assert isinstance(gateway, TwilioGateway)
    return gateway


def test_a_message_is_posted_form_encoded_with_from_and_status_callback(fake_twilio):
    result = gateway_for(fake_twilio).send("+84901234567", "Doan TN: xin chao")
    (record,) = fake_twilio.messages
    assert result.provider_sid == record["sid"] and result.provider_sid.startswith("SM")
    assert result.status == "queued" and result.segments == 1
    assert record["to"] == "+84901234567"
    assert record["from"] == "+15005550006"
    assert record["body"] == "Doan TN: xin chao"
    assert record["status_callback"] == f"{PUBLIC}/webhooks/twilio/status"


def test_a_messaging_service_replaces_the_sender(fake_twilio):
    gateway = gateway_for(fake_twilio, TWILIO_FROM="", TWILIO_MESSAGING_SERVICE_SID="MG" + "1" * 32)
    gateway.send("+84901234567", "hi")
    (record,) = fake_twilio.messages
    assert record["messaging_service_sid"] == "MG" + "1" * 32


@pytest.mark.parametrize(
    ("code", "error", "flags"),
    [
        (21211, PermanentGatewayError, {"invalid_number": True}),
        (21610, PermanentGatewayError, {"opted_out": True}),
        (20429, TransientGatewayError, {}),
        (20500, TransientGatewayError, {}),
    ],
)
def test_twilio_errors_become_the_gateways(fake_twilio, code, error, flags):
    fake_twilio.fail_next("+84901234567", code)
    with pytest.raises(error) as raised:
        gateway_for(fake_twilio).send("+84901234567", "hi")
    assert raised.value.code == str(code)
    for name, value in flags.items():
        assert getattr(raised.value, name) is value
    assert fake_twilio.messages == []


def test_wrong_credentials_are_retried_not_dropped(fake_twilio):
    with pytest.raises(TransientGatewayError):
        gateway_for(fake_twilio, TWILIO_AUTH_TOKEN="wrong").send("+84901234567", "hi")


def test_no_server_means_the_message_never_left(fake_twilio):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    gateway = gateway_for(fake_twilio, TWILIO_API_BASE_URL=f"http://127.0.0.1:{port}")
    with pytest.raises(TransientGatewayError):
        gateway.send("+84901234567", "hi")


def test_a_reply_that_never_comes_is_uncertain_not_retried():
    with FakeTwilio(latency_s=1.5) as slow:
        gateway = gateway_for(slow, SMS_HTTP_TIMEOUT_S=0.3)
        with pytest.raises(UncertainSendError):
            gateway.send("+84901234567", "hi")


def test_the_message_list_is_read_across_pages_for_reconciliation(fake_twilio):
    gateway = gateway_for(fake_twilio)
    for i in range(130):
        gateway.send("+84901234567", f"tin {i}")
    gateway.send("+84909999999", "someone else")
    found = gateway.find_sent("+84901234567", datetime.now(UTC) - timedelta(minutes=5))
    assert found is not None and len(found) == 130
    assert {m.body for m in found} == {f"tin {i}" for i in range(130)}
    assert fake_twilio.requests["list"] == 2  # pages of 100
    assert gateway.find_sent("+84901234567", datetime.now(UTC) + timedelta(minutes=5)) == []


def test_listing_errors_are_transient(fake_twilio):
    fake_twilio.list_error = 20500
    with pytest.raises(TransientGatewayError):
        gateway_for(fake_twilio).find_sent("+84901234567", datetime.now(UTC))


def test_the_backend_is_chosen_by_setting():
    assert isinstance(build_gateway({}), ConsoleGateway)
    assert isinstance(build_gateway({"SMS_BACKEND": "console"}), SmsGateway)
    with pytest.raises(GatewayConfigError, match="not a known backend"):
        build_gateway({"SMS_BACKEND": "carrier-pigeon"})
    with pytest.raises(GatewayConfigError, match="VH_TWILIO_ACCOUNT_SID"):
        build_gateway({"SMS_BACKEND": "twilio"})
    with pytest.raises(GatewayConfigError, match="VH_TWILIO_FROM"):
        build_gateway(
            {
                "SMS_BACKEND": "twilio",
                "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
                "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
            }
        )
    with pytest.raises(GatewayConfigError, match="cannot import"):
        build_gateway({"SMS_BACKEND": "no.such.module:factory"})


def test_a_backend_of_ones_own_plugs_in_by_module_path():
    gateway = build_gateway({"SMS_BACKEND": "tests.volunteer_hub.sms.test_brandname:factory"})
    assert gateway.name == "example-brandname"


def test_the_console_backend_logs_and_cannot_reconcile(caplog):
    caplog.set_level("INFO", logger="volunteer_hub.sms.console")
    result = ConsoleGateway().send("+84901234567", "Doan TN: thu")
    assert result.provider_sid.startswith("CONSOLE")
    assert "Doan TN: thu" in caplog.text
    assert ConsoleGateway().find_sent("+84901234567", datetime.now(UTC)) is None
