"""The front door of ``POST /slack/events``: nothing reaches Bolt that Slack did not sign and that is not well formed.

In order, on the raw bytes, before any decoding or parsing:
1. the body is capped while it is read (413), so a huge body costs no memory;
2. the timestamp must be a number within five minutes, and the ``v0=`` signature must match (401),
   checked with slack_sdk's own ``SignatureVerifier`` (https://api.slack.com/authentication/verifying-requests-from-slack);
3. only then is the body decoded and parsed, and it must be what Slack sends: UTF-8, a form
   (slash commands; interactivity with a ``payload=`` JSON object) or a JSON object (the Events
   API), nested no deeper than Slack's own payloads (400, 415).

Every refusal is a 4xx with a short reason and one INFO log line, never a traceback. What passes goes
to Bolt unchanged (Bolt checks the signature again: two locks, one key).
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qs

import structlog
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.signature import Clock, SignatureVerifier
from starlette.datastructures import Headers
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.arrival import arrived

__all__ = ["MAX_BODY_BYTES", "MAX_DEPTH", "FrontDoor"]

log = structlog.get_logger(__name__)

# Slack's largest real payloads (a view_submission of a 100-block modal with its state, a message
# with 50 blocks) stay well under this.
MAX_BODY_BYTES = 1_000_000
# Slack's payloads nest about 10 deep (view.state.values.block.action.selected_option...).
MAX_DEPTH = 32
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_SIGNATURE = re.compile(r"v0=[0-9a-f]{64}")


class Refused(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status, self.reason = status, reason


class FrontDoor:
    """ASGI middleware guarding one path; every other path passes straight through."""

    def __init__(
        self,
        app: ASGIApp,
        signing_secret: str,
        path: str,
        *,
        max_body: int = MAX_BODY_BYTES,
        clock: Clock | None = None,
    ) -> None:
        if not signing_secret.strip():
            raise ValueError("a signing secret is required to serve Slack over HTTP")
        self._app, self._path, self._max_body = app, path, max_body
        self._verifier = SignatureVerifier(signing_secret, clock or Clock())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != self._path or scope["method"] != "POST":
            await self._app(scope, receive, send)
            return
        arrived()  # deadlines for Slack's 3 seconds count from here (bot/start_in_time.py)
        headers = Headers(scope=scope)
        try:
            body = await self._read(headers, receive)
            self._check_signature(headers, body)
            check_shape(headers.get("content-type", ""), body)
        except Refused as refused:
            log.info("request.refused", status=refused.status, reason=refused.reason, path=self._path)
            await PlainTextResponse(refused.reason, status_code=refused.status)(scope, receive, send)
            return
        await self._app(scope, _replay(body, receive), send)

    async def _read(self, headers: Headers, receive: Receive) -> bytes:
        declared = headers.get("content-length")
        if declared is not None and (not declared.isascii() or not declared.isdigit()):
            raise Refused(400, "bad Content-Length")
        if declared is not None and int(declared) > self._max_body:
            raise Refused(413, f"body over {self._max_body} bytes")
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise Refused(400, "the client went away")
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self._max_body:
                raise Refused(413, f"body over {self._max_body} bytes")
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    def _check_signature(self, headers: Headers, body: bytes) -> None:
        timestamp = headers.get("x-slack-request-timestamp", "")
        signature = headers.get("x-slack-signature", "")
        # Checked for shape first: the verifier calls int() on the timestamp and decodes the body.
        if not _TIMESTAMP.fullmatch(timestamp) or not _SIGNATURE.fullmatch(signature):
            raise Refused(401, "missing or malformed Slack signature headers")
        try:
            valid = self._verifier.is_valid(body=body, timestamp=timestamp, signature=signature)
        except UnicodeDecodeError:
            valid = False  # Slack signs UTF-8; other bytes cannot carry its signature
        if not valid:
            raise Refused(401, "invalid or expired Slack signature")


def check_shape(content_type: str, body: bytes) -> None:
    """A signed body must still be one Slack would send; raise Refused saying what is wrong."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise Refused(400, "the body is not UTF-8") from None
    media = content_type.split(";", 1)[0].strip().lower()
    if media == "application/json":
        _events_envelope(_json_object(text, "the body"))
    elif media == "application/x-www-form-urlencoded":
        try:
            form = parse_qs(text, keep_blank_values=True, strict_parsing=bool(text), max_num_fields=200)
        except ValueError:
            raise Refused(400, "the form is malformed") from None
        if "payload" in form:
            _json_object(form["payload"][0], "payload")
        elif "command" not in form and "ssl_check" not in form:
            raise Refused(400, "the form is neither a command nor an interactivity payload")
    else:
        raise Refused(415, "expected application/x-www-form-urlencoded or application/json")
    try:  # Bolt reads ids and response_urls out of every payload as it builds the request
        built = AsyncBoltRequest(body=text, headers={"content-type": content_type})
    except Exception:
        raise Refused(400, "the payload's fields are not of the types Slack sends") from None
    # Bolt's authorization passes these to auth.test and the installation store as they are.
    for name in ("team_id", "enterprise_id", "user_id", "channel_id"):
        if not isinstance(built.context.get(name), str | None):
            raise Refused(400, f"the payload's {name.replace('_id', '')} id is not a string")


# The Events API's envelopes (https://api.slack.com/apis/events-api#callback-field): the fields each
# must carry as strings. Anything else Slack does not send over the Events API.
_ENVELOPES = {
    "url_verification": ("challenge",),
    "event_callback": ("team_id", "api_app_id", "event_id"),
    "app_rate_limited": ("team_id", "api_app_id"),
}


def _events_envelope(value: dict[str, Any]) -> None:
    kind = value.get("type")
    if kind not in _ENVELOPES:
        raise Refused(400, f"the body: type must be one of {', '.join(_ENVELOPES)}")
    missing = [name for name in _ENVELOPES[kind] if not isinstance(value.get(name), str) or not value[name]]
    if missing:
        raise Refused(400, f"the body: {kind} needs {' and '.join(missing)} as text")
    authorizations = value.get("authorizations")
    if authorizations is not None and not (
        isinstance(authorizations, list) and all(isinstance(item, dict) for item in authorizations)
    ):
        raise Refused(400, "the body: authorizations must be a list of objects")


def _json_object(text: str, what: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        raise Refused(400, f"{what} is not valid JSON") from None
    if not isinstance(value, dict):
        raise Refused(400, f"{what} must be a JSON object")
    if depth(value) > MAX_DEPTH:
        raise Refused(400, f"{what} is nested deeper than {MAX_DEPTH} levels")
    _bolt_shape(value, what)
    return value


# The parts of a payload Bolt indexes without checking them first (slack_bolt.request.payload_utils):
# by type, the key that must hold an object with these string keys, or a non-empty list of objects.
_BOLT_OBJECTS = {
    "view_submission": ("view", ("type", "callback_id")),
    "view_closed": ("view", ("type", "callback_id")),
    "event_callback": ("event", ("type",)),
}
_BOLT_LISTS = {"block_actions": "actions", "interactive_message": "actions"}


def _bolt_shape(value: dict[str, Any], what: str) -> None:
    """What Bolt takes for granted in a payload of each type (else it fails with a 500 before any listener)."""
    kind = value.get("type")
    if kind is not None and not isinstance(kind, str):
        raise Refused(400, f"{what}: type must be a string")
    if kind in _BOLT_OBJECTS:
        key, fields = _BOLT_OBJECTS[kind]
        inner = value.get(key)
        if not isinstance(inner, dict) or not all(isinstance(inner.get(name), str) for name in fields):
            raise Refused(400, f"{what}: {kind} needs {key} with {' and '.join(fields)}")
    elif kind in _BOLT_LISTS:
        items = value.get(_BOLT_LISTS[kind])
        if not isinstance(items, list) or not items or not all(isinstance(item, dict) for item in items):
            raise Refused(400, f"{what}: {kind} needs a list of {_BOLT_LISTS[kind]}")


def depth(value: Any) -> int:
    """How deeply lists and objects nest, without recursion (a hostile payload must not blow the stack)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            children = list(item.values())
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, level)
        if deepest > MAX_DEPTH:
            break
        stack.extend((child, level + 1) for child in children)
    return deepest


def _replay(body: bytes, receive_more: Receive) -> Receive:
    """A receive() that hands the already-read body on, then waits for the client as usual."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive_more()

    return receive
