"""structlog set-up: readable console lines by default, JSON lines with LOG_FORMAT=json.

Values come from people and models (a question, a page title), so a console line escapes their control
characters: a newline in a question cannot start a forged log line, an ANSI escape cannot repaint the
terminal. JSON lines are escaped by the JSON encoder.

No secret reaches a log line, in either format: the values of the process's own secrets (tokens,
signing secret, API keys) and anything shaped like a Slack token or a response_url (30 minutes of
posting rights) are replaced by ``[redacted]``, in every value and in formatted tracebacks.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable, MutableMapping
from typing import Any

import structlog

# C0 controls, DEL, C1 controls and the Unicode line and paragraph separators.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_MULTILINE_KEYS = frozenset({"exception", "stack"})  # our own tracebacks keep their lines
# Slack tokens (https://docs.slack.dev/authentication/tokens/) and response_urls / incoming webhooks.
_SECRET_SHAPES = re.compile(
    r"\b(?:xox[abeoprs]|xapp)-[A-Za-z0-9-]{6,}"
    r"|https://hooks\.slack(?:-gov)?\.com/[^\s'\"<>]+"
    r"|https?://[^\s'\"<>]+/response/[^\s'\"<>]+"  # the sandbox's response_urls
)
_SECRET_KEYS = re.compile(r"(?i)(token|secret|password|api_key|response_url|authorization)")
REDACTED = "[redacted]"


class RedactSecrets:
    """A structlog processor: known secret values and secret-shaped text become ``[redacted]``."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets = sorted({s for s in secrets if len(s) >= 6}, key=len, reverse=True)

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return _SECRET_SHAPES.sub(REDACTED, text)

    def __call__(self, _: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        for key, value in event.items():
            # Numbers are counts and rates (prompt_tokens, tokens_per_second), never a secret.
            if _SECRET_KEYS.search(key) and value is not None and not isinstance(value, bool | int | float):
                event[key] = REDACTED
            elif isinstance(value, str):
                event[key] = self.redact(value)
        return event


def escape_control_characters(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key, value in event.items():
        if isinstance(value, str) and key not in _MULTILINE_KEYS and _CONTROL.search(value):
            event[key] = _CONTROL.sub(lambda match: match.group().encode("unicode_escape").decode("ascii"), value)
    return event


def configure_logging(log_format: str = "console", level: str = "INFO", secrets: Iterable[str] = ()) -> None:
    numeric_level = logging.getLevelName(level.upper())
    if not isinstance(numeric_level, int):
        numeric_level = logging.INFO
    # Tracebacks are formatted first, so the redaction reaches what an exception's message holds.
    scrub: list[structlog.typing.Processor] = [structlog.processors.format_exc_info, RedactSecrets(secrets)]
    renderers: list[structlog.typing.Processor] = (
        [*scrub, structlog.processors.JSONRenderer()]
        if log_format == "json"
        else [*scrub, escape_control_characters, structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())]
    )
    shared: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.make_filtering_bound_logger(numeric_level),
        cache_logger_on_first_use=True,
    )
    # Route the standard library's records (temporalio, uvicorn, slack_bolt) through the same renderer.
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *renderers],
            foreign_pre_chain=shared,
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(numeric_level)
    logging.getLogger("httpx").setLevel(max(numeric_level, logging.WARNING))
