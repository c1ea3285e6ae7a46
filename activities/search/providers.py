"""The `search` activity: ask every configured search provider at once and merge what they find.

Providers: the offline local corpus, SearXNG, Tavily and Brave. Scores from different
providers are not comparable, so the merge ranks by reciprocal-rank fusion: a hit's score is
the sum of 1/(60 + rank) over the providers that returned it, so agreement counts and no
provider's scale dominates.
"""

from __future__ import annotations

import asyncio
import html
import re
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx
import structlog
from pydantic import SecretStr
from temporalio.exceptions import ApplicationError

from activities.errors import permanent, raise_for_status
from activities.heartbeat import heartbeating
from activities.search.local_corpus import LocalCorpus
from activities.search.mcp_sources import McpSources, build_mcp_providers
from activities.search.slack_files import SlackFiles
from core import tracing
from core.errors import ConfigError
from core.settings import Settings
from workflows.activity_io import SearchInput, SearchOutput
from workflows.calls import SearchCalls
from workflows.declaring import implements
from workflows.models import SearchHit

__all__ = [
    "BraveSearch",
    "LocalSearch",
    "SearchActivities",
    "SearchProvider",
    "SearxngSearch",
    "TavilySearch",
    "build_search_providers",
    "merge_hits",
    "normalize_url",
]

log = structlog.get_logger(__name__)

RRF_K = 60  # the usual reciprocal-rank-fusion constant
_TAG = re.compile(r"<[^>]+>")


class SearchProvider(Protocol):
    name: str

    async def search(self, query: str, limit: int) -> list[SearchHit]: ...


def _clean(text: object) -> str:
    """Brave and others put <strong> tags and entities in titles and snippets."""
    return " ".join(html.unescape(_TAG.sub("", str(text or ""))).split())


# A search result travels in workflow history; a provider's essay of a snippet or title must not.
MAX_TITLE_CHARS = 200
MAX_SNIPPET_CHARS = 1_000


def _hits(provider: str, results: object, limit: int, snippet_key: str) -> list[SearchHit]:
    hits = []
    for item in results if isinstance(results, list) else []:
        if not isinstance(item, dict) or not item.get("url"):
            continue
        score = item.get("score")
        hits.append(
            SearchHit(
                url=str(item["url"]),
                title=(_clean(item.get("title")) or str(item["url"]))[:MAX_TITLE_CHARS],
                snippet=_clean(item.get(snippet_key))[:MAX_SNIPPET_CHARS],
                provider=provider,
                score=float(score) if isinstance(score, int | float) else 0.0,
            )
        )
    return hits[:limit]


def _checked(service: str, key_setting: str, response: httpx.Response) -> dict[str, Any]:
    """The JSON body of a successful answer; HTTP errors mapped to retry or not by errors.py."""
    if response.status_code in (401, 403):
        raise permanent(
            f"{service} refused our credentials (HTTP {response.status_code}); check the {key_setting} setting",
            type="Unauthorized",
        )
    raise_for_status(service, response)
    try:
        payload = response.json()
    except ValueError as exc:  # an HTML error page from a proxy, say: may pass, so retryable
        raise ApplicationError(f"{service} answered with something other than JSON", type="BadResponse") from exc
    return payload if isinstance(payload, dict) else {}


class LocalSearch:
    name = "local"

    def __init__(self, corpus: LocalCorpus) -> None:
        self._corpus = corpus

    async def search(self, query: str, limit: int) -> list[SearchHit]:
        # SQLite is blocking; keep it off the event loop.
        return await asyncio.to_thread(self._corpus.search, query, limit)


class SearxngSearch:
    name = "searxng"

    def __init__(self, client: httpx.AsyncClient, base_url: str) -> None:
        self._client = client
        self._url = base_url.rstrip("/") + "/search"

    async def search(self, query: str, limit: int) -> list[SearchHit]:
        response = await self._client.get(self._url, params={"q": query, "format": "json"})
        if response.status_code == 403:  # what SearXNG answers when its JSON API is switched off
            raise permanent(
                "SearXNG refused format=json (HTTP 403); add json to search.formats in its settings.yml",
                type="BadRequest",
            )
        payload = _checked("SearXNG", "SEARXNG_URL", response)
        return _hits(self.name, payload.get("results"), limit, "content")


class TavilySearch:
    name = "tavily"

    def __init__(self, client: httpx.AsyncClient, api_key: str, api_url: str) -> None:
        self._client = client
        self._key = api_key
        self._url = api_url.rstrip("/") + "/search"

    async def search(self, query: str, limit: int) -> list[SearchHit]:
        response = await self._client.post(
            self._url,
            json={"query": query, "max_results": limit},
            headers={"Authorization": f"Bearer {self._key}"},
        )
        payload = _checked("Tavily", "TAVILY_API_KEY", response)
        return _hits(self.name, payload.get("results"), limit, "content")


class BraveSearch:
    name = "brave"
    MAX_COUNT = 20  # Brave refuses larger pages

    def __init__(self, client: httpx.AsyncClient, api_key: str, api_url: str) -> None:
        self._client = client
        self._key = api_key
        self._url = api_url.rstrip("/") + "/res/v1/web/search"

    async def search(self, query: str, limit: int) -> list[SearchHit]:
        response = await self._client.get(
            self._url,
            params={"q": query, "count": max(1, min(limit, self.MAX_COUNT))},
            headers={"X-Subscription-Token": self._key, "Accept": "application/json"},
        )
        web = _checked("Brave Search", "BRAVE_API_KEY", response).get("web")
        return _hits(self.name, web.get("results") if isinstance(web, dict) else None, limit, "description")


def normalize_url(url: str) -> str:
    """The key two URLs for the same page share: case-folded scheme and host, no fragment,
    no trailing slash, no utm_* tracking parameters."""
    parts = urlsplit(url.strip())
    if parts.scheme.lower() == "local":  # its fragment names the page, slide or sheet: a source of its own
        return url.strip()
    if parts.scheme.lower() not in ("http", "https"):
        return parts._replace(fragment="").geturl()
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not k.lower().startswith("utm_")]
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path.rstrip("/"), urlencode(query), ""))


def merge_hits(results: list[list[SearchHit]], limit: int) -> list[SearchHit]:
    """Fuse ranked lists: dedupe by normalised URL, keep the first-seen hit, best score first."""
    merged: dict[str, SearchHit] = {}
    scores: dict[str, float] = {}
    for hits in results:
        for rank, hit in enumerate(hits):
            key = normalize_url(hit.url)
            merged.setdefault(key, hit)
            scores[key] = scores.get(key, 0.0) + 1.0 / (RRF_K + rank + 1)
    ranked = sorted(merged, key=lambda key: scores[key], reverse=True)  # stable: ties keep order
    return [merged[key].model_copy(update={"score": round(scores[key], 6)}) for key in ranked][:limit]


class SearchActivities:
    def __init__(self, providers: list[SearchProvider], slack_files: SlackFiles | None = None) -> None:
        self._providers = list(providers)
        self._slack_files = slack_files  # files attached in Slack: searched alone when a search names them

    @implements(SearchCalls.search)
    async def search(self, input: SearchInput) -> SearchOutput:
        if input.files:
            return await self._search_files(input)
        # A provider limited to some channels (an MCP server's `channels`) serves only runs asked there.
        providers = [p for p in self._providers if input.channel is None or _serves(p, input.channel)]
        async with heartbeating():  # a provider can hang for its whole timeout; a dead worker must show sooner
            outcomes = await asyncio.gather(
                *(p.search(input.query, input.limit) for p in providers), return_exceptions=True
            )
        found: list[list[SearchHit]] = []
        failures: list[BaseException] = []
        failed: list[str] = []
        for provider, outcome in zip(providers, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                failures.append(outcome)
                failed.append(f"{provider.name}: {str(outcome) or repr(outcome)}"[:300])  # for the run's progress
                log.warning(
                    "search_provider_failed",
                    provider=provider.name,
                    query=input.query,
                    error=str(outcome) or repr(outcome),
                )
            else:
                found.append(outcome)
        if failures and not found:
            raise failures[0]
        hits = merge_hits(found, input.limit * max(1, len(providers)))
        # On the activity's span (core/tracing.py): which providers and how many hits, never the query.
        tracing.annotate(
            {
                "search.providers": [provider.name for provider in self._providers],
                "search.failed_providers": len(failures),
                "search.hits": len(hits),
            }
        )
        return SearchOutput(hits=hits, failures=failed)

    async def _search_files(self, input: SearchInput) -> SearchOutput:
        """The best parts of the files attached to the question; a refused file is a line of the progress."""
        if self._slack_files is None:
            why = "attached files: this worker has no Slack bot token (SLACK_BOT_TOKEN) to read them"
            return SearchOutput(hits=[], failures=[why])
        async with heartbeating():
            hits, refused = await self._slack_files.search(input.query, input.limit, input.files, input.channel)
        for line in refused:
            log.warning("slack_file_refused", reason=line)
        return SearchOutput(hits=hits, failures=refused)


def _serves(provider: SearchProvider, channel: str) -> bool:
    channels: frozenset[str] = getattr(provider, "channels", frozenset())
    return not channels or channel in channels


def build_search_providers(
    settings: Settings, client: httpx.AsyncClient, corpus: LocalCorpus, mcp: McpSources | None = None
) -> list[SearchProvider]:
    """The providers named in SEARCH_PROVIDER; a missing setting fails here, at start-up."""
    providers: list[SearchProvider] = []
    for name in dict.fromkeys(settings.search_provider):
        if name == "mcp" or name.startswith("mcp:"):  # MCP servers: activities/search/mcp_sources.py
            providers.extend(p for p in build_mcp_providers(name, mcp) if p.name not in {q.name for q in providers})
        elif name == "local":
            if not corpus.corpus_dir.is_dir():
                raise ConfigError(
                    f"RESEARCH_CORPUS_DIR={corpus.corpus_dir} is not a directory; "
                    "point it at a folder of documents (PDF, Word, PowerPoint, Excel, CSV, HTML, Markdown, text)"
                )
            providers.append(LocalSearch(corpus))
        elif name == "searxng":
            url = _required("searxng", "SEARXNG_URL", settings.searxng_url, "http://localhost:8888")
            providers.append(SearxngSearch(client, url))
        elif name == "tavily":
            key = _required("tavily", "TAVILY_API_KEY", settings.tavily_api_key, "tvly-...")
            providers.append(TavilySearch(client, key, settings.tavily_api_url))
        elif name == "brave":
            key = _required("brave", "BRAVE_API_KEY", settings.brave_api_key, "<your key>")
            providers.append(BraveSearch(client, key, settings.brave_api_url))
        else:
            raise ConfigError(f"unknown search provider {name!r} in SEARCH_PROVIDER")
    if not providers:
        raise ConfigError("SEARCH_PROVIDER is empty; set it to local, searxng, tavily or brave")
    return providers


def _required(provider: str, setting: str, value: str | SecretStr | None, example: str) -> str:
    text = value.get_secret_value() if isinstance(value, SecretStr) else value
    if not text:
        raise ConfigError(
            f"SEARCH_PROVIDER includes {provider} but {setting} is not set; "
            f"set {setting}={example} or remove {provider} from SEARCH_PROVIDER"
        )
    return text
