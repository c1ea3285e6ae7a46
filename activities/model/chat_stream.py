"""A streamed chat completion as its server-sent events arrive (OpenAI's format: ``data: {...}`` chunks,
then ``data: [DONE]``), and the completion it makes: text, finish_reason, usage and speed."""

from __future__ import annotations

import math
import time
from collections.abc import AsyncIterator

import httpx
from pydantic import BaseModel

from activities.model import spend as spend
from workflows.models import TokenUsage

__all__ = ["Completion", "StreamedAnswer", "estimate_usage", "reported_usage", "sse_events"]

# When the server reports no usage: three characters a token, fewer than most tokenizers' four for
# English, so an estimate errs high and a budget is not overspent on it.
_CHARS_PER_TOKEN = 3


class Completion(BaseModel):
    """One chat completion: the assistant's text, what it cost and how fast it came."""

    text: str
    usage: TokenUsage
    model: str | None = None
    finish_reason: str | None = None
    usage_estimated: bool = False  # the server sent no usage: counted from the text (see estimate_usage)
    streamed: bool = False
    first_token_seconds: float | None = None  # streamed: from the request to the first event
    generation_seconds: float | None = None  # streamed: from the first event to the last; else the whole call

    @property
    def tokens_per_second(self) -> float | None:
        seconds = self.generation_seconds
        return self.usage.completion_tokens / seconds if seconds and self.usage.completion_tokens else None


class StreamedAnswer:
    """A streamed answer as its chunks arrive."""

    def __init__(self, model: str, started: float) -> None:
        self.model = model
        self.started = started
        self.first_at: float | None = None
        self.last_at: float = started
        self.parts: list[str] = []
        self.tokens = 0  # chunks with text: each a token or more, for an estimate
        self.events = 0
        self.finish_reason: str | None = None
        self.reported: dict | None = None
        self.done = False

    def add(self, chunk: dict) -> None:
        self.last_at = time.monotonic()
        self.first_at = self.first_at or self.last_at
        self.events += 1
        self.model = chunk.get("model") or self.model
        if isinstance(chunk.get("usage"), dict):
            self.reported = chunk["usage"]
        choices = chunk.get("choices")
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            return  # the usage chunk has none
        delta = choices[0].get("delta")
        if isinstance(delta, dict) and isinstance(content := delta.get("content"), str) and content:
            self.parts.append(content)
            self.tokens += 1
        self.finish_reason = choices[0].get("finish_reason") or self.finish_reason

    def usage(self, messages: list[dict]) -> TokenUsage:
        if self.reported:
            return reported_usage(self.reported)
        return estimate_usage(messages, "".join(self.parts), self.tokens)

    def charge(self, messages: list[dict]) -> None:
        """A stream that failed after it began still cost what it produced: count it for the run's budget."""
        if self.events:
            spend.record(self.usage(messages))

    def completion(self, messages: list[dict]) -> Completion:
        return Completion(
            text="".join(self.parts),
            usage=self.usage(messages),
            usage_estimated=not self.reported,
            model=self.model,
            finish_reason=self.finish_reason,
            streamed=True,
            first_token_seconds=None if self.first_at is None else self.first_at - self.started,
            generation_seconds=None if self.first_at is None else self.last_at - self.first_at,
        )


async def sse_events(response: httpx.Response) -> AsyncIterator[str]:
    """The data of each server-sent event (``data:`` lines joined; comments, such as pings, skipped)."""
    data: list[str] = []
    async for line in response.aiter_lines():
        if line.startswith("data:"):
            data.append(line[5:].removeprefix(" "))
        elif not line and data:
            yield "\n".join(data)
            data = []
    if data:
        yield "\n".join(data)


def reported_usage(reported: dict) -> TokenUsage:
    return TokenUsage(
        prompt_tokens=_count(reported.get("prompt_tokens")),
        completion_tokens=_count(reported.get("completion_tokens")),
        calls=1,
    )


def estimate_usage(messages: list[dict], text: str, chunks: int) -> TokenUsage:
    """The usage a server did not report, erring high: at least a token a streamed chunk."""
    prompt = sum(len(str(message.get("content") or "")) for message in messages)
    return TokenUsage(
        prompt_tokens=math.ceil(prompt / _CHARS_PER_TOKEN),
        completion_tokens=max(chunks, math.ceil(len(text) / _CHARS_PER_TOKEN)),
        calls=1,
    )


def _count(value: object) -> int:
    return value if isinstance(value, int) and value >= 0 else 0
