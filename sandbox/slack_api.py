"""A local Slack Web API: the same requests, answers and error codes as slack.com/api, over a Workspace.

Point any Slack client at it (``AsyncWebClient(base_url=server.base_url, token=...)``).
Tests use :class:`SlackApiServer` as a context manager; it also injects the faults that
are hard to get from real Slack: rate limiting, and a response lost after Slack stored
the call's effect. With ``enforce_rate_limits=True`` it also limits each method as Slack's
tiers do (:data:`RATE_LIMITS`), answering HTTP 429 with Retry-After past the budget.
``/response/{token}`` serves response_urls like Slack's, and ``apps.connections.open`` with the
app-level token opens Socket Mode (:mod:`sandbox.socket_mode`).

Its callers are servers (the bot, the worker: slack_sdk), never a page in a browser, so ``/api/*``
answers only under this server's own Host and without an ``Origin`` (403, :mod:`sandbox.host_guard`),
and a POST body must be one Slack's Web API takes (https://docs.slack.dev/apis/web-api): a form
(``application/x-www-form-urlencoded``, or ``multipart/form-data`` as file uploads send it) or
``application/json`` with the token in ``Authorization``. Anything else, ``text/plain`` above all (what
a cross-site form or ``fetch`` may send without asking), is refused with 415 and Slack's
``invalid_post_type`` (``missing_post_type`` for a body without a type).
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import threading
import time
from collections import Counter, defaultdict, deque
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any, Literal
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.types import Receive, Scope, Send

from sandbox import assistant, canvases, files, methods, streams
from sandbox.asgi_server import AsgiServer
from sandbox.host_guard import refuse, servers_only
from sandbox.method_kit import SlackError, joined
from sandbox.socket_mode import LINK_PATH, SocketModeLink
from sandbox.state import RESPONSE_URL_USES, Workspace

SOCKET_MODE_OPEN = "apps.connections.open"
HOLD_SECONDS = 120.0  # the longest a held answer waits for its gate
# Every Web API method the sandbox answers, by Slack name; each module keeps its own table.
METHODS = joined(methods.METHODS, streams.METHODS, assistant.METHODS, canvases.METHODS, files.METHODS)

__all__ = ["RATE_LIMITS", "Call", "RateLimit", "SlackApiServer", "create_app"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Call:
    """One request the server received (its token left out)."""

    method: str
    params: dict[str, Any]
    # When it came: the benchmarks lay calls on a timeline.
    at: float = field(default_factory=time.perf_counter, compare=False)


@dataclass(frozen=True)
class RateLimit:
    """A token bucket: ``per_minute`` on average, ``burst`` at once; per workspace, or per channel."""

    per_minute: float
    burst: int
    per_channel: bool = False


# Slack's tiers, "per API method per workspace per app": https://docs.slack.dev/apis/web-api/rate-limits
# (Tier 3 "50+ per minute, sporadic bursts are welcome"; Tier 4 "100+ per minute, generous burst
# behavior"). The bursts are ours: Slack does not publish them.
TIER_2 = RateLimit(per_minute=20, burst=3)
TIER_3 = RateLimit(per_minute=50, burst=10)
TIER_4 = RateLimit(per_minute=100, burst=20)
RATE_LIMITS: dict[str, RateLimit] = {
    # Special: "one message per second per channel", short bursts allowed (same page, and
    # https://docs.slack.dev/reference/methods/chat.postMessage); its workspace-wide limit is not enforced.
    "chat.postMessage": RateLimit(per_minute=60, burst=4, per_channel=True),
    "chat.update": TIER_3,  # https://docs.slack.dev/reference/methods/chat.update
    "chat.postEphemeral": TIER_4,  # https://docs.slack.dev/reference/methods/chat.postEphemeral
    "chat.appendStream": TIER_4,  # https://docs.slack.dev/reference/methods/chat.appendStream ("Tier 4")
    "chat.stopStream": TIER_2,  # https://api.slack.com/methods/chat.stopStream ("Tier 2")
    # https://docs.slack.dev/reference/methods/chat.startStream: its tier was not in the pages we could
    # read; Tier 2 like stopStream, the stricter guess.
    "chat.startStream": TIER_2,
    "conversations.history": TIER_3,  # https://docs.slack.dev/reference/methods/conversations.history
    "conversations.replies": TIER_3,  # https://docs.slack.dev/reference/methods/conversations.replies
    "conversations.join": TIER_3,  # https://docs.slack.dev/reference/methods/conversations.join
    "conversations.info": TIER_3,  # https://docs.slack.dev/reference/methods/conversations.info
    "users.info": TIER_4,  # https://docs.slack.dev/reference/methods/users.info
    "views.open": TIER_4,  # https://docs.slack.dev/reference/methods/views.open
    "views.update": TIER_4,  # https://docs.slack.dev/reference/methods/views.update
    "files.getUploadURLExternal": TIER_4,  # https://docs.slack.dev/reference/methods/files.getUploadURLExternal
    "files.completeUploadExternal": TIER_4,  # https://docs.slack.dev/reference/methods/files.completeUploadExternal
    "files.info": TIER_4,  # https://docs.slack.dev/reference/methods/files.info
}


class _Bucket:
    def __init__(self, limit: RateLimit, now: float) -> None:
        self.rate, self.capacity = limit.per_minute / 60.0, float(limit.burst)
        self.tokens, self.last = self.capacity, now

    def take(self, now: float) -> float:
        """0 if a call may go now (and it is counted), else the seconds until one may."""
        self.tokens = min(self.capacity, self.tokens + (now - self.last) * self.rate)
        self.last = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate


@dataclass(frozen=True)
class _Fault:
    kind: Literal["rate_limit", "lose", "hold"]
    retry_after: int = 1
    how: Literal["disconnect", "error"] = "disconnect"
    reached: threading.Event | None = None  # hold: set once the call has taken effect
    gate: threading.Event | None = None  # hold: the answer waits for this


class _DroppedResponse(Exception):
    """Raised on purpose to cut a connection after the call's effect was stored."""


async def _cut_connection(scope: Scope, receive: Receive, send: Send) -> None:
    headers = [(b"content-type", b"application/json"), (b"content-length", b"64")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b'{"ok":', "more_body": True})
    raise _DroppedResponse()


def _not_a_dropped_response(record: logging.LogRecord) -> bool:
    return not (record.exc_info and isinstance(record.exc_info[1], _DroppedResponse))


JSON, FORM, MULTIPART = "application/json", "application/x-www-form-urlencoded", "multipart/form-data"


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def _unsupported_body(request: Request) -> Response | None:
    """A POST whose body is not one of Slack's (see the module's docstring); an empty one may omit its type."""
    media_type = _media_type(request)
    if request.method != "POST" or media_type in (JSON, FORM, MULTIPART):
        return None
    if not media_type and request.headers.get("content-length") == "0":
        return None
    return refuse(415, "invalid_post_type" if media_type else "missing_post_type")


def _multipart_fields(content_type: str, body: bytes) -> dict[str, str]:
    """A multipart form's text fields (files are left out: no method here takes one)."""
    message = BytesParser(policy=HTTP).parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + body)
    if not message.is_multipart():
        raise SlackError("invalid_form_data")
    fields: dict[str, str] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if isinstance(name, str) and part.get_filename() is None:
            fields[name] = (part.get_payload(decode=True) or b"").decode()
    return fields


async def _params(request: Request) -> dict[str, Any]:
    params: dict[str, Any] = dict(request.query_params)
    media_type = _media_type(request)
    if media_type == JSON:
        body = await request.body()
        data = json.loads(body) if body else {}
        if not isinstance(data, dict):
            raise SlackError("invalid_json")
        data.pop("token", None)  # with JSON, Slack takes the token only from Authorization
        params.update(data)
    elif media_type == FORM:
        params.update(parse_qsl((await request.body()).decode(), keep_blank_values=True))
    elif media_type == MULTIPART:
        params.update(_multipart_fields(request.headers["content-type"], await request.body()))
    return params


def create_app(
    workspace: Workspace, server: SlackApiServer | None = None, link: SocketModeLink | None = None
) -> Starlette:
    """The ASGI app: ``/api/{method}``, ``/response/{token}`` and the Socket Mode link, over ``workspace``."""
    link = link or SocketModeLink(workspace)

    async def api(request: Request) -> Any:
        name = request.path_params["method"]
        if unsupported := _unsupported_body(request):
            return unsupported
        try:
            params = await _params(request)
        except SlackError as error:
            return JSONResponse({"ok": False, "error": error.code})
        except json.JSONDecodeError:
            return JSONResponse({"ok": False, "error": "invalid_json"})
        except UnicodeDecodeError:
            return JSONResponse({"ok": False, "error": "invalid_charset"})
        body_token = params.pop("token", None)
        fault = server._record(name, params) if server else None
        wait = server._over_limit(name, params) if server and not fault else 0.0
        if (fault and fault.kind == "rate_limit") or wait:
            seconds = fault.retry_after if fault else max(1, math.ceil(wait))
            return JSONResponse(
                {"ok": False, "error": "ratelimited"}, status_code=429, headers={"Retry-After": str(seconds)}
            )
        header = request.headers.get("authorization", "")
        token = header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else body_token
        try:
            if not token:
                raise SlackError("not_authed")
            if token not in (workspace.bot_token, workspace.app_token):
                raise SlackError("invalid_auth")
            if (name == SOCKET_MODE_OPEN) != (token == workspace.app_token):
                raise SlackError("not_allowed_token_type")  # app-level tokens open sockets, and only that
            if name == SOCKET_MODE_OPEN:
                answer: dict[str, Any] = {"ok": True, "url": link.url(str(request.base_url))}
            elif name not in METHODS:
                raise SlackError("unknown_method")
            else:
                answer = {"ok": True, **METHODS[name](workspace, params)}
            if "upload_url" in answer:  # files.getUploadURLExternal: a URL on this server, as Slack's is on its
                answer["upload_url"] = str(request.base_url).rstrip("/") + answer["upload_url"]
            if isinstance(answer.get("file"), dict):  # files.info: its private URLs on this server
                answer["file"] = files.with_base(answer["file"], str(request.base_url))
        except SlackError as error:
            answer = {"ok": False, "error": error.code, **error.extra}
        except (ValueError, TypeError, AttributeError):  # a param of the wrong kind or form
            answer = {"ok": False, "error": "invalid_arguments"}
        if fault and fault.kind == "hold" and fault.reached and fault.gate:
            fault.reached.set()
            await asyncio.to_thread(fault.gate.wait, HOLD_SECONDS)
        if fault and fault.kind == "lose" and answer["ok"]:
            if fault.how == "error":
                return PlainTextResponse("Internal Server Error", status_code=500)
            return _cut_connection
        return JSONResponse(answer)

    async def respond(request: Request) -> JSONResponse:
        """A response_url: post JSON {text, blocks, response_type} to answer a command or action."""
        with workspace.lock:
            target = workspace.response_urls.get(request.path_params["token"])
            if target is None or target["uses"] >= RESPONSE_URL_USES:
                return JSONResponse({"ok": False, "error": "used_url" if target else "expired_url"}, status_code=404)
            target["uses"] += 1
        try:
            body = await request.json()
        except json.JSONDecodeError:
            return JSONResponse({"ok": False, "error": "invalid_payload"}, status_code=400)
        content = {"text": body.get("text", ""), "blocks": body.get("blocks")}
        if body.get("response_type") == "in_channel":
            workspace.post(target["channel"], **content)
        else:
            workspace.post_ephemeral(target["channel"], target["user"], **content)
        return JSONResponse({"ok": True})

    async def upload(request: Request) -> Response:
        """An upload URL from files.getUploadURLExternal: the file's bytes (sandbox/files.py)."""
        body = await request.body()
        status, text = files.receive_upload(
            workspace, request.path_params["secret"], request.headers.get("content-type", ""), body
        )
        return PlainTextResponse(text, status_code=status)

    async def private_file(request: Request) -> Response:
        """A file's url_private (sandbox/files.py): its bytes, for the bot's token only."""
        status, body = files.private_file(
            workspace, request.path_params["key"], request.headers.get("authorization", "")
        )
        media_type = "application/octet-stream" if status == 200 else "text/plain"
        return Response(body, status_code=status, media_type=media_type)

    return Starlette(
        routes=[
            Route("/api/{method}", servers_only(api), methods=["GET", "POST"]),
            Route(files.UPLOAD_PATH, servers_only(upload), methods=["POST"]),
            Route(files.PRIVATE_PATH, servers_only(private_file), methods=["GET"]),
            Route("/response/{token}", respond, methods=["POST"]),
            WebSocketRoute(LINK_PATH, link.serve),
        ]
    )


class SlackApiServer:
    """Serves a Workspace's Web API on 127.0.0.1 from a background thread.

    >>> with SlackApiServer() as slack:
    ...     client = AsyncWebClient(token=slack.workspace.bot_token, base_url=slack.base_url)
    """

    def __init__(
        self,
        workspace: Workspace | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        enforce_rate_limits: bool = False,
        rate_limits: dict[str, RateLimit] | None = None,
    ) -> None:
        self.workspace = workspace or Workspace()
        self.host, self.port = host, port
        self.calls: list[Call] = []
        # Off by default: the tests post far faster than Slack allows, on purpose, and the dev page
        # should not stall; the benchmarks and the tier tests switch it on.
        self.enforce_rate_limits = enforce_rate_limits
        self.rate_limits = RATE_LIMITS if rate_limits is None else rate_limits
        self.rate_limited: Counter[str] = Counter()  # 429s answered by the tier limits, per method
        self._buckets: dict[tuple[str, str], _Bucket] = {}
        self._faults: defaultdict[str, deque[_Fault]] = defaultdict(deque)
        self._lock = threading.Lock()
        self._serving: AsgiServer | None = None  # start()/stop(): served from a thread
        self.socket_mode = SocketModeLink(self.workspace)
        self.app = create_app(self.workspace, self, self.socket_mode)

    # ------------------------------------------------------------ addresses

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    @property
    def base_url(self) -> str:
        """What to give a Slack client as base_url: ``http://127.0.0.1:<port>/api/``."""
        return self.url + "api/"

    def response_url(self, channel_id: str, user_id: str) -> str:
        """A response_url for a command from ``user_id`` in ``channel_id``."""
        return f"{self.url}response/{self.workspace.issue_response_url_token(channel_id, user_id)}"

    # ------------------------------------------------------------ faults and calls

    def rate_limit(self, method: str, *, times: int = 1, retry_after: int = 1) -> None:
        """The next ``times`` calls of ``method`` answer HTTP 429 with ``Retry-After: retry_after``."""
        with self._lock:
            self._faults[method].extend([_Fault("rate_limit", retry_after=retry_after)] * times)

    def lose_response(self, method: str, *, times: int = 1, how: Literal["disconnect", "error"] = "disconnect") -> None:
        """The next ``times`` successful calls of ``method`` take effect, but their answer is lost:
        the connection is cut mid-response (``disconnect``) or the answer is HTTP 500 (``error``)."""
        with self._lock:
            self._faults[method].extend([_Fault("lose", how=how)] * times)

    def hold_response(self, method: str) -> tuple[threading.Event, threading.Event]:
        """The next call of ``method`` takes effect, then its answer waits until ``gate.set()``:
        a caller that dies meanwhile never learns that Slack has its message. Returns (reached, gate)."""
        reached, gate = threading.Event(), threading.Event()
        with self._lock:
            self._faults[method].append(_Fault("hold", reached=reached, gate=gate))
        return reached, gate

    def _record(self, method: str, params: dict[str, Any]) -> _Fault | None:
        with self._lock:
            self.calls.append(Call(method, params))
            return self._faults[method].popleft() if self._faults[method] else None

    def _over_limit(self, method: str, params: dict[str, Any]) -> float:
        """0 if the call is within its tier's budget (and counts against it), else seconds to wait."""
        limit = self.rate_limits.get(method)
        if not self.enforce_rate_limits or limit is None:
            return 0.0
        key = (method, str(params.get("channel") or "") if limit.per_channel else self.workspace.team_id)
        now = time.monotonic()
        with self._lock:
            bucket = self._buckets.setdefault(key, _Bucket(limit, now))
            wait = bucket.take(now)
            if wait:
                self.rate_limited[method] += 1
            return wait

    def calls_to(self, method: str) -> list[Call]:
        with self._lock:
            return [call for call in self.calls if call.method == method]

    # ------------------------------------------------------------ running

    @property
    def started(self) -> bool:
        return self._serving is not None and self._serving.started

    def start(self) -> SlackApiServer:
        logging.getLogger("uvicorn.error").addFilter(_not_a_dropped_response)
        self._serving = AsgiServer(self.app, host=self.host, port=self.port, name="slack-sandbox").start()
        self.port = self._serving.port
        return self

    def stop(self) -> None:
        if self._serving is not None:
            self._serving.stop()
            self._serving = None

    def __enter__(self) -> SlackApiServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
