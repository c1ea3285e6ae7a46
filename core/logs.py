"""structlog set-up: readable console lines by default, JSON lines with LOG_FORMAT=json.

Values come from people and models (a question, a page title), so a console line escapes their control
characters: a newline in a question cannot start a forged log line, an ANSI escape cannot repaint the
terminal. JSON lines are escaped by the JSON encoder.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

# C0 controls, DEL, C1 controls and the Unicode line and paragraph separators.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_MULTILINE_KEYS = frozenset({"exception", "stack"})  # our own tracebacks keep their lines


def escape_control_characters(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key, value in event.items():
        if isinstance(value, str) and key not in _MULTILINE_KEYS and _CONTROL.search(value):
            event[key] = _CONTROL.sub(lambda match: match.group().encode("unicode_escape").decode("ascii"), value)
    return event


def configure_logging(log_format: str = "console", level: str = "INFO") -> None:
    numeric_level = logging.getLevelName(level.upper())
    if not isinstance(numeric_level, int):
        numeric_level = logging.INFO
    renderers: list[structlog.typing.Processor] = (
        [structlog.processors.JSONRenderer()]
        if log_format == "json"
        else [escape_control_characters, structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())]
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
