"""For operators and their tools: readiness (``/readyz``) and Prometheus metrics (``/metrics``).

``/healthz`` (in :mod:`volunteer_hub.web.public`) stays the liveness check. ``/readyz`` says
whether this web process can serve (database, Redis) and whether a worker of each role has
beaten in the last minute; only the first two make it 503, since taking web replicas out of
the load balancer would not bring a dead worker back (alert on ``volunteer_hub_workers_live``
instead). ``/metrics`` is not public: a bearer token (``VH_METRICS_TOKEN``) or an address in
``VH_METRICS_ALLOW``; anyone else gets 404, as for a page that does not exist.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Iterator

from flask import Blueprint, Response, abort, current_app, jsonify, request
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.exc import SQLAlchemyError

from volunteer_hub.extensions import db, limiter
from volunteer_hub.services.health import ServiceState, database_ok, redis_ok, service_state
from volunteer_hub.services.workers import ROLES

bp = Blueprint("operations", __name__)

PREFIX = "volunteer_hub"


def _redis_uris() -> list[str]:
    config = current_app.config
    uris = [config.get("RATELIMIT_STORAGE_URI"), config.get("SMS_RATE_STORAGE_URI")]
    return sorted({str(u) for u in uris if u})


@bp.get("/readyz")
@limiter.exempt
def readyz():  # type: ignore[no-untyped-def]
    """Report the database, Redis and the workers of each role (503 only without the database)."""
    body: dict[str, object] = {}
    database = database_ok(db.session)
    body["database"] = "ok" if database else "error"
    checks = [redis_ok(uri) for uri in _redis_uris()]
    used = [c for c in checks if c is not None]
    redis = "not used" if not used else ("ok" if all(used) else "error")
    body["redis"] = redis
    if database:
        try:
            state = service_state(db.session, ROLES)
            body["workers"] = {role: state.live[role] for role in ROLES}
            missing = [role for role in ROLES if not state.live[role]]
            body["workers_missing"] = missing
        except SQLAlchemyError:
            db.session.rollback()
            body["workers"] = "unknown"
    # Only the database stops this process from serving: with Redis away the rate limits are
    # counted in-process (as /healthz says), so a 503 here would take every replica out of
    # rotation for an outage the site rides out.
    body["status"] = "error" if not database else "degraded" if redis == "error" else "ok"
    return jsonify(body), 200 if database else 503


def _allowed() -> bool:
    config = current_app.config
    token = str(config.get("METRICS_TOKEN") or "")
    given = request.headers.get("Authorization", "")
    if (
        token
        and given.startswith("Bearer ")
        and hmac.compare_digest(given[len("Bearer ") :].encode(), token.encode())
    ):
        return True
    try:
        address = ipaddress.ip_address(request.remote_addr or "")
    except ValueError:
        return False
    return any(address in network for network in config.get("METRICS_NETWORKS", ()))


class _StateCollector(Collector):
    """The service's state as gauges, read from the database at each scrape."""

    def __init__(self, state: ServiceState) -> None:
        self.state = state

    def collect(self) -> Iterator[Metric]:
        state = self.state
        outbox = GaugeMetricFamily(
            f"{PREFIX}_outbox_messages", "Outbox messages by status.", labels=["status"]
        )
        for status, count in sorted(state.outbox.items()):
            outbox.add_metric([status], count)
        yield outbox
        yield GaugeMetricFamily(
            f"{PREFIX}_outbox_due_messages",
            "Queued messages already due to be sent (the outbox depth).",
            value=state.due,
        )
        yield GaugeMetricFamily(
            f"{PREFIX}_outbox_oldest_due_age_seconds",
            "Age of the oldest queued message that is due (0 when none).",
            value=state.oldest_due_age_s,
        )
        plans = GaugeMetricFamily(
            f"{PREFIX}_plans", "Drive plans queued or running.", labels=["status"]
        )
        for status, count in sorted(state.plans.items()):
            plans.add_metric([status], count)
        yield plans
        live = GaugeMetricFamily(
            f"{PREFIX}_workers_live",
            "Workers of each role whose heartbeat is under a minute old.",
            labels=["role"],
        )
        for role in ROLES:
            live.add_metric([role], state.live.get(role, 0))
        yield live
        beats = GaugeMetricFamily(
            f"{PREFIX}_worker_heartbeat_age_seconds",
            "Seconds since each worker's last heartbeat.",
            labels=["worker", "roles"],
        )
        for name, roles, age in state.workers:
            beats.add_metric([name, ",".join(roles)], max(0.0, age))
        yield beats


@bp.get("/metrics")
@limiter.exempt
def metrics():  # type: ignore[no-untyped-def]
    """Serve the service's gauges in Prometheus's text format (token or allow-list only)."""
    if not _allowed():
        abort(404)
    try:
        state = service_state(db.session, ROLES)
    except SQLAlchemyError:
        db.session.rollback()
        abort(503)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_StateCollector(state))
    response = Response(generate_latest(registry), mimetype="text/plain")
    response.headers["Content-Type"] = "text/plain; version=0.0.4; charset=utf-8"
    response.headers["Cache-Control"] = "no-store"
    return response
