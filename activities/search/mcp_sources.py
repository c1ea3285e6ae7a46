"""MCP servers as sources, through the official `mcp` SDK: a search-like tool's results become search hits with
URLs ``mcp://<server>/<id>``, and such a URL is read back through the same server.

Each call opens its own session (a stdio server is started for it, and stopped after): nothing is shared
between activity attempts, so a server that died during one call is simply started again by the next. Every
call, start-up and handshake included, ends within MCP_TIMEOUT_SECONDS; a failure comes back as McpFailure,
whose message names the server. A server's output is data: it becomes a SearchHit or a Page like any web page,
and goes through the same fencing, link policy and claim check.
"""

from __future__ import annotations

import asyncio
import json
import re
import tempfile
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import PurePosixPath
from typing import Any, TypeVar
from urllib.parse import quote, unquote, urlsplit

import httpx2
import mcp_types
from mcp import Client, MCPError, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp_types import CallToolResult, EmbeddedResource, ResourceLink, TextContent, TextResourceContents

from activities.search.mcp_config import McpServer, load_mcp_servers
from core.errors import ConfigError
from core.settings import Settings
from workflows.models import SearchHit

__all__ = [
    "MCP_SCHEME",
    "McpFailure",
    "McpSearch",
    "McpSources",
    "build_mcp_providers",
    "build_mcp_sources",
    "mcp_url",
    "parse_mcp_url",
]

MCP_SCHEME = "mcp://"
MAX_TITLE_CHARS = 200  # as the web providers' (providers.py): a hit travels in workflow history
MAX_SNIPPET_CHARS = 1_000
MAX_CARRIED = 256  # results whose text came with the search, kept for their read on this worker
_TERM = re.compile(r"\w{3,}")
_STOPWORDS = frozenset(
    [
        "the",
        "and",
        "for",
        "are",
        "was",
        "how",
        "does",
        "what",
        "why",
        "when",
        "which",
        "who",
        "with",
        "from",
        "that",
        "this",
        "into",
    ]
)
_LIST_KEYS = ("results", "items", "hits", "documents", "result")

T = TypeVar("T")


class McpFailure(Exception):
    """An MCP server failed, hung or answered with junk; the message names the server and says how."""


def mcp_url(server: str, item_id: str) -> str:
    return f"{MCP_SCHEME}{server}/{quote(item_id, safe='/:@!$&()*+,;=~-._')}"


def parse_mcp_url(url: str) -> tuple[str, str]:
    """(server, id) of an ``mcp://<server>/<id>`` URL."""
    parts = urlsplit(url)
    if parts.scheme != "mcp" or not parts.hostname or not parts.path.startswith("/"):
        raise McpFailure(f"{url} is not an mcp://<server>/<id> URL")
    return parts.hostname, unquote(parts.path[1:])


def glob_of(query: str) -> str | None:
    """A glob matching paths whose names hold any of the query's terms, in any case (minimatch syntax)."""
    terms = list(dict.fromkeys(t for t in _TERM.findall(query.lower()) if t not in _STOPWORDS))[:8]
    if not terms:
        return None
    pieces = ["".join(f"[{c}{c.upper()}]" if c.isalpha() else c for c in term) for term in terms]
    return "**/*" + (pieces[0] if len(pieces) == 1 else "{" + ",".join(pieces) + "}") + "*"


def _rank_by_terms(items: list[dict[str, Any]], query: str) -> list[dict[str, Any]]:
    """Name matches ranked locally: the more query terms an id holds, the better (stable for ties)."""
    terms = set(_TERM.findall(query.lower())) - _STOPWORDS
    return sorted(items, key=lambda item: -sum(term in str(item["id"]).lower() for term in terms))


class McpSources:
    """Searches and reads the configured servers, one short session per call."""

    def __init__(self, servers: dict[str, McpServer], *, timeout: float, max_bytes: int) -> None:
        self.servers = servers
        self._timeout = timeout
        self._max_bytes = max_bytes
        self._carried: OrderedDict[str, str] = OrderedDict()  # url -> text, from results that carried it

    async def search(self, name: str, query: str, limit: int) -> list[SearchHit]:
        server = self.servers[name]
        spec = server.search
        value: str | None = query if spec.query_as == "text" else glob_of(query)
        if value is None:
            return []
        arguments = {**spec.arguments, spec.query_argument: value}
        result = await self._call(server, lambda client: client.call_tool(spec.tool, arguments))
        items = _items(server, result)
        if spec.query_as == "glob":
            items = _rank_by_terms(items, query)
        hits = []
        for rank, item in enumerate(items[:limit]):
            url = mcp_url(name, str(item["id"]))
            if item.get("content"):
                self._carry(url, str(item["content"]))
            hits.append(
                SearchHit(
                    url=url,
                    title=str(item.get("title") or PurePosixPath(str(item["id"])).name or item["id"])[:MAX_TITLE_CHARS],
                    snippet=" ".join(str(item.get("snippet") or "").split())[:MAX_SNIPPET_CHARS],
                    provider=f"mcp:{name}",
                    score=1.0 / (rank + 1),
                )
            )
        return hits

    async def read(self, url: str) -> str:
        """The text of one source, at most MCP's byte cap; McpFailure if it cannot be read."""
        name, item_id = parse_mcp_url(url)
        server = self.servers.get(name)
        if server is None:
            raise McpFailure(f"no MCP server named {name!r} is configured (MCP_SERVERS_FILE)")
        spec = server.read
        if spec is None:
            if url in self._carried:
                return self._carried[url]
            raise McpFailure(f"MCP server {name!r} has no read method, and its search result's text is gone")
        if spec.tool is not None:
            tool = spec.tool
            arguments = {**spec.arguments, spec.id_argument: item_id}
            result = await self._call(server, lambda client: client.call_tool(tool, arguments))
            _raise_if_error(server, result)
            text = "\n".join(_texts(result.content))
        else:
            answer = await self._call(server, lambda client: client.read_resource(item_id))
            text = "\n".join(c.text for c in answer.contents if isinstance(c, TextResourceContents))
            if not text and answer.contents:
                raise McpFailure(f"MCP server {name!r} returned {item_id} as binary data, which is not read")
        return _cap(text, self._max_bytes)

    def _carry(self, url: str, text: str) -> None:
        self._carried[url] = _cap(text, self._max_bytes)
        self._carried.move_to_end(url)
        while len(self._carried) > MAX_CARRIED:
            self._carried.popitem(last=False)

    async def _call(self, server: McpServer, op: Callable[[Client], Awaitable[T]]) -> T:
        """``op`` in a fresh session with ``server``, the whole of it within the time bound."""
        with tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace") as errlog:
            try:
                async with asyncio.timeout(self._timeout):
                    async with Client(
                        _transport(server, errlog),
                        read_timeout_seconds=self._timeout,
                        cache=None,  # every read fresh: a source is cited as it is now
                        client_info=mcp_types.Implementation(name="researchbot", version="0.1"),
                    ) as client:
                        return await op(client)
            except McpFailure:
                raise
            except TimeoutError:
                raise McpFailure(
                    f"MCP server {server.name!r} did not answer within {self._timeout:g}s (MCP_TIMEOUT_SECONDS)"
                ) from None
            except MCPError as exc:
                raise McpFailure(f"MCP server {server.name!r} refused the call: {exc}") from None
            except Exception as exc:  # a dead process, a closed stream, junk on the wire: all the server's
                raise McpFailure(f"MCP server {server.name!r} failed: {_describe(exc)}{_last_words(errlog)}") from None


def _transport(server: McpServer, errlog: Any) -> Any:
    if server.transport == "stdio":
        assert server.command is not None  # checked by McpServer
        params = StdioServerParameters(command=server.command, args=server.args, env=server.env, cwd=server.cwd)
        return stdio_client(params, errlog=errlog)  # its stderr kept, to say why it stopped
    assert server.url is not None
    return _http(server.url, server.headers)


@asynccontextmanager
async def _http(url: str, headers: dict[str, str]) -> AsyncIterator[Any]:
    # Our own client, for the operator's headers; the timeout bounds each read, the caller the whole call.
    async with (
        httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30.0)) as http,
        streamable_http_client(url, http_client=http) as streams,
    ):
        yield streams


def _describe(exc: BaseException) -> str:
    """The first real error inside task-group wrappers, in a few words."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    text = str(exc).strip() or type(exc).__name__
    if "closed" in text.lower() or type(exc).__name__ in ("ClosedResourceError", "EndOfStream", "BrokenResourceError"):
        return f"the connection closed mid-call ({text[:200]})"
    return text[:300]


def _last_words(errlog: Any) -> str:
    """The end of a stdio server's stderr, which often says why it stopped."""
    try:
        errlog.seek(0)
        lines = [line.strip() for line in errlog.read()[-2_000:].splitlines() if line.strip()]
    except (OSError, ValueError):
        return ""
    return f" (its last words: {lines[-1][:200]})" if lines else ""


def _raise_if_error(server: McpServer, result: CallToolResult) -> None:
    if result.is_error:
        said = " ".join(_texts(result.content))[:300] or "no message"
        raise McpFailure(f"MCP server {server.name!r}'s tool failed: {said}")


def _texts(content: list[Any]) -> list[str]:
    texts = []
    for block in content:
        if isinstance(block, TextContent):
            texts.append(block.text)
        elif isinstance(block, EmbeddedResource) and isinstance(block.resource, TextResourceContents):
            texts.append(block.resource.text)
    return texts


def _items(server: McpServer, result: CallToolResult) -> list[dict[str, Any]]:
    """The search result as items with an ``id`` (and maybe title, snippet, content); junk raises McpFailure."""
    _raise_if_error(server, result)
    spec = server.search
    if spec.results == "lines":
        skip = {line.strip() for line in spec.no_results}
        lines = (line.strip() for text in _texts(result.content) for line in text.splitlines())
        return [{"id": line} for line in lines if line and line not in skip]
    found: list[object] | None = None
    if isinstance(result.structured_content, dict):
        found = _listed(result.structured_content)
    if found is None:
        links = [block for block in result.content if isinstance(block, ResourceLink | EmbeddedResource)]
        if links:
            found = [_linked(block) for block in links]
    if found is None:
        found = _from_json_texts(_texts(result.content))
    if found is None:
        raise McpFailure(
            f"MCP server {server.name!r} answered its search tool with something that is not a list of results"
        )
    items = [item for item in map(_item, found) if item is not None]
    if found and not items:
        raise McpFailure(f"MCP server {server.name!r} answered results with no uri, url, id or path")
    return items


def _listed(value: object) -> list[object] | None:
    if isinstance(value, list):
        return value
    if isinstance(value, dict):
        for key in _LIST_KEYS:
            if isinstance(value.get(key), list):
                return value[key]
    return None


def _from_json_texts(texts: list[str]) -> list[object] | None:
    """Results as JSON text: one list (or an object holding one), or one object per text block."""
    parsed = []
    for text in texts:
        try:
            parsed.append(json.loads(text))
        except ValueError:
            return None
    if len(parsed) == 1 and (listed := _listed(parsed[0])) is not None:
        return listed
    if parsed and all(isinstance(value, dict) for value in parsed):
        return list(parsed)
    return [] if texts == [] else None


def _linked(block: ResourceLink | EmbeddedResource) -> dict[str, Any]:
    if isinstance(block, ResourceLink):
        return {"uri": str(block.uri), "title": block.title or block.name, "snippet": block.description}
    resource = block.resource
    text = resource.text if isinstance(resource, TextResourceContents) else ""
    return {"uri": str(resource.uri), "snippet": text[:MAX_SNIPPET_CHARS], "content": text}


def _item(value: object) -> dict[str, Any] | None:
    if isinstance(value, str) and value.strip():
        return {"id": value.strip()}
    if not isinstance(value, dict):
        return None
    item_id = next((value[k] for k in ("uri", "url", "id", "path") if isinstance(value.get(k), str | int)), None)
    if item_id is None or not str(item_id).strip():
        return None
    content = next((value[k] for k in ("text", "content") if isinstance(value.get(k), str)), None)
    snippet = next((value[k] for k in ("snippet", "description", "summary") if isinstance(value.get(k), str)), None)
    title = next((value[k] for k in ("title", "name") if isinstance(value.get(k), str)), None)
    return {
        "id": str(item_id).strip(),
        "title": title,
        "snippet": snippet or (content or "")[:MAX_SNIPPET_CHARS],
        "content": content,
    }


def _cap(text: str, max_bytes: int) -> str:
    """At most ``max_bytes`` of UTF-8, cut on a character boundary (FETCH_MAX_BYTES, as a web page)."""
    data = text.encode()
    return text if len(data) <= max_bytes else data[:max_bytes].decode(errors="ignore")


class McpSearch:
    """One configured server as a search provider (SEARCH_PROVIDER=mcp or mcp:<name>)."""

    def __init__(self, sources: McpSources, server: str) -> None:
        self._sources = sources
        self.name = f"mcp:{server}"
        self.channels = frozenset(sources.servers[server].channels)  # empty: every run may use it

    async def search(self, query: str, limit: int) -> list[SearchHit]:
        return await self._sources.search(self.name.removeprefix("mcp:"), query, limit)


def build_mcp_sources(settings: Settings) -> McpSources | None:
    """The servers of MCP_SERVERS_FILE, or None without one; a wrong file is a ConfigError here."""
    if settings.mcp_servers_file is None:
        return None
    return McpSources(
        load_mcp_servers(settings.mcp_servers_file),
        timeout=settings.mcp_timeout_seconds,
        max_bytes=settings.fetch_max_bytes,
    )


def build_mcp_providers(provider: str, sources: McpSources | None) -> list[McpSearch]:
    """The providers SEARCH_PROVIDER's ``mcp`` (every server) or ``mcp:<name>`` stands for."""
    if sources is None:
        raise ConfigError(
            f"SEARCH_PROVIDER includes {provider} but MCP_SERVERS_FILE is not set; "
            "point it at a file of MCP servers (docs/configuration.md) or remove it from SEARCH_PROVIDER"
        )
    if provider == "mcp":
        return [McpSearch(sources, name) for name in sources.servers]
    name = provider.removeprefix("mcp:")
    if name not in sources.servers:
        raise ConfigError(
            f"SEARCH_PROVIDER names MCP server {name!r}, which MCP_SERVERS_FILE does not list; "
            f"it lists {', '.join(sorted(sources.servers))}"
        )
    return [McpSearch(sources, name)]
