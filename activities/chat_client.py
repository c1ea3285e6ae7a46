"""A small client for any OpenAI-compatible chat-completions endpoint (OpenAI, Ollama, vLLM...).

Failures come out as the kinds :mod:`activities.errors` documents: a 429 carries the server's
Retry-After as ``next_retry_delay``; a bad key or a bad request is non-retryable and says which
setting to fix; an unreachable server is retryable and names OPENAI_BASE_URL.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import httpx
import structlog
from pydantic import BaseModel
from temporalio.exceptions import ApplicationError

from activities.errors import permanent, raise_for_status
from workflows.models import TokenUsage

__all__ = ["ChatClient", "Completion"]

log = structlog.get_logger(__name__)


class Completion(BaseModel):
    """One chat completion: the assistant's text and what it cost."""

    text: str
    usage: TokenUsage
    model: str | None = None
    finish_reason: str | None = None


class ChatClient:
    """POSTs to ``{base_url}/chat/completions``; base_url is like ``https://api.openai.com/v1``."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        base_url: str,
        api_key: str | None,
        *,
        timeout: float | None = None,
        max_tokens: int = 4096,
    ) -> None:
        self._client = client
        self._max_tokens = max_tokens
        self._url = base_url.rstrip("/") + "/chat/completions"
        self._api_key = api_key or None
        self._timeout: Any = httpx.USE_CLIENT_DEFAULT if timeout is None else timeout
        parts = urlsplit(base_url)
        self.host = parts.hostname or base_url
        if parts.port:
            self.host = f"{self.host}:{parts.port}"
        self.service = f"LLM at {self.host}"

    async def complete(self, messages: list[dict], model: str, *, json_mode: bool = False) -> Completion:
        # A bound on every answer: a model that rambles must not spend the run's budget in one call.
        body: dict[str, Any] = {"model": model, "messages": messages, "max_tokens": self._max_tokens}
        if json_mode:
            body["response_format"] = {"type": "json_object"}
        response = await self._post(body)
        if response.status_code == 400 and "max_completion_tokens" in response.text:
            # OpenAI's reasoning models take the same bound under its newer name.
            body["max_completion_tokens"] = body.pop("max_tokens")
            response = await self._post(body)
        if json_mode and response.status_code in (400, 422):
            # Many local servers have no JSON mode; the prompts ask for JSON in words anyway.
            log.warning("llm.json_mode_refused", host=self.host, status=response.status_code)
            del body["response_format"]
            response = await self._post(body)
        self._raise_for_status(response)
        return self._parse(response, model)

    async def _post(self, body: dict[str, Any]) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}
        try:
            return await self._client.post(self._url, json=body, headers=headers, timeout=self._timeout)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise ApplicationError(
                f"could not reach the {self.service} ({type(exc).__name__}: {exc}); "
                "check OPENAI_BASE_URL and that the server is running",
                type="Unreachable",
            ) from exc
        except httpx.TimeoutException as exc:
            raise ApplicationError(
                f"the {self.service} did not answer in time ({type(exc).__name__}); "
                "a slow local model may need a larger LLM_TIMEOUT_SECONDS, "
                "or check OPENAI_BASE_URL",
                type="Timeout",
            ) from exc
        except httpx.TransportError as exc:
            raise ApplicationError(
                f"the connection to the {self.service} failed ({type(exc).__name__}: {exc}); check OPENAI_BASE_URL",
                type="Unreachable",
            ) from exc

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

    def _parse(self, response: httpx.Response, model: str) -> Completion:
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
        usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
        return Completion(
            text=text,
            usage=TokenUsage(
                prompt_tokens=_count(usage.get("prompt_tokens")),
                completion_tokens=_count(usage.get("completion_tokens")),
                calls=1,
            ),
            model=data.get("model") or model,
            finish_reason=choice.get("finish_reason"),
        )


def _count(value: object) -> int:
    return value if isinstance(value, int) and value >= 0 else 0
