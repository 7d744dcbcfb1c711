"""The load that bench/web_load.py puts on the app: one scenario per locust tag.

- ``healthz``: ``GET /healthz`` (one database round trip: the server's ceiling);
- ``form_page``: ``GET /request``, the household form as a phone loads it;
- ``form_submit``: a household's whole visit: the form page, then its post with the page's
  CSRF token and cookie (both timed; the post is the row that matters);
- ``status_webhook``: Twilio's delivery report, signed as Twilio signs it, for messages the
  benchmark stored beforehand.

Settings come from the environment the driver sets: ``VH_BENCH_COMMUNE``, ``VH_BENCH_SERVICES``,
``VH_BENCH_SIDS`` (comma-separated), ``VH_BENCH_AUTH_TOKEN`` and ``VH_BENCH_PUBLIC_URL``.
"""

from __future__ import annotations

import os
import random
import re
from urllib.parse import urlencode

from locust import FastHttpUser, between, tag, task
from twilio.request_validator import RequestValidator

CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
STATUSES = ("sent", "delivered", "delivered", "delivered", "undelivered")
NAMES = ("Nguyễn Thị Hoa", "Trần Văn Bình", "Lê Thị Mai", "Phạm Văn Tám", "Hoàng Thị Lan")


class Visitor(FastHttpUser):
    """One phone or one Twilio callback connection."""

    wait_time = between(0, 0.05)

    def on_start(self) -> None:
        self.commune = os.environ.get("VH_BENCH_COMMUNE", "")
        self.services = os.environ.get("VH_BENCH_SERVICES", "").split(",")
        self.sids = os.environ.get("VH_BENCH_SIDS", "").split(",")
        self.validator = RequestValidator(os.environ.get("VH_BENCH_AUTH_TOKEN", ""))
        self.status_url = os.environ.get("VH_BENCH_PUBLIC_URL", "") + "/webhooks/twilio/status"

    @tag("healthz")
    @task
    def healthz(self) -> None:
        self.client.get("/healthz", name="GET /healthz")

    @tag("form_page")
    @task
    def form_page(self) -> None:
        self.client.get("/request", name="GET /request")

    @tag("form_submit")
    @task
    def form_submit(self) -> None:
        page = self.client.get("/request", name="GET /request (before post)")
        found = CSRF.search(page.text or "")
        if not found:
            return
        # A new (valid, Vinaphone) number each time: the duplicate check looks, rarely matches.
        phone = "091" + "".join(random.choices("0123456789", k=7))  # noqa: S311
        form = {
            "csrf_token": found.group(1),
            "beneficiary_name": random.choice(NAMES),  # noqa: S311
            "age_group": "75_plus",
            "situations": "elderly_alone",
            "people_count": "1",
            "contact_is_beneficiary": "yes",
            "phone": phone,
            "commune": self.commune,
            "house": f"{random.randint(1, 200)} kiệt {random.randint(1, 90)} Lê Lợi",  # noqa: S311
            "services": random.sample(self.services, k=min(2, len(self.services))),  # noqa: S311
            "consent": "yes",
        }
        # Encoded here: the services field repeats, as a browser sends a checkbox group.
        body = urlencode(form, doseq=True)
        with self.client.post(
            "/request",
            data=body,
            name="POST /request",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            allow_redirects=False,
            catch_response=True,
        ) as response:
            if response.status_code != 302:
                response.failure(f"expected 302, got {response.status_code}")

    @tag("status_webhook")
    @task
    def status_webhook(self) -> None:
        params = {
            "MessageSid": random.choice(self.sids),  # noqa: S311
            "MessageStatus": random.choice(STATUSES),  # noqa: S311
            "AccountSid": "AC" + "f" * 32,
            "To": "+84901234567",
        }
        signature = self.validator.compute_signature(self.status_url, params)
        with self.client.post(
            "/webhooks/twilio/status",
            data=params,
            headers={"X-Twilio-Signature": signature},
            name="POST /webhooks/twilio/status",
            catch_response=True,
        ) as response:
            if response.status_code != 204:
                response.failure(f"expected 204, got {response.status_code}")
