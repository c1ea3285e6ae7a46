"""Slack's request signing, version 0: how Slack signs what it sends to a bot.

Slack computes ``HMAC-SHA256(signing_secret, "v0:{timestamp}:{raw body}")`` and sends it as
``X-Slack-Signature: v0=<hex digest>`` with ``X-Slack-Request-Timestamp: <unix seconds>``.
tests/data/slack/signing-vector.json holds Slack's worked example; the tests check this against it.
"""

from __future__ import annotations

import hashlib
import hmac
import time

__all__ = ["FORM", "signature", "signed_headers"]

FORM = "application/x-www-form-urlencoded"


def signature(secret: str, timestamp: int | str, body: str | bytes) -> str:
    """The ``X-Slack-Signature`` of ``body`` sent at ``timestamp``."""
    raw = body.encode() if isinstance(body, str) else body
    base = b"v0:" + str(timestamp).encode() + b":" + raw
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def signed_headers(
    secret: str, body: str | bytes, timestamp: int | str | None = None, content_type: str = FORM
) -> dict[str, str]:
    """The headers Slack sends with ``body``, signed at ``timestamp`` (now by default)."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    return {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": signature(secret, stamp, body),
    }
