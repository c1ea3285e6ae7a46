"""Which failures are worth retrying, and how the rest reach a person.

Activities raise:
- ``ConfigError``: a setting is missing or wrong; raised at start-up, before any run begins.
- ``ApplicationError(non_retryable=True)`` (via :func:`permanent`): retrying cannot help
  (401 bad key, 400 bad request, a refused address); the message says what to fix.
- ``ApplicationError(next_retry_delay=...)`` (via :func:`rate_limited`): the service asked us to wait.
- anything else: transient; Temporal retries it under the activity's retry policy.
"""

from __future__ import annotations

from datetime import timedelta

import httpx
from temporalio.exceptions import ApplicationError

from core.errors import ConfigError

__all__ = ["ConfigError", "permanent", "raise_for_status", "rate_limited", "retry_after_seconds"]


def permanent(message: str, *, type: str = "Permanent") -> ApplicationError:
    return ApplicationError(message, type=type, non_retryable=True)


def rate_limited(service: str, seconds: float) -> ApplicationError:
    return ApplicationError(
        f"{service} is rate limiting us; retrying in {seconds:g}s",
        type="RateLimited",
        next_retry_delay=timedelta(seconds=max(seconds, 0.1)),
    )


def retry_after_seconds(response: httpx.Response, default: float = 5.0) -> float:
    try:
        return float(response.headers.get("retry-after", default))
    except ValueError:
        return default


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
