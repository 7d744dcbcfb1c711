"""Secrets in SMS: phone codes and personal links are never kept readable in the outbox.

A message that carries a secret is stored twice: ``body``, the text with every secret masked
(``…/s/••••••••K7``), which is all the admin pages, exports, the audit log and the logs ever
see; and ``sealed_body``, the real text encrypted with Fernet (AES-128-CBC with an HMAC, from
the ``cryptography`` package), kept only while the message waits to be sent. It is erased once
the provider has the message, or the message failed for good or was cancelled.

The key is ``VH_MESSAGE_KEY``: one or more Fernet keys separated by commas, the first for new
messages and every one for reading (so a key can be rotated while messages wait). Without it,
a key is derived from ``VH_SECRET_KEY`` with HKDF, which suits development and tests; set it
in production so rotating the session secret never strands queued messages.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable, Mapping
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

#: A personal link's code as it appears in a message (``/s/<code>``).
LINK_CODE = re.compile(r"/s/([A-Za-z0-9]{8,32})")
MASK = "•"


class MessageKeyError(ValueError):
    """``VH_MESSAGE_KEY`` is not a list of Fernet keys; one line a person can act on."""


def derived_key(secret_key: str) -> bytes:
    """Return a Fernet key derived from the app's secret key (HKDF-SHA256)."""
    raw = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"volunteer_hub message key"
    ).derive(secret_key.encode())
    return base64.urlsafe_b64encode(raw)


def message_keys(config: Mapping[str, Any]) -> list[bytes]:
    """Return the Fernet keys from ``MESSAGE_KEY``, or the one derived from ``SECRET_KEY``."""
    text = str(config.get("MESSAGE_KEY") or "").strip()
    if not text:
        return [derived_key(str(config.get("SECRET_KEY") or ""))]
    keys = [k.strip().encode() for k in re.split(r"[,\s]+", text) if k.strip()]
    for key in keys:
        try:
            Fernet(key)
        except (ValueError, TypeError):
            raise MessageKeyError(
                "VH_MESSAGE_KEY must be Fernet keys (32 url-safe base64 bytes) separated by "
                "commas; make one with: python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())'"
            ) from None
    return keys


def _box(keys: Iterable[bytes]) -> MultiFernet:
    return MultiFernet([Fernet(k) for k in keys])


def seal(text: str, keys: Iterable[bytes]) -> str:
    """Encrypt a message's real text with the first key."""
    return _box(keys).encrypt(text.encode()).decode("ascii")


def unseal(token: str, keys: Iterable[bytes]) -> str | None:
    """Decrypt a sealed text with any of the keys; None when none opens it."""
    try:
        return _box(keys).decrypt(token.encode("ascii")).decode()
    except (InvalidToken, ValueError):
        return None


def mask_secret(secret: str) -> str:
    """Return a secret as people may see it: its last two characters when it is long."""
    if len(secret) >= 8:
        return MASK * (len(secret) - 2) + secret[-2:]
    return MASK * len(secret)


def secrets_in(body: str, extra: Iterable[str] = ()) -> list[str]:
    """Return the secrets of a message: every personal link code in it, and ``extra``."""
    found = [m.group(1) for m in LINK_CODE.finditer(body)]
    found += [s for s in extra if s and s in body]
    return list(dict.fromkeys(found))


def masked(body: str, secrets: Iterable[str]) -> str:
    """Return ``body`` with each secret masked (longest first, so none is left half-shown)."""
    for secret in sorted(set(secrets), key=len, reverse=True):
        body = body.replace(secret, mask_secret(secret))
    return body


def mask_links(text: str) -> str:
    """Mask every personal link code in a free text (a log line, an error message)."""
    return LINK_CODE.sub(lambda m: "/s/" + mask_secret(m.group(1)), text)
