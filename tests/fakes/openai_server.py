"""A fake OpenAI-compatible chat server on loopback, for tests that talk real HTTP.

    with FakeOpenAI(reply=lambda messages: "1. First?\\n2. Second?") as llm:
        settings = Settings(openai_base_url=llm.base_url, openai_api_key="sk-test")
        ...
        llm.fail_next(2, status=429, retry_after=1)   # the next two requests are rate limited
        llm.fail_next(1, status=500)                  # then one server error
        llm.drop_next(1)                              # then one connection closed without an answer
        llm.delay = 0.5                               # every answer waits half a second
        assert llm.requests[-1].headers["authorization"] == "Bearer sk-test"

``by_prompt_kind(plan=..., revision=..., draft=..., finalize=...)`` builds a reply function that
answers each of ResearchBot's prompts (see ``activities.prompts.prompt_kind``).

Endpoints: ``POST /v1/chat/completions`` (the real response shape: id, object, created, model,
choices[0].message.content, finish_reason, usage) and ``GET /v1/models``. Every request is
logged in ``requests`` (failed ones too). ``reply`` maps the request's messages to the answer
text; it runs in the server's thread. Failures queued with ``fail_next``/``drop_next`` are used
up in order, one per chat request, before any reply. Set ``refuse_json_mode`` to answer 400 to
requests that carry ``response_format`` (as many local servers do).
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from activities.prompts import prompt_kind

__all__ = ["FakeOpenAI", "ReceivedRequest", "agreeable_judge", "by_prompt_kind", "echo_reply"]

Reply = Callable[[list[dict]], str]

_ERRORS = {
    400: ("invalid_request_error", None, "Invalid request."),
    401: ("invalid_request_error", "invalid_api_key", "Incorrect API key provided: sk-te***st."),
    403: ("invalid_request_error", "unsupported_country_region_territory", "Forbidden."),
    404: ("invalid_request_error", "model_not_found", "The model does not exist."),
    429: ("requests", "rate_limit_exceeded", "Rate limit reached for requests."),
    500: ("server_error", None, "The server had an error while processing your request."),
    503: ("server_error", None, "The engine is currently overloaded, please try again later."),
}


def echo_reply(messages: list[dict]) -> str:
    """The default reply: names the last user message, so tests can see what was asked."""
    last = next((m for m in reversed(messages) if m.get("role") == "user"), {})
    return f"Fake answer to: {str(last.get('content', ''))[:200]}"


_CLAIM = re.compile(r"^Claim (\d+): .*?(?:<source n=\"(\d+)\">|\Z)", re.M | re.S)


def agreeable_judge(messages: list[dict]) -> str:
    """The judge of a model that finds every claim supported, by the first passage shown for it, and the
    question answered: for tests about something else than the judging."""
    user = str(messages[-1].get("content", ""))
    verdicts = [
        {"claim": int(n), "verdict": "supported", "sources": [int(source)] if source else []}
        for n, source in _CLAIM.findall(user)
    ]
    return json.dumps({"answers_question": True, "verdicts": verdicts})


def by_prompt_kind(default: Reply = echo_reply, **answers: str | Reply) -> Reply:
    """A reply function answering by ResearchBot's prompt kind (plan, revision, reflect, draft, finalize).

        FakeOpenAI(reply=by_prompt_kind(plan="1. A?\n2. B?", revision="NONE", draft=write_draft))

    Tell prompts apart this way, not by words in them: drafts carry page text, which says anything.
    The look for gaps after reading (reflect) finds none, and the claims' judge agrees with every claim
    (``agreeable_judge``), unless an answer for it is given.
    """
    answers.setdefault("reflect", "NONE")
    answers.setdefault("judge", agreeable_judge)
    answers.setdefault("second_opinion", '{"verdicts": []}')  # runs from before: refutes nothing unless told to

    def reply(messages: list[dict]) -> str:
        answer = answers.get(prompt_kind(messages) or "", default)
        return answer(messages) if callable(answer) else answer

    return reply


@dataclass
class ReceivedRequest:
    method: str
    path: str
    headers: dict[str, str]  # lower-cased names
    body: Any  # the parsed JSON body, or None


@dataclass
class _Failure:
    status: int | None  # None: close the connection without answering
    retry_after: float | None = None
    body: dict | None = None


@dataclass
class FakeOpenAI:
    """The fake server; start it with ``with FakeOpenAI() as llm`` (or ``start()``/``stop()``)."""

    reply: Reply = echo_reply
    model: str = "fake-model"
    delay: float = 0.0  # seconds to wait before every chat answer
    include_usage: bool = True
    refuse_json_mode: bool = False
    requests: list[ReceivedRequest] = field(default_factory=list)
    _failures: deque[_Failure] = field(default_factory=deque, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    _server: ThreadingHTTPServer | None = field(default=None, init=False, repr=False)
    _thread: threading.Thread | None = field(default=None, init=False, repr=False)

    # ------------------------------------------------------------ control

    def fail_next(
        self,
        count: int = 1,
        status: int = 500,
        *,
        retry_after: float | None = None,
        body: dict | None = None,
    ) -> None:
        """Answer the next ``count`` chat requests with ``status``, in OpenAI's error JSON shape
        (or ``body``), with a Retry-After header when ``retry_after`` is given."""
        with self._lock:
            self._failures.extend(_Failure(status, retry_after, body) for _ in range(count))

    def drop_next(self, count: int = 1) -> None:
        """Close the connection of the next ``count`` chat requests without answering."""
        with self._lock:
            self._failures.extend(_Failure(None) for _ in range(count))

    @property
    def chat_requests(self) -> list[ReceivedRequest]:
        return [r for r in self.requests if r.path.endswith("/chat/completions")]

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the fake OpenAI server is not running; use it as a context manager")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def base_url(self) -> str:
        """What OPENAI_BASE_URL should be set to."""
        return self.url + "/v1"

    # ------------------------------------------------------------ lifecycle

    def start(self) -> FakeOpenAI:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},  # so stop() returns quickly
            name="fake-openai",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # ------------------------------------------------------------ answering

    def _next_failure(self) -> _Failure | None:
        with self._lock:
            return self._failures.popleft() if self._failures else None

    def _completion(self, body: dict) -> dict:
        messages = body.get("messages") or []
        text = self.reply(messages)
        answer: dict[str, Any] = {
            "id": f"chatcmpl-fake{len(self.requests)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model") or self.model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": "stop",
                }
            ],
        }
        if self.include_usage:
            prompt = sum(len(str(m.get("content", ""))) for m in messages) // 4
            completion = len(text) // 4
            answer["usage"] = {
                "prompt_tokens": prompt,
                "completion_tokens": completion,
                "total_tokens": prompt + completion,
            }
        return answer


def _error(status: int, message: str | None = None) -> dict:
    kind, code, default = _ERRORS.get(status, ("server_error", None, f"HTTP {status}"))
    return {"error": {"message": message or default, "type": kind, "param": None, "code": code}}


def _handler_for(fake: FakeOpenAI) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
            pass

        def do_GET(self) -> None:
            self._record(None)
            if self.path.rstrip("/") == "/v1/models":
                model = {"id": fake.model, "object": "model", "created": 0, "owned_by": "fake"}
                self._send(200, {"object": "list", "data": [model]})
            else:
                self._send(404, _error(404, f"no route GET {self.path}"))

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = None
            self._record(body)
            if self.path.rstrip("/") != "/v1/chat/completions":
                return self._send(404, _error(404, f"no route POST {self.path}"))
            failure = fake._next_failure()
            if fake.delay:
                time.sleep(fake.delay)
            if failure is not None:
                return self._fail(failure)
            if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
                return self._send(400, _error(400, "'messages' is a required property"))
            if body.get("stream"):
                return self._send(400, _error(400, "the fake server does not stream"))
            if fake.refuse_json_mode and "response_format" in body:
                return self._send(400, _error(400, "response_format is not supported"))
            try:
                answer = fake._completion(body)
            except Exception as exc:  # a broken reply function shows up as a server error
                return self._send(500, _error(500, f"reply function failed: {exc!r}"))
            self._send(200, answer)

        def _fail(self, failure: _Failure) -> None:
            if failure.status is None:
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            headers = {}
            if failure.retry_after is not None:
                headers["Retry-After"] = f"{failure.retry_after:g}"
            self._send(failure.status, failure.body or _error(failure.status), headers)

        def _record(self, body: Any) -> None:
            headers = {k.lower(): v for k, v in self.headers.items()}
            with fake._lock:
                fake.requests.append(ReceivedRequest(self.command, self.path, headers, body))

        def _send(self, status: int, payload: dict, headers: dict | None = None) -> None:
            data = json.dumps(payload).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):  # the client is gone (a killed worker): nobody to answer
                self.close_connection = True

    return Handler
