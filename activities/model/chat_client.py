"""A small client for any OpenAI-compatible chat-completions endpoint (OpenAI, Ollama, vLLM, llama.cpp...).

Answers are streamed (server-sent events), so a slow model that keeps producing tokens is never cut
short: the wait for the first token is bounded by ``timeout`` (LLM_TIMEOUT_SECONDS: connecting, and
reading the prompt), and after it only silence is, ``silence`` seconds without an event
(LLM_SILENCE_SECONDS). A server that refuses to stream (a 400 naming stream) or answers with a plain
JSON body is asked without streaming from then on, where ``timeout`` bounds each read as before.

Failures come out as the kinds :mod:`activities.errors` documents: a 429 carries the server's
Retry-After as ``next_retry_delay``; a bad key or a bad request is non-retryable and says which
setting to fix; an unreachable server, a silent one, is retryable and says which setting to look at; a
prompt over the model's context window is :class:`PromptTooLong` (non-retryable as is: cut it first).
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from typing import Any
from urllib.parse import urlsplit

import httpx
import structlog
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.errors import permanent, raise_for_status
from activities.model.chat_stream import Completion, StreamedAnswer, estimate_usage, reported_usage, sse_events

__all__ = ["SILENCE_SECONDS", "SPEED_METRIC", "ChatClient", "Completion", "PromptTooLong", "prompt_too_long"]

log = structlog.get_logger(__name__)

SILENCE_SECONDS = 60.0  # LLM_SILENCE_SECONDS's default
SPEED_METRIC = "research_llm_tokens_per_second"  # a gauge by model, on the worker's Prometheus endpoint
_CONTEXT = re.compile(
    r"context[ _](?:length|size|window)|maximum context|exceed_context_size|\bn_ctx\b|prompt is too long", re.I
)
_LIMIT = re.compile(
    r"\"n_ctx\"\s*:\s*(\d+)|maximum context length (?:is |\()?(\d+)|context (?:length|size|window) of (?:only )?(\d+)"
    r"|> (\d+) maximum",
    re.I,
)
_REQUESTED = re.compile(
    r"\"n_prompt_tokens\"\s*:\s*(\d+)|you requested (\d+) tokens|request has (\d+) input tokens"
    r"|prompt is too long: (\d+) tokens",
    re.I,
)


class PromptTooLong(ApplicationError):
    """The server refused the prompt as longer than the model's context window. Retrying it as is cannot
    help (non-retryable); the caller cuts it and asks again. ``limit`` is the window and ``requested`` the
    tokens asked for, when the server's answer says them."""

    def __init__(self, service: str, detail: str, *, limit: int | None = None, requested: int | None = None) -> None:
        window = f"its {limit}-token context window" if limit else "its context window"
        asked = f" ({requested} tokens)" if requested else ""
        super().__init__(
            f"the {service} refused a prompt{asked} longer than {window}; set LLM_CONTEXT_TOKENS to the "
            f"model's window so prompts are cut to fit. It said: {detail[:300]}",
            type="PromptTooLong",
            non_retryable=True,
        )
        self.limit = limit
        self.requested = requested


def prompt_too_long(service: str, detail: str) -> PromptTooLong | None:
    """The PromptTooLong that an error body says (OpenAI's, vLLM's, llama.cpp's words), else None."""
    if not _CONTEXT.search(detail):
        return None
    limit, requested = _first_number(_LIMIT, detail), _first_number(_REQUESTED, detail)
    return PromptTooLong(service, detail, limit=limit, requested=requested)


class ChatClient:
    """POSTs to ``{base_url}/chat/completions``; base_url is like ``https://api.openai.com/v1``.

    ``timeout`` (LLM_TIMEOUT_SECONDS; None: the httpx client's read timeout) bounds the wait for the first
    streamed token, or each read of an answer not streamed; ``silence`` bounds the wait between events."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        base_url: str,
        api_key: str | None,
        *,
        timeout: float | None = None,
        silence: float = SILENCE_SECONDS,
        max_tokens: int = 4096,
        stream: bool = True,
    ) -> None:
        self._client = client
        self._max_tokens = max_tokens
        self._url = base_url.rstrip("/") + "/chat/completions"
        self._api_key = api_key or None
        connect = client.timeout.connect
        self._timeout: Any = httpx.USE_CLIENT_DEFAULT if timeout is None else httpx.Timeout(timeout, connect=connect)
        self._first_token = client.timeout.read if timeout is None else timeout
        self._silence = silence
        # Our own deadlines bound the reads of a stream; httpx only bounds connecting.
        self._stream_timeout = httpx.Timeout(None, connect=connect)
        self._stream = stream
        parts = urlsplit(base_url)
        self.host = parts.hostname or base_url
        if parts.port:
            self.host = f"{self.host}:{parts.port}"
        self.service = f"LLM at {self.host}"

    async def complete(
        self, messages: list[dict], model: str, *, json_mode: bool = False, max_tokens: int | None = None
    ) -> Completion:
        # A bound on every answer: a model that rambles must not spend the run's budget in one call. A caller
        # may ask for less (a small context window cannot hold LLM_MAX_TOKENS of answer).
        limit = min(max_tokens, self._max_tokens) if max_tokens else self._max_tokens
        body: dict[str, Any] = {"model": model, "messages": messages, "max_tokens": limit}
        if json_mode:
            body["response_format"] = {"type": "json_object"}
        while True:  # each fallback below removes what the server refused, so this ends
            stream = self._stream
            started = time.monotonic()
            result = await (self._streamed(body, model) if stream else self._post(body))
            if isinstance(result, Completion):
                return self._report(result)
            response = result
            if response.is_success:
                if stream:
                    self._stop_streaming("it answered a stream request with a plain JSON body")
                completion = self._parse(response, model, messages)
                return self._report(completion.model_copy(update={"generation_seconds": time.monotonic() - started}))
            refused = response.status_code in (400, 422)
            if refused and (too_long := prompt_too_long(self.service, response.text)):
                raise too_long
            if refused and "max_completion_tokens" in response.text and "max_tokens" in body:
                # OpenAI's reasoning models take the same bound under its newer name.
                body["max_completion_tokens"] = body.pop("max_tokens")
            elif refused and stream and "stream" in response.text.lower():
                self._stop_streaming(f"it refused streaming (HTTP {response.status_code})")
            elif refused and "response_format" in body:
                # Many local servers have no JSON mode; the prompts ask for JSON in words anyway.
                log.warning("llm.json_mode_refused", host=self.host, status=response.status_code)
                del body["response_format"]
            else:
                self._raise_for_status(response)

    def _stop_streaming(self, why: str) -> None:
        """Ask this server without streaming from now on (said once: the client remembers). Its answers'
        length is then bounded by LLM_TIMEOUT_SECONDS for each read, as before streaming."""
        self._stream = False
        log.warning("llm.stream_refused", host=self.host, reason=why)

    async def _streamed(self, body: dict[str, Any], model: str) -> Completion | httpx.Response:
        """The streamed answer, or the server's answer when it is not a stream (an error, a plain body)."""
        request = {**body, "stream": True, "stream_options": {"include_usage": True}}
        answer = StreamedAnswer(model, time.monotonic())
        try:
            async with asyncio.timeout(self._first_token) as deadline:
                async with self._client.stream(
                    "POST", self._url, json=request, headers=self._headers(), timeout=self._stream_timeout
                ) as response:
                    if not response.is_success or "text/event-stream" not in response.headers.get("content-type", ""):
                        await response.aread()
                        return response
                    async for event in sse_events(response):  # read to the end, so the connection is reused
                        deadline.reschedule(asyncio.get_running_loop().time() + self._silence)
                        if event == "[DONE]":
                            answer.done = True
                        elif not answer.done:
                            self._take(answer, event)
        except TimeoutError as exc:
            if answer.done:  # all said, but the server kept the stream open
                return answer.completion(body["messages"])
            answer.charge(body["messages"])
            raise self._silent(answer) from exc
        except httpx.HTTPError as exc:
            answer.charge(body["messages"])
            raise self._transport_error(exc) from exc
        if answer.finish_reason is None and not answer.done:
            answer.charge(body["messages"])
            raise ApplicationError(
                f"the {self.service} ended its stream before the answer did ({answer.events} events)",
                type="StreamCut",
            )
        return answer.completion(body["messages"])

    def _take(self, answer: StreamedAnswer, event: str) -> None:
        """One event of the stream: a chunk of the answer, its usage, or an error the server sends mid-stream."""
        try:
            chunk = json.loads(event)
        except ValueError as exc:
            raise ApplicationError(
                f"the {self.service} streamed something that is not a chat completion chunk: {event[:200]!r}",
                type="BadResponse",
            ) from exc
        if not isinstance(chunk, dict):
            raise ApplicationError(f"the {self.service} streamed {event[:200]!r}", type="BadResponse")
        if "error" in chunk:
            if too_long := prompt_too_long(self.service, event):
                raise too_long
            raise ApplicationError(f"the {self.service} failed mid-answer: {event[:300]}", type="Transient")
        answer.add(chunk)

    def _silent(self, answer: StreamedAnswer) -> ApplicationError:
        if answer.first_at is None:
            return ApplicationError(
                f"the {self.service} sent nothing within {self._first_token:g}s (LLM_TIMEOUT_SECONDS, the wait "
                "for the first token, reading the prompt included); a slow local model may need more, "
                "or check OPENAI_BASE_URL",
                type="Timeout",
            )
        return ApplicationError(
            f"the {self.service} went silent: nothing for {self._silence:g}s after {answer.events} events "
            "(LLM_SILENCE_SECONDS); the model or its server stopped answering",
            type="Timeout",
        )

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}

    async def _post(self, body: dict[str, Any]) -> httpx.Response:
        try:
            return await self._client.post(self._url, json=body, headers=self._headers(), timeout=self._timeout)
        except httpx.HTTPError as exc:
            raise self._transport_error(exc) from exc

    def _transport_error(self, exc: httpx.HTTPError) -> ApplicationError:
        if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout):
            return ApplicationError(
                f"could not reach the {self.service} ({type(exc).__name__}: {exc}); "
                "check OPENAI_BASE_URL and that the server is running",
                type="Unreachable",
            )
        if isinstance(exc, httpx.TimeoutException):
            return ApplicationError(
                f"the {self.service} did not answer in time ({type(exc).__name__}); "
                "a slow local model may need a larger LLM_TIMEOUT_SECONDS, "
                "or check OPENAI_BASE_URL",
                type="Timeout",
            )
        return ApplicationError(
            f"the connection to the {self.service} failed ({type(exc).__name__}: {exc}); check OPENAI_BASE_URL",
            type="Unreachable",
        )

    def _raise_for_status(self, response: httpx.Response) -> None:
        status = response.status_code
        if status in (401, 403):
            hint = (
                "OPENAI_API_KEY is not set but this server requires one"
                if self._api_key is None
                else "check OPENAI_API_KEY"
            )
            raise permanent(
                f"{self.service} refused our credentials (HTTP {status}): {hint}",
                type="Unauthorized",
            )
        try:
            raise_for_status(self.service, response)
        except ApplicationError as exc:
            if status == 404:
                raise permanent(
                    f"{exc.message}; check OPENAI_BASE_URL (it usually ends in /v1) "
                    "and that LLM_MODEL names a model this server has",
                    type="NotFound",
                ) from None
            raise

    def _parse(self, response: httpx.Response, model: str, messages: list[dict]) -> Completion:
        try:
            data = response.json()
            choice = data["choices"][0]
            text = choice["message"].get("content") or ""
        except (ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
            raise ApplicationError(
                f"the {self.service} answered HTTP {response.status_code} with something that "
                f"is not a chat completion: {response.text[:200]!r}",
                type="BadResponse",
            ) from exc
        usage = data.get("usage") if isinstance(data.get("usage"), dict) else None
        return Completion(
            text=text,
            usage=reported_usage(usage) if usage else estimate_usage(messages, text, 0),
            usage_estimated=not usage,
            model=data.get("model") or model,
            finish_reason=choice.get("finish_reason"),
        )

    def _report(self, completion: Completion) -> Completion:
        """Log how fast the model answered, and keep it as a gauge by model for /metrics."""
        speed = completion.tokens_per_second
        model = completion.model or "?"
        if speed is not None and activity.in_activity():
            gauge = activity.metric_meter().create_gauge_float(
                SPEED_METRIC, "completion tokens per second of generation, by model (the latest call)", "tokens/s"
            )
            gauge.set(speed, {"model": model})
        log.info(
            "llm.speed",
            host=self.host,
            model=model,
            streamed=completion.streamed,
            completion_tokens=completion.usage.completion_tokens,
            usage_estimated=completion.usage_estimated,
            first_token_seconds=_round(completion.first_token_seconds),
            generation_seconds=_round(completion.generation_seconds),
            tokens_per_second=_round(speed),
        )
        return completion


def _first_number(pattern: re.Pattern[str], text: str) -> int | None:
    match = pattern.search(text)
    return int(next(group for group in match.groups() if group)) if match else None


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)
