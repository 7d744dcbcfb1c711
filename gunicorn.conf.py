"""gunicorn's settings for volunteer_hub: ``gunicorn -c gunicorn.conf.py wsgi:app``.

Every value can be changed by the environment the systemd unit reads (deploy/volunteer-hub.env)
without editing this file. Requests are short and database-bound, so sync workers (pre-forked
processes) suit them; the planner and SMS sending run in the worker service, never here.
"""

from __future__ import annotations

import multiprocessing
import os

from volunteer_hub.logs import dict_config


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name) or default)


bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
# (2 × cores) + 1 is gunicorn's own starting point for sync workers.
workers = _int("GUNICORN_WORKERS", multiprocessing.cpu_count() * 2 + 1)
worker_class = "sync"
# A request that takes longer than this is killed (and logged): Excel exports of a province
# are the slowest pages, well under it.
timeout = _int("GUNICORN_TIMEOUT", 60)
# On SIGTERM (systemd stop, a deploy) workers finish their requests for up to this long.
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 30)
keepalive = 5
# Recycle workers now and then, so a slow leak never grows for weeks.
max_requests = _int("GUNICORN_MAX_REQUESTS", 2000)
max_requests_jitter = 200
# Load the app once in the master: workers fork with it ready and a bad setting stops the
# start instead of every worker failing in turn.
preload_app = True
# nginx sits in front on the same host (VH_PROXY_FIX=1); trust its X-Forwarded-* headers.
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1,::1")

# Logs: to stderr (journald keeps them), JSON with VH_LOG_FORMAT=json. The access log names the
# request id the app answered with, so an access line and the app's lines of one request match.
accesslog = "-"
errorlog = "-"
access_log_format = '%(h)s "%(r)s" %(s)s %(B)s %(M)sms request_id=%({x-request-id}o)s agent="%(a)s"'
logconfig_dict = dict_config(
    os.environ.get("VH_LOG_FORMAT", "text"), os.environ.get("VH_LOG_LEVEL", "INFO"), "web"
)
