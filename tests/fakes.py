"""Fakes for the tests: a fixed clock, a recording gateway, a local fake of Twilio's API, and a
TCP proxy whose link can be cut (a database server that goes away and comes back).

The fake Twilio is a real HTTP server on 127.0.0.1 speaking the part of the REST API we use:
form-encoded ``POST /2010-04-01/Accounts/{sid}/Messages.json`` with Basic auth, JSON replies,
``GET`` of the same URL to list messages (newest first, paged), and Twilio's error bodies for
21211 (invalid number), 21610 (opted out), 20429 (too many requests) and 20500 (server error).
The official ``twilio`` client talks to it through ``client.api.base_url``.

Run it alone (for the benchmark): ``python -m tests.fakes --port 8765``.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import socket
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from volunteer_hub.sms import (
    PermanentGatewayError,
    ProviderMessage,
    SendResult,
    TransientGatewayError,
    UncertainSendError,
)
from volunteer_hub.sms.text import analyse

ACCOUNT_SID = "AC" + "f" * 32
AUTH_TOKEN = "fake-auth-token-0123456789abcdef"


class FixedClock:
    """A clock that stands still until a test moves it."""

    def __init__(self, now: datetime | None = None) -> None:
        self.now = now or datetime(2026, 11, 27, 3, 0, tzinfo=UTC)  # 10:00 in Vietnam

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now = self.now + timedelta(**delta)
        return self.now


# --- a recording gateway --------------------------------------------------------------------


@dataclass
class Sent:
    """One message the recording gateway accepted."""

    sid: str
    to: str
    body: str
    at: datetime


@dataclass
class RecordingGateway:
    """An SMS gateway that remembers what it was asked to send; failures can be scripted."""

    name: str = "recording"
    max_concurrency: int = 4
    has_list: bool = True
    sent: list[Sent] = field(default_factory=list)
    # phone -> exceptions to raise, consumed one per send (the last one stays when sticky).
    scripted: dict[str, list[Exception]] = field(default_factory=dict)
    sticky: dict[str, Exception] = field(default_factory=dict)
    calls: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def fail_next(self, to: str, *errors: Exception) -> None:
        self.scripted.setdefault(to, []).extend(errors)

    def fail_always(self, to: str, error: Exception) -> None:
        self.sticky[to] = error

    def send(self, to: str, body: str) -> SendResult:
        with self.lock:
            self.calls += 1
            queue = self.scripted.get(to)
            if queue:
                raise queue.pop(0)
            if to in self.sticky:
                raise self.sticky[to]
            sid = "SM" + uuid.uuid4().hex
            self.sent.append(Sent(sid, to, body, datetime.now(UTC)))
            return SendResult(provider_sid=sid, status="queued", segments=analyse(body).segments)

    def find_sent(self, to: str, since: datetime) -> list[ProviderMessage] | None:
        if not self.has_list:
            return None
        with self.lock:
            return [
                ProviderMessage(s.sid, s.to, s.body, s.at, "sent")
                for s in reversed(self.sent)
                if s.to == to and s.at >= since
            ]

    def bodies(self) -> list[str]:
        return [s.body for s in self.sent]

    def to(self, phone: str) -> list[Sent]:
        return [s for s in self.sent if s.to == phone]


def transient(code: str = "20500") -> TransientGatewayError:
    return TransientGatewayError("try later", code=code)


def permanent(code: str = "21211", **kw: bool) -> PermanentGatewayError:
    return PermanentGatewayError("refused", code=code, **kw)


def uncertain() -> UncertainSendError:
    return UncertainSendError("no answer")


# --- a fake Twilio HTTP server --------------------------------------------------------------

ERRORS: dict[int, tuple[int, str]] = {
    21211: (400, "The 'To' number {to} is not a valid phone number."),
    21610: (400, "Attempt to send to unsubscribed recipient"),
    20429: (429, "Too Many Requests"),
    20500: (500, "Internal Server Error"),
    20003: (401, "Authenticate"),
    21602: (400, "Message body is required."),
    21603: (400, "The 'From' number is required."),
    21604: (400, "A 'To' phone number is required."),
}


class _QuietServer(ThreadingHTTPServer):
    """A server that does not print a traceback when a client it served was killed."""

    daemon_threads = True
    # socketserver's default backlog is 5: with two workers of 32 sends in flight each, the
    # fake itself would refuse connections, which Twilio's API does not.
    request_queue_size = 256

    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


def _rfc2822(moment: datetime) -> str:
    return format_datetime(moment.astimezone(UTC), usegmt=True)


class FakeTwilio:
    """A local HTTP server that behaves like Twilio's Messages API, in memory."""

    def __init__(
        self,
        *,
        account_sid: str = ACCOUNT_SID,
        auth_token: str = AUTH_TOKEN,
        latency_s: float = 0.0,
        port: int = 0,
    ) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.latency_s = latency_s
        self.lock = threading.Lock()
        self.messages: list[dict[str, Any]] = []
        self.requests: Counter[str] = Counter()
        # to -> error codes returned one per request; sticky ones forever.
        self.scripted: dict[str, list[int]] = {}
        self.sticky: dict[str, int] = {}
        self.list_error: int | None = None
        # Every send fails with this error code while it is set (a provider outage).
        self.outage: int | None = None
        self._server = _QuietServer(("127.0.0.1", port), self._handler())
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    # control ------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeTwilio:
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True, name="fake-twilio"
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeTwilio:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def fail_next(self, to: str, *codes: int) -> None:
        with self.lock:
            self.scripted.setdefault(to, []).extend(codes)

    def fail_always(self, to: str, code: int) -> None:
        with self.lock:
            self.sticky[to] = code

    def bodies(self) -> Counter[str]:
        with self.lock:
            return Counter(m["body"] for m in self.messages)

    def by_sid(self) -> dict[str, dict[str, Any]]:
        with self.lock:
            return {m["sid"]: m for m in self.messages}

    def sent_to(self, to: str) -> list[dict[str, Any]]:
        with self.lock:
            return [m for m in self.messages if m["to"] == to]

    # the API ------------------------------------------------------------------------------

    def _messages_path(self) -> str:
        return f"/2010-04-01/Accounts/{self.account_sid}/Messages.json"

    def _error(self, code: int, **fmt: str) -> tuple[int, dict[str, Any]]:
        status, text = ERRORS[code]
        return status, {
            "code": code,
            "message": text.format(**fmt) if fmt else text,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        }

    def _authorized(self, header: str | None) -> bool:
        if not header or not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return False
        return user == self.account_sid and password == self.auth_token

    def create(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        to = form.get("To", "")
        if not to:
            return self._error(21604)
        if not form.get("Body"):
            return self._error(21602)
        if not form.get("From") and not form.get("MessagingServiceSid"):
            return self._error(21603)
        with self.lock:
            self.requests["create"] += 1
            queue = self.scripted.get(to)
            code = queue.pop(0) if queue else self.sticky.get(to)
            if self.outage is not None:
                code = self.outage
        if code is not None:
            return self._error(code, to=to)
        if not (to.startswith("+") and to[1:].isdigit() and 8 <= len(to) <= 16):
            return self._error(21211, to=to)
        now = datetime.now(UTC)
        sid = "SM" + uuid.uuid4().hex
        record = {
            "sid": sid,
            "account_sid": self.account_sid,
            "to": to,
            "from": form.get("From") or "+15005550006",
            "messaging_service_sid": form.get("MessagingServiceSid"),
            "body": form["Body"],
            "status": "queued" if not form.get("MessagingServiceSid") else "accepted",
            "num_segments": str(analyse(form["Body"]).segments),
            "num_media": "0",
            "direction": "outbound-api",
            "api_version": "2010-04-01",
            "price": None,
            "price_unit": "USD",
            "error_code": None,
            "error_message": None,
            "date_created": _rfc2822(now),
            "date_updated": _rfc2822(now),
            "date_sent": None,
            "uri": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}.json",
            "subresource_uris": {
                "media": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}/Media.json"
            },
            "status_callback": form.get("StatusCallback"),
        }
        with self.lock:
            self.messages.append(record)
        return 201, {k: v for k, v in record.items() if k != "status_callback"}

    def list(self, query: dict[str, str]) -> tuple[int, dict[str, Any]]:
        with self.lock:
            self.requests["list"] += 1
            if self.list_error is not None:
                return self._error(self.list_error)
            found = [
                m
                for m in reversed(self.messages)
                if (not query.get("To") or m["to"] == query["To"])
                and (not query.get("From") or m["from"] == query["From"])
            ]
        size = max(1, min(1000, int(query.get("PageSize") or 50)))
        page = int(query.get("Page") or 0)
        chunk = found[page * size : (page + 1) * size]
        base = self._messages_path()
        keep = {k: v for k, v in query.items() if k in ("To", "From")}
        next_uri = None
        if (page + 1) * size < len(found):
            next_uri = (
                base
                + "?"
                + urlencode(
                    {**keep, "PageSize": size, "Page": page + 1, "PageToken": f"PA{page + 1}"}
                )
            )
        return 200, {
            "messages": [{k: v for k, v in m.items() if k != "status_callback"} for m in chunk],
            "end": page * size + max(0, len(chunk) - 1),
            "first_page_uri": base + "?" + urlencode({**keep, "PageSize": size, "Page": 0}),
            "next_page_uri": next_uri,
            "previous_page_uri": None,
            "page": page,
            "page_size": size,
            "start": page * size,
            "uri": base + "?" + urlencode({**keep, "PageSize": size, "Page": page}),
        }

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body leave in separate writes; without this, Nagle's algorithm and
            # the client's delayed ACK add 40 ms to every reply.
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                return

            def _reply(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _route(self, method: str) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                if parts.path != fake._messages_path():
                    self._reply(404, {"code": 20404, "message": "not found", "status": 404})
                    return
                if not fake._authorized(self.headers.get("Authorization")):
                    self._reply(*fake._error(20003))
                    return
                if fake.latency_s:
                    time.sleep(fake.latency_s)
                if method == "POST":
                    if "application/x-www-form-urlencoded" not in (
                        self.headers.get("Content-Type") or ""
                    ):
                        self._reply(415, {"code": 415, "message": "form data only", "status": 415})
                        return
                    fields = parse_qs(raw.decode(), keep_blank_values=True)
                    form = {k: v[-1] for k, v in fields.items()}
                    self._reply(*fake.create(form))
                else:
                    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
                    self._reply(*fake.list(query))

            def do_POST(self) -> None:  # noqa: N802
                self._route("POST")

            def do_GET(self) -> None:  # noqa: N802
                self._route("GET")

        return Handler


# --- a TCP proxy that can be cut -------------------------------------------------------------


class CuttableProxy:
    """Forward a local port to ``upstream`` until cut; restore it on the same port.

    Cutting closes the listening socket and every open connection, so clients see what they
    would see when a database server stops: established connections reset, new ones refused.
    """

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.port = 0
        self._listener: socket.socket | None = None
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()

    def __enter__(self) -> CuttableProxy:
        self.restore()
        return self

    def __exit__(self, *exc: object) -> None:
        self.cut()

    def restore(self) -> None:
        """Listen again (on the same port after a cut) and forward new connections."""
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(
            target=self._accept, args=(listener,), daemon=True, name="proxy-accept"
        ).start()

    def cut(self) -> None:
        """Stop listening and reset every forwarded connection."""
        with self._lock:
            listener, self._listener = self._listener, None
            open_sockets, self._sockets = self._sockets, set()
        for sock in ([listener] if listener else []) + list(open_sockets):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # cut
            try:
                server = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            with self._lock:
                if self._listener is not listener:
                    client.close()
                    server.close()
                    return
                self._sockets |= {client, server}
            for source, target in ((client, server), (server, client)):
                threading.Thread(
                    target=self._pipe, args=(source, target), daemon=True, name="proxy-pipe"
                ).start()

    def _pipe(self, source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        finally:
            # One side ended: end both, so the other pipe's recv returns too.
            with self._lock:
                self._sockets -= {source, target}
            for sock in (source, target):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()


def main() -> None:
    """Serve the fake Twilio until interrupted (the benchmark runs it in its own process)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    args = parser.parse_args()
    fake = FakeTwilio(port=args.port, latency_s=args.latency_ms / 1000)
    print(fake.base_url, flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        fake._server.serve_forever()


if __name__ == "__main__":
    main()


def real_text(message, settings=None) -> str:  # type: ignore[no-untyped-def]
    """Return what the person receives: a waiting message's sealed text, else its body."""
    from volunteer_hub.services.messaging.sealing import unseal
    from volunteer_hub.services.messaging.settings import sms_settings

    if message.sealed_body is None:
        return message.body
    text = unseal(message.sealed_body, sms_settings(settings).sealing_keys)
    assert text is not None, "the test's key does not open the message"
    return text
