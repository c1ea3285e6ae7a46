"""The model's context window, and what it leaves for a prompt once the answer has its room.

LLM_CONTEXT_TOKENS says it; unset, it is asked, once per worker and model, from the server where it says
it: Ollama's ``/api/ps`` (a loaded model's window) and ``/api/show`` (``num_ctx``), llama.cpp's ``/props``
(``n_ctx``), vLLM's ``/v1/models`` (``max_model_len``). A server that says nothing gets a safe default:
OpenAI's models their known windows, any other server 8,192 tokens. Which one was used is logged once
(``llm.context_window``, with ``source``).

Tokens are estimated, not counted (no tokenizer can be downloaded offline), and the estimate errs high:
see ``estimate_tokens``.
"""

from __future__ import annotations

import asyncio
import math
import re
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx
import structlog

__all__ = [
    "DEFAULT_TOKENS",
    "OLLAMA_DEFAULT_TOKENS",
    "ContextWindow",
    "Window",
    "discover_window",
    "estimate_tokens",
    "message_tokens",
]

log = structlog.get_logger(__name__)

Source = Literal["setting", "ollama", "llamacpp", "vllm", "default", "server_error"]
DEFAULT_TOKENS = 8_192  # a server that says nothing: most local models have at least this
OLLAMA_DEFAULT_TOKENS = 2_048  # Ollama without num_ctx: 2,048 or 4,096 by version (OLLAMA_CONTEXT_LENGTH unseen)
OPENAI_DEFAULT_TOKENS = 128_000
# OpenAI's models by name prefix, longest first: the older ones have smaller windows.
_OPENAI_WINDOWS = (
    ("gpt-4-turbo", 128_000),
    ("gpt-4-32k", 32_768),
    ("gpt-3.5", 16_385),
    ("gpt-4.1", 1_000_000),
    ("gpt-4o", 128_000),
    ("gpt-4", 8_192),
)
_PROBE_SECONDS = 5.0
_PER_MESSAGE = 4  # the chat template's role markers around each message
_PER_PROMPT = 3  # and the assistant's turn it opens


def estimate_tokens(text: str) -> int:
    """An estimate that errs high: three ASCII characters a token (tokenizers average about four in
    English, fewer in URLs and code), and a token for each byte past the first of a non-ASCII character
    (an accented letter one, a CJK character or an emoji two or three: byte-level BPEs split them so)."""
    size = len(text)
    wide = len(text.encode("utf-8")) - size  # the extra bytes of the non-ASCII characters
    narrow = size - len(text.encode("ascii", "ignore")) if wide else 0
    return math.ceil((size - narrow) / 3) + wide


def message_tokens(messages: list[dict]) -> int:
    """The estimated prompt tokens of chat messages, their template included."""
    return _PER_PROMPT + sum(_PER_MESSAGE + estimate_tokens(str(m.get("content") or "")) for m in messages)


@dataclass(frozen=True)
class Window:
    """A context window of ``tokens``, and the room it leaves: ``answer`` tokens for the answer (the
    ``max_tokens`` each call sends: LLM_MAX_TOKENS, less when the window is small), a margin for what the
    estimate misses, and the rest, ``prompt``, for the messages."""

    tokens: int
    source: Source
    max_answer: int = 4_096

    @property
    def answer(self) -> int:
        # A quarter of a small window: a 2,048-token model cannot reserve 4,096 for its answer.
        return min(self.max_answer, self.tokens // 4)

    @property
    def margin(self) -> int:
        return max(32, self.tokens // 32)

    @property
    def prompt(self) -> int:
        return max(0, self.tokens - self.answer - self.margin)


class ContextWindow:
    """The window of each model served at ``base_url``, asked once (LLM_CONTEXT_TOKENS, when set, wins),
    and narrowed when the server refuses a prompt as too long (``learn``)."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        base_url: str,
        api_key: str | None,
        *,
        setting: int | None = None,
        max_answer: int = 4_096,
    ) -> None:
        self._client = client
        self._base_url = base_url.rstrip("/")
        self._api_key = api_key
        self._setting = setting
        self._max_answer = max_answer
        self._known: dict[str, Window] = {}
        self._lock = asyncio.Lock()

    async def of(self, model: str) -> Window:
        async with self._lock:  # concurrent calls ask the server once
            if model not in self._known:
                if self._setting:
                    tokens, source = self._setting, "setting"
                else:
                    tokens, source = await discover_window(self._client, self._base_url, model, self._api_key)
                self._known[model] = Window(tokens, source, self._max_answer)
                log.info("llm.context_window", model=model, tokens=tokens, source=source)
            return self._known[model]

    def learn(self, model: str, tokens: int) -> Window:
        """The server refused a prompt and said its window is ``tokens``: believe it from now on."""
        window = Window(tokens, "server_error", self._max_answer)
        self._known[model] = window
        log.warning("llm.context_window", model=model, tokens=tokens, source="server_error")
        return window


async def discover_window(
    client: httpx.AsyncClient, base_url: str, model: str, api_key: str | None = None
) -> tuple[int, Source]:
    """The window the server at ``base_url`` says ``model`` has, and who said it; a default otherwise.
    Best effort: an endpoint that fails or is absent is skipped."""
    parts = urlsplit(base_url)
    if parts.hostname == "api.openai.com":
        return _openai_window(model), "default"
    root = base_url.rstrip("/").removesuffix("/v1")  # the native APIs sit at the root, beside /v1
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    probe = _Probe(client, headers)
    shown = await probe.json("POST", f"{root}/api/show", {"model": model})
    if isinstance(shown, dict) and {"model_info", "parameters", "modelfile"} & shown.keys():
        return await _ollama_window(probe, root, model, shown), "ollama"
    props = await probe.json("GET", f"{root}/props")
    if isinstance(n_ctx := _dig(props, "default_generation_settings", "n_ctx") or _dig(props, "n_ctx"), int):
        return n_ctx, "llamacpp"
    listed = await probe.json("GET", f"{base_url.rstrip('/')}/models")
    entries = [m for m in (_dig(listed, "data") or []) if isinstance(m, dict)]
    entry = next((m for m in entries if m.get("id") == model), entries[0] if entries else {})
    if _positive(entry.get("max_model_len")):
        return entry["max_model_len"], "vllm"
    if _positive(trained := _dig(entry, "meta", "n_ctx_train")):
        # What llama.cpp's model was trained on; the server may run it with less, so never more than the default.
        return min(trained, DEFAULT_TOKENS), "llamacpp"
    return DEFAULT_TOKENS, "default"


async def _ollama_window(probe: _Probe, root: str, model: str, shown: dict) -> int:
    """A loaded model's window (``/api/ps``: what OLLAMA_CONTEXT_LENGTH made it), else ``num_ctx`` from
    its Modelfile (``/api/show``), else Ollama's smallest default; never more than it was trained on."""
    names = {model, model.removesuffix(":latest"), f"{model}:latest"}
    loaded = await probe.json("GET", f"{root}/api/ps")
    running = [m for m in _dig(loaded, "models") or [] if isinstance(m, dict) and m.get("model") in names]
    if running and _positive(running[0].get("context_length")):
        return running[0]["context_length"]
    match = re.search(r"^\s*num_ctx\s+(\d+)", str(_dig(shown, "parameters") or ""), re.M)
    info = _dig(shown, "model_info") or {}
    trained = next((v for k, v in info.items() if k.endswith(".context_length") and _positive(v)), None)
    window = int(match.group(1)) if match else OLLAMA_DEFAULT_TOKENS
    return min(window, trained) if trained else window


def _openai_window(model: str) -> int:
    return next((tokens for prefix, tokens in _OPENAI_WINDOWS if model.startswith(prefix)), OPENAI_DEFAULT_TOKENS)


class _Probe:
    def __init__(self, client: httpx.AsyncClient, headers: dict[str, str]) -> None:
        self._client = client
        self._headers = headers

    async def json(self, method: str, url: str, body: dict | None = None) -> Any:
        """The JSON a 2xx answer holds; None for anything else (absent, refused, unreachable, not JSON)."""
        try:
            response = await self._client.request(method, url, json=body, headers=self._headers, timeout=_PROBE_SECONDS)
            return response.json() if response.is_success else None
        except (httpx.HTTPError, ValueError):
            return None


def _dig(data: Any, *keys: str) -> Any:
    for key in keys:
        data = data.get(key) if isinstance(data, dict) else None
    return data


def _positive(value: Any) -> bool:
    return type(value) is int and value > 0
