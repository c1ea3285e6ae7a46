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
answers each of ResearchBot's prompts (see ``activities.model.prompts.prompt_kind``).

Like the servers people run (see ``streaming``, ``pace``, ``stall_next`` and ``context_tokens``):

        llm.pace = 0.2                                # a slow CPU model: a streamed token every 0.2 s
        llm.stall_next(1, after=3)                    # the next answer stops after three tokens, silent
        FakeOpenAI(streaming="refuse")                # 400 naming stream; "ignore": a plain JSON answer
        FakeOpenAI(context_tokens=100, context_style="llamacpp")  # "openai", "vllm", "llamacpp", "ollama"

Tokens, for usage and the context window alike, are counted as four characters of the messages'
contents (``count_tokens``); a streamed answer is sent a word (with its trailing space) per chunk.

Endpoints: ``POST /v1/chat/completions`` (the real response shape: id, object, created, model,
choices[0].message.content, finish_reason, usage) and ``GET /v1/models``. Every request is
logged in ``requests`` (failed ones too). ``reply`` maps the request's messages to the answer
text; it runs in the server's thread. Failures queued with ``fail_next``/``drop_next`` are used
up in order, one per chat request, before any reply. Set ``refuse_json_mode`` to answer 400 to
requests that carry ``response_format`` (as many local servers do).

A request with ``"stream": true`` is answered in server-sent events as OpenAI sends them: a first chunk
with the role, one chunk per word, a last one with the finish_reason, then (with ``stream_options:
{"include_usage": true}`` and ``include_usage``) a chunk with no choices and the usage, then
``data: [DONE]``.

With ``context_tokens`` set, a prompt over it is refused as each server does: ``openai`` (prompt plus
``max_tokens`` over the window: 400, ``context_length_exceeded``), ``vllm`` (the same words in vLLM's
flat error body), ``llamacpp`` (prompt at or over the window: 400, ``exceed_context_size_error`` with
``n_prompt_tokens`` and ``n_ctx``), or ``ollama``: no error, the start of the prompt is silently dropped
until it fits and the model answers from the rest; the request's ``seen`` holds the messages as the
model read them and ``dropped_tokens`` what was cut. Each also says its window where that server does:
vLLM's ``max_model_len`` in ``GET /v1/models``, llama.cpp's ``GET /props`` (``default_generation_settings.
n_ctx``), Ollama's ``POST /api/show`` (``num_ctx`` in ``parameters``; ``model_info`` has the larger trained
length).
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
from typing import Any, Literal

from activities.model.prompts import prompt_kind

__all__ = ["FakeOpenAI", "ReceivedRequest", "agreeable_judge", "by_prompt_kind", "count_tokens", "echo_reply"]

Reply = Callable[[list[dict]], str]
ContextStyle = Literal["openai", "vllm", "llamacpp", "ollama"]
_WORD = re.compile(r"\S+\s*|\s+")

_ERRORS = {
    400: ("invalid_request_error", None, "Invalid request."),
    401: ("invalid_request_error", "invalid_api_key", "Incorrect API key provided: sk-te***st."),
    403: ("invalid_request_error", "unsupported_country_region_territory", "Forbidden."),
    404: ("invalid_request_error", "model_not_found", "The model does not exist."),
    429: ("requests", "rate_limit_exceeded", "Rate limit reached for requests."),
    500: ("server_error", None, "The server had an error while processing your request."),
    503: ("server_error", None, "The engine is currently overloaded, please try again later."),
}


def count_tokens(messages: list[dict]) -> int:
    """The fake's tokenizer: four characters of the messages' contents a token (rounded down)."""
    return sum(len(str(m.get("content", ""))) for m in messages) // 4


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
    seen: list[dict] | None = None  # the messages the model read, after an Ollama-style truncation
    dropped_tokens: int = 0  # what that truncation cut from the start


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
    streaming: Literal["sse", "refuse", "ignore"] = "sse"  # refuse: 400 naming stream; ignore: plain JSON
    pace: float = 0.0  # seconds between streamed tokens: a slow CPU model
    stall_seconds: float = 30.0  # how long a stalled answer holds its connection, silent, before closing it
    context_tokens: int | None = None  # the model's window, enforced as context_style says
    context_style: ContextStyle = "openai"
    requests: list[ReceivedRequest] = field(default_factory=list)
    _failures: deque[_Failure] = field(default_factory=deque, init=False, repr=False)
    _stalls: deque[int] = field(default_factory=deque, init=False, repr=False)
    _stopping: threading.Event = field(default_factory=threading.Event, init=False, repr=False)
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

    def stall_next(self, count: int = 1, *, after: int = 0) -> None:
        """The next ``count`` chat answers stop after ``after`` streamed tokens (a non-streamed one sends
        nothing) and stay silent, the connection open, for ``stall_seconds`` or until the server stops."""
        with self._lock:
            self._stalls.extend(after for _ in range(count))

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
        self._stopping.clear()
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
        self._stopping.set()  # wakes stalled answers
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

    def _next_stall(self) -> int | None:
        with self._lock:
            return self._stalls.popleft() if self._stalls else None

    def _over_window(self, body: dict, request: ReceivedRequest) -> tuple[list[dict], dict | None]:
        """The messages the model reads, and the error body when the server refuses them."""
        messages: list[dict] = body["messages"]
        if self.context_tokens is None:
            return messages, None
        window, prompt = self.context_tokens, count_tokens(messages)
        completion = int(body.get("max_tokens") or body.get("max_completion_tokens") or 0)
        if self.context_style == "llamacpp":
            if prompt < window:
                return messages, None
            message = "the request exceeds the available context size, try increasing it"
            error = {"code": 400, "message": message, "type": "exceed_context_size_error"}
            return messages, {"error": {**error, "n_prompt_tokens": prompt, "n_ctx": window}}
        if self.context_style == "ollama":
            if prompt <= window:
                return messages, None
            request.seen, request.dropped_tokens = _truncate_start(messages, window * 4), prompt - window
            return request.seen, None
        if prompt + completion <= window:
            return messages, None
        message = (
            f"This model's maximum context length is {window} tokens. However, you requested "
            f"{prompt + completion} tokens ({prompt} in the messages, {completion} in the completion). "
            "Please reduce the length of the messages or completion."
        )
        if self.context_style == "vllm":  # vLLM's flat error body
            return messages, {"object": "error", "message": message, "type": "BadRequestError", "code": 400}
        error = {"message": message, "type": "invalid_request_error", "param": "messages"}
        return messages, {"error": {**error, "code": "context_length_exceeded"}}

    def _usage(self, messages: list[dict], text: str) -> dict:
        prompt, completion = count_tokens(messages), len(text) // 4
        return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}

    def _chunks(self, body: dict, messages: list[dict], text: str) -> list[dict]:
        """The answer as OpenAI streams it: the role, a word a chunk, the finish_reason, then the usage."""
        usage = self.include_usage and bool((body.get("stream_options") or {}).get("include_usage"))
        head = {
            "id": f"chatcmpl-fake{len(self.requests)}",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": body.get("model") or self.model,
        }

        def chunk(delta: dict, finish: str | None = None) -> dict:
            out = {**head, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
            return {**out, "usage": None} if usage else out

        chunks = [chunk({"role": "assistant", "content": ""})]
        chunks += [chunk({"content": word}) for word in _WORD.findall(text)]
        chunks.append(chunk({}, "stop"))
        if usage:
            chunks.append({**head, "choices": [], "usage": self._usage(messages, text)})
        return chunks

    def _completion(self, body: dict, messages: list[dict] | None = None) -> dict:
        messages = (body.get("messages") or []) if messages is None else messages
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
            answer["usage"] = self._usage(messages, text)
        return answer


def _is_token(chunk: dict) -> bool:
    return bool(chunk["choices"] and chunk["choices"][0]["delta"].get("content"))


def _truncate_start(messages: list[dict], keep_chars: int) -> list[dict]:
    """Ollama's way with an over-long prompt: the last ``keep_chars`` characters, cut from the start."""
    kept: list[dict] = []
    for message in reversed(messages):
        content = str(message.get("content", ""))
        if keep_chars <= 0:
            break
        kept.insert(0, {**message, "content": content[-keep_chars:]})
        keep_chars -= len(content)
    return kept


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
            window, style = fake.context_tokens, fake.context_style
            if self.path.rstrip("/") == "/v1/models":
                model = {"id": fake.model, "object": "model", "created": 0, "owned_by": "fake"}
                if window and style == "vllm":
                    model["max_model_len"] = window
                if window and style == "llamacpp":
                    model["meta"] = {"n_ctx_train": window * 4}  # trained on more than the server's window
                self._send(200, {"object": "list", "data": [model]})
            elif self.path.rstrip("/") == "/props" and window and style == "llamacpp":
                self._send(200, {"default_generation_settings": {"n_ctx": window}, "total_slots": 1})
            else:
                self._send(404, _error(404, f"no route GET {self.path}"))

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = None
            request = self._record(body)
            if self.path.rstrip("/") == "/api/show" and fake.context_tokens and fake.context_style == "ollama":
                info = {"general.architecture": "llama", "llama.context_length": fake.context_tokens * 4}
                return self._send(200, {"model_info": info, "parameters": f"num_ctx {fake.context_tokens}"})
            if self.path.rstrip("/") != "/v1/chat/completions":
                return self._send(404, _error(404, f"no route POST {self.path}"))
            failure = fake._next_failure()
            if fake.delay:
                time.sleep(fake.delay)
            if failure is not None:
                return self._fail(failure)
            if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
                return self._send(400, _error(400, "'messages' is a required property"))
            stream = bool(body.get("stream")) and fake.streaming != "ignore"
            if stream and fake.streaming == "refuse":
                return self._send(400, _error(400, "'stream' is not supported by this server"))
            if fake.refuse_json_mode and "response_format" in body:
                return self._send(400, _error(400, "response_format is not supported"))
            messages, refusal = fake._over_window(body, request)
            if refusal is not None:
                return self._send(400, refusal)
            stall = fake._next_stall()
            try:
                answer = (
                    fake._chunks(body, messages, fake.reply(messages)) if stream else fake._completion(body, messages)
                )
            except Exception as exc:  # a broken reply function shows up as a server error
                return self._send(500, _error(500, f"reply function failed: {exc!r}"))
            if isinstance(answer, list):
                return self._stream(answer, stall)
            if stall is not None:
                return self._hold()
            self._send(200, answer)

        def _stream(self, chunks: list[dict], stall: int | None) -> None:
            """Server-sent events, in chunked transfer encoding; a stall stops after ``stall`` tokens."""
            try:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream; charset=utf-8")
                self.send_header("Cache-Control", "no-cache")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                for n, chunk in enumerate(chunks):
                    if stall is not None and n > stall:  # chunk 0 carries the role, no token
                        return self._hold()
                    if n > 1 and fake.pace and _is_token(chunk):
                        time.sleep(fake.pace)
                    self._write_chunk(f"data: {json.dumps(chunk)}\n\n".encode())
                self._write_chunk(b"data: [DONE]\n\n")
                self._write_chunk(b"")
            except (BrokenPipeError, ConnectionResetError):  # the client gave up on the answer
                self.close_connection = True

        def _write_chunk(self, data: bytes) -> None:
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()

        def _hold(self) -> None:
            """Say nothing more, the connection open, for stall_seconds (or until the server stops)."""
            fake._stopping.wait(fake.stall_seconds)
            self.close_connection = True

        def _fail(self, failure: _Failure) -> None:
            if failure.status is None:
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            headers = {}
            if failure.retry_after is not None:
                headers["Retry-After"] = f"{failure.retry_after:g}"
            self._send(failure.status, failure.body or _error(failure.status), headers)

        def _record(self, body: Any) -> ReceivedRequest:
            headers = {k.lower(): v for k, v in self.headers.items()}
            request = ReceivedRequest(self.command, self.path, headers, body)
            with fake._lock:
                fake.requests.append(request)
            return request

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
