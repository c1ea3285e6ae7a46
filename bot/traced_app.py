"""The Bolt app with a span around each request Slack sends, the root of a run's trace (core/tracing.py).

A run's start (/research, a mention, a DM) happens inside the listener, before the ack, so Temporal's
``StartWorkflow`` span is this span's child and the worker's spans follow it. A decision click is a request
of its own, with its own trace: the workflow's ``HandleUpdate`` span joins the run's trace and links back to
the click (docs/operations.md#traces). The span names what was asked by its kind only: a command's name, a
button's action id, a modal's callback id, an event's type, and the Slack ids; never a message's text.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.util.types import AttributeValue
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse

from core import tracing

__all__ = ["TracedApp", "request_attributes", "request_name"]


class TracedApp(AsyncApp):
    """AsyncApp whose every dispatch, over HTTP or Socket Mode, is one SERVER span."""

    async def async_dispatch(self, req: AsyncBoltRequest) -> BoltResponse:
        body = req.body if isinstance(req.body, Mapping) else {}
        with tracing.span(request_name(body), request_attributes(body), kind=SpanKind.SERVER) as span:
            response = await super().async_dispatch(req)
            span.set_attribute("http.response.status_code", response.status)
            if response.status >= 500:
                span.set_status(Status(StatusCode.ERROR))
            return response


def request_name(body: Mapping[str, Any]) -> str:
    """``slack /research``, ``slack block_actions approve``, ``slack view_submission decision_modal``,
    ``slack event app_mention``."""
    if command := body.get("command"):
        return f"slack {command}"
    kind = str(body.get("type") or "request")
    if kind == "event_callback":
        return f"slack event {_dig(body, 'event', 'type') or ''}".rstrip()
    what = _first_action(body).get("action_id") or _dig(body, "view", "callback_id") or body.get("callback_id")
    return f"slack {kind} {what}" if what else f"slack {kind}"


def request_attributes(body: Mapping[str, Any]) -> dict[str, AttributeValue | None]:
    event = body.get("event") if isinstance(body.get("event"), Mapping) else {}
    return {
        "slack.request.type": "command" if body.get("command") else body.get("type"),
        "slack.command": body.get("command"),
        "slack.action_id": _first_action(body).get("action_id"),
        "slack.callback_id": _dig(body, "view", "callback_id"),
        "slack.event.type": event.get("type"),
        "slack.team_id": body.get("team_id") or _dig(body, "team", "id"),
        "slack.channel_id": body.get("channel_id") or _dig(body, "channel", "id") or event.get("channel"),
        "slack.user_id": body.get("user_id") or _dig(body, "user", "id") or event.get("user"),
    }


def _first_action(body: Mapping[str, Any]) -> Mapping[str, Any]:
    actions = body.get("actions")
    return actions[0] if isinstance(actions, list) and actions and isinstance(actions[0], Mapping) else {}


def _dig(body: Mapping[str, Any], outer: str, inner: str) -> Any:
    value = body.get(outer)
    return value.get(inner) if isinstance(value, Mapping) else None
