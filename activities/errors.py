"""Which failures are worth retrying, and how the rest reach a person.

Activities raise:
- ``ConfigError``: a setting is missing or wrong; raised at start-up, before any run begins.
- ``ApplicationError(non_retryable=True)`` (via :func:`permanent`): retrying cannot help
  (401 bad key, 400 bad request, a refused address); the message says what to fix.
- ``ApplicationError(next_retry_delay=...)`` (via :func:`rate_limited`): the service asked us to wait,
  for at most ``MAX_RETRY_AFTER`` seconds (less for a page: ``PAGE_RETRY_AFTER``). Temporal does not
  bound ``next_retry_delay`` by the retry policy's maximum interval, so an outside server's
  ``Retry-After: 100000000`` would otherwise park a run for years.
- anything else: transient; Temporal retries it under the activity's retry policy.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

import httpx
from temporalio.exceptions import ApplicationError

from core.errors import ConfigError

__all__ = [
    "MAX_RETRY_AFTER",
    "PAGE_RETRY_AFTER",
    "ConfigError",
    "permanent",
    "raise_for_status",
    "rate_limited",
    "retry_after_seconds",
]

MAX_RETRY_AFTER = 60.0  # a search or model provider, or Slack: longer waits are retried sooner
PAGE_RETRY_AFTER = 30.0  # a web page; one that keeps refusing is "could not read" (workflows/calls.READ)


def permanent(message: str, *, type: str = "Permanent") -> ApplicationError:
    return ApplicationError(message, type=type, non_retryable=True)


def rate_limited(service: str, seconds: float, *, cap: float = MAX_RETRY_AFTER) -> ApplicationError:
    """The failure for a 429: retried after ``seconds``, never more than ``cap``."""
    wait = min(max(seconds, 0.1), cap) if math.isfinite(seconds) else cap
    asked = f" (it asked for {seconds:g}s)" if wait < seconds else ""
    return ApplicationError(
        f"{service} is rate limiting us; retrying in {wait:g}s{asked}",
        type="RateLimited",
        next_retry_delay=timedelta(seconds=wait),
    )


def retry_after_seconds(response: httpx.Response, default: float = 5.0) -> float:
    """The response's Retry-After in seconds (a number or an HTTP date); ``default`` when absent or
    unreadable."""
    value = response.headers.get("retry-after")
    if value is None:
        return default
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds()
        except (TypeError, ValueError, OverflowError):
            return default
    return seconds if not math.isnan(seconds) else default


def raise_for_status(service: str, response: httpx.Response) -> None:
    """Map an HTTP error answer to the right kind of failure; do nothing on success."""
    status = response.status_code
    if status < 400:
        return
    detail = response.text[:300].strip()
    if status == 429:
        raise rate_limited(service, retry_after_seconds(response))
    if status in (401, 403):
        raise permanent(
            f"{service} refused our credentials (HTTP {status}); check its API key setting",
            type="Unauthorized",
        )
    if status in (400, 404, 405, 413, 422):
        raise permanent(f"{service} rejected the request (HTTP {status}): {detail}", type="BadRequest")
    raise ApplicationError(f"{service} failed with HTTP {status}: {detail}", type="Transient")
