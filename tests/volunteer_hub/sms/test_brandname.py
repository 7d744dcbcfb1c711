"""The brand-name seam: a made-up local provider's HTTP API fits in two small methods."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from volunteer_hub.sms import (
    PermanentGatewayError,
    SendResult,
    TransientGatewayError,
    build_gateway,
)
from volunteer_hub.sms.brandname import BrandNameGateway


class ExampleBrandName(BrandNameGateway):
    """A provider that takes JSON {phone, content, brandname} and answers {code, id}."""

    name = "example-brandname"

    def __init__(self, url: str, api_key: str, brandname: str = "DOANTN") -> None:
        super().__init__(timeout_s=2)
        self.url, self.api_key, self.brandname = url, api_key, brandname

    def request_for(self, to: str, body: str) -> tuple[str, dict[str, str], dict[str, Any]]:
        return (
            f"{self.url}/send",
            {"X-Api-Key": self.api_key},
            {"phone": self.national_digits(to), "content": body, "brandname": self.brandname},
        )

    def result_from(self, status_code: int, payload: Any) -> SendResult:
        if payload.get("code") == "00":
            return SendResult(provider_sid=str(payload["id"]), status="accepted")
        if payload.get("code") == "BAD_PHONE":
            raise PermanentGatewayError("bad phone", code="BAD_PHONE", invalid_number=True)
        raise PermanentGatewayError(f"refused: {payload}", code=str(payload.get("code")))


def factory(config: Mapping[str, Any]) -> ExampleBrandName:
    """What VH_SMS_BACKEND=package.module:factory points at."""
    return ExampleBrandName(str(config.get("EXAMPLE_URL", "http://127.0.0.1:9")), "key")


@pytest.fixture
def provider() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    received: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            return

        def do_POST(self) -> None:  # noqa: N802
            data = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            received.append({**data, "key": self.headers.get("X-Api-Key")})
            if data["phone"] == "84900000000":
                status, reply = 503, {"code": "BUSY"}
            elif data["phone"] == "84911111111":
                status, reply = 200, {"code": "BAD_PHONE"}
            else:
                status, reply = 200, {"code": "00", "id": f"BN{len(received)}"}
            body = json.dumps(reply).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", received
    server.shutdown()
    server.server_close()


def test_a_brand_name_backend_sends_through_its_own_api(provider):
    url, received = provider
    gateway = build_gateway({"SMS_BACKEND": f"{__name__}:factory", "EXAMPLE_URL": url})
    result = gateway.send("+84901234567", "Doan TN: xin chao")
    assert result.provider_sid == "BN1"
    assert received == [
        {
            "phone": "84901234567",
            "content": "Doan TN: xin chao",
            "brandname": "DOANTN",
            "key": "key",
        }
    ]


def test_its_errors_map_onto_the_gateways(provider):
    url, _ = provider
    gateway = ExampleBrandName(url, "key")
    with pytest.raises(TransientGatewayError):
        gateway.send("+84900000000", "x")
    with pytest.raises(PermanentGatewayError) as raised:
        gateway.send("+84911111111", "x")
    assert raised.value.invalid_number


def test_without_a_report_crashed_sends_are_held_for_a_person(provider):
    url, _ = provider
    assert ExampleBrandName(url, "key").find_sent("+84901234567", None) is None  # type: ignore[arg-type]
