"""Who a background process is, in the rows it claims (messages, plans)."""

from __future__ import annotations

import os
import socket


def worker_name() -> str:
    """Return this process's name in ``claimed_by`` (host and pid)."""
    return f"{socket.gethostname()}:{os.getpid()}"[:80]
