"""The `read_page` activity: fetch one page safely and keep only its main text.

Outcomes: a page we can never read (refused address, 404, a PDF, ...) comes back as
Page(ok=False, error=...) so the run carries on with its other sources; a problem that may
pass (timeout, 5xx, 429) raises, so Temporal retries the activity.

The SSRF guard resolves every hop's host itself, refuses non-public addresses, and then
connects to the address it checked (Host header and TLS SNI keep the name), so a DNS answer
that changes between the check and the connect cannot point us at the inside network.
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import socket
import zlib
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import NamedTuple

import httpx
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.errors import PAGE_RETRY_AFTER, rate_limited, retry_after_seconds
from activities.heartbeat import heartbeating
from activities.search.local_corpus import LOCAL_SCHEME, CorpusReadError, LocalCorpus, extract_html
from activities.search.mcp_sources import MCP_SCHEME, McpFailure, McpSources
from activities.search.page_store import PageStore
from activities.search.slack_files import SLACK_FILE_SCHEME, FileRefused, SlackFiles
from core import tracing
from workflows.activity_io import ReadPageInput
from workflows.calls import PageCalls
from workflows.declaring import implements
from workflows.models import Page

__all__ = ["PageActivities", "PageReader", "Refused", "check_address", "check_host", "resolve_host"]

Resolver = Callable[[str, int], Awaitable[list[str]]]

TEXT_TYPES = frozenset({"text/html", "application/xhtml+xml", "text/plain", "text/markdown"})
REDIRECTS = frozenset({301, 302, 303, 307, 308})
# Names that reach the inside of a network (cloud metadata services, mDNS, private TLDs).
BLOCKED_NAMES = frozenset({"localhost", "metadata", "metadata.google.internal", "instance-data"})
BLOCKED_SUFFIXES = (".localhost", ".internal", ".local", ".home.arpa")
# Only encodings we inflate ourselves, within FETCH_MAX_BYTES (a brotli bomb could not be bounded).
_HEADERS = {
    "Accept": "text/html,application/xhtml+xml,text/plain;q=0.9,text/markdown;q=0.9",
    "Accept-Encoding": "gzip, deflate",
}
# RFC 6052's well-known prefix. It and RFC 8215's local-use 64:ff9b:1::/48 lie in ::/8, which
# ipaddress calls reserved, so both are refused; the embedded IPv4 address names the reason.
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


class Refused(Exception):
    """We will not read this URL: the message says why, in words a person can act on."""


class Fetched(NamedTuple):
    """What one read found: the page's own title (maybe empty), its main text, and the final HTTP status
    (None for a local:// document)."""

    title: str
    text: str
    status: int | None
    note: str | None = None  # for a corpus document: which file, and the SHA-256 of its bytes


def check_address(address: str) -> None:
    """Refuse any address that is not plainly on the public internet."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone id
    if isinstance(ip, ipaddress.IPv6Address) and (embedded := _embedded_ipv4(ip)) is not None:
        _check_ip(embedded, address)  # 6to4 of 10.0.0.1 reaches 10.0.0.1 through a relay
        if ip.ipv4_mapped:
            return
    _check_ip(ip, address)


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one stands for: mapped (::ffff:0:0/96), 6to4 (2002::/16) or NAT64 (64:ff9b::/96)."""
    if ip.ipv4_mapped or ip.sixtofour:
        return ip.ipv4_mapped or ip.sixtofour
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def _check_ip(ip: ipaddress.IPv4Address | ipaddress.IPv6Address, address: str) -> None:
    # Most specific first: 169.254.169.254 is also "private", but "link-local" says more.
    for kind in ("loopback", "link_local", "unspecified", "multicast", "reserved", "private"):
        if getattr(ip, f"is_{kind}"):
            raise Refused(f"{address} is a {kind.replace('_', '-')} address")
    if not ip.is_global:  # shared address space (100.64/10), documentation ranges, ...
        raise Refused(f"{address} is not a public address")


def check_host(host: str) -> None:
    name = host.lower().rstrip(".")
    if name in BLOCKED_NAMES or name.endswith(BLOCKED_SUFFIXES):
        raise Refused(f"{host} is an internal host name")


async def resolve_host(host: str, port: int) -> list[str]:
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        if exc.errno == socket.EAI_AGAIN:
            raise  # DNS is having a moment: transient, let Temporal retry
        raise Refused(f"{host} does not resolve ({exc.strerror})") from exc
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _literal(host: str) -> list[str]:
    """[host] when it is already an IP address, so it needs no lookup."""
    try:
        return [str(ipaddress.ip_address(host))]
    except ValueError:
        return []


class PageReader:
    def __init__(
        self,
        client: httpx.AsyncClient,
        corpus: LocalCorpus,
        *,
        allow_private_networks: bool,
        max_bytes: int,
        max_redirects: int = 5,
        resolver: Resolver = resolve_host,
        deadline: float = 30.0,
        mcp: McpSources | None = None,
        slack_files: SlackFiles | None = None,
    ) -> None:
        self._client = client
        self._slack_files = slack_files  # slack-file://<channel>/<id> parts of files attached in Slack
        self._mcp = mcp  # mcp://<server>/<id> sources are read through their server (mcp_sources.py)
        # A whole fetch, redirects and body included: a server that trickles a byte a second never
        # trips the client's per-read timeout.
        self._deadline = deadline
        self._corpus = corpus
        self._allow_private = allow_private_networks
        self._max_bytes = max_bytes
        self._max_redirects = max_redirects
        self._resolve = resolver

    async def read(self, url: str, title: str, max_chars: int) -> Page:
        """The page's main text, cut to ``max_chars``, with when it was read, the HTTP status and the
        text's SHA-256 (what the evidence archive keeps of a cited source)."""
        fetched_at = datetime.now(UTC)
        try:
            if url.startswith(LOCAL_SCHEME):
                document = await asyncio.to_thread(self._corpus.read_part, url)
                note = f"from the corpus file {document.file[:300]}, SHA-256 {document.file_sha256}"
                found = Fetched(document.title, document.text, status=None, note=note)
            elif url.startswith(MCP_SCHEME):
                if self._mcp is None:
                    raise Refused("no MCP servers are configured (MCP_SERVERS_FILE) to read this source")
                found = Fetched("", await self._mcp.read(url), status=None)
            elif url.startswith(SLACK_FILE_SCHEME):
                if self._slack_files is None:
                    raise Refused("this worker has no Slack bot token (SLACK_BOT_TOKEN) to read files shared in Slack")
                title_found, text, note = await self._slack_files.read(url)
                found = Fetched(title_found, text, status=None, note=note)
            else:
                found = await self._fetch_within_deadline(url)
        except (Refused, CorpusReadError, McpFailure, FileRefused) as exc:
            return Page(url=url, title=title, ok=False, error=str(exc), fetched_at=fetched_at)
        except httpx.InvalidURL as exc:
            return Page(url=url, title=title, ok=False, error=f"not a valid URL: {exc}", fetched_at=fetched_at)
        if not found.text.strip():
            return Page(
                url=url,
                title=title or found.title,
                ok=False,
                error="the page has no readable main text",
                fetched_at=fetched_at,
                http_status=found.status,
            )
        text = found.text[:max_chars]
        return Page(
            url=url,
            title=title or found.title or url,
            text=text,
            fetched_at=fetched_at,
            http_status=found.status,
            sha256=hashlib.sha256(text.encode()).hexdigest(),
            note=found.note,
        )

    async def guard(self, url: httpx.URL) -> httpx.URL:
        """Check one hop; answer the URL to request (pinned to the checked address)."""
        if url.scheme not in ("http", "https"):
            raise Refused(f"only http and https URLs can be read, not {url.scheme or 'this'!r}")
        if not url.host:
            raise Refused(f"{url} has no host")
        if self._allow_private:
            return url
        check_host(url.host)
        addresses = _literal(url.host) or await self._resolve(
            url.host, url.port or (443 if url.scheme == "https" else 80)
        )
        if not addresses:
            raise Refused(f"{url.host} does not resolve")
        for address in addresses:  # every answer, since the connection may use any of them
            try:
                check_address(address)
            except Refused as exc:
                raise Refused(f"refused {url.host}: {exc} (set FETCH_ALLOW_PRIVATE_NETWORKS to allow)") from exc
        return url.copy_with(host=addresses[0])

    async def _fetch_within_deadline(self, url: str) -> Fetched:
        try:
            async with asyncio.timeout(self._deadline):
                return await self._fetch(url)
        except TimeoutError:
            raise Refused(f"the page did not finish loading within {self._deadline:g}s") from None

    async def _fetch(self, url: str) -> Fetched:
        target = httpx.URL(url)
        for _ in range(self._max_redirects + 1):
            pinned = await self.guard(target)
            headers = dict(_HEADERS)
            extensions = {}
            if pinned != target:  # connecting to the IP: keep the name for HTTP and TLS
                headers["Host"] = target.netloc.decode("ascii")
                extensions["sni_hostname"] = target.host
                # A pooled connection is keyed by IP alone; never reuse one made for another name.
                headers["Connection"] = "close"
            request = self._client.build_request("GET", pinned, headers=headers, extensions=extensions)
            response = await self._client.send(request, stream=True, follow_redirects=False)
            try:
                location = response.headers.get("location")
                if response.status_code in REDIRECTS and location:
                    target = target.join(location)
                    continue
                return await self._extract(target, response)
            finally:
                await response.aclose()
        raise Refused(f"too many redirects (more than {self._max_redirects}) from {url}")

    async def _extract(self, url: httpx.URL, response: httpx.Response) -> Fetched:
        status = response.status_code
        if status == 429:
            raise rate_limited(url.host, retry_after_seconds(response), cap=PAGE_RETRY_AFTER)
        if status >= 500:
            raise ApplicationError(f"{url.host} failed with HTTP {status}", type="Transient")
        if status in (404, 410):
            raise Refused(f"the page is gone (HTTP {status})")
        if status >= 300:
            raise Refused(f"the server refused the page (HTTP {status})")
        content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type not in TEXT_TYPES:
            raise Refused(f"unsupported content type {content_type or 'none'!r}; only HTML and text pages are read")
        text = _decode(await self._body(response), response.charset_encoding)
        if content_type in ("text/html", "application/xhtml+xml"):
            # trafilatura is CPU-bound; a big page must not stall other activities.
            return Fetched(*await asyncio.to_thread(extract_html, text), status=status)
        return Fetched("", text.strip(), status)

    async def _body(self, response: httpx.Response) -> bytes:
        """At most max_bytes of the body: stop reading there, whatever the server sends.

        A compressed body is inflated here, never more than max_bytes at a time, and refused if it
        inflates past max_bytes: a few kilobytes of gzip can stand for gigabytes."""
        inflate = _inflater(response.headers.get("content-encoding", ""))
        chunks, size = [], 0
        # Raw bytes when we inflate them ourselves; an uncompressed body is the same either way.
        async for raw in response.aiter_raw() if inflate else response.aiter_bytes():
            chunk = inflate.decompress(raw, self._max_bytes - size + 1) if inflate else raw
            chunks.append(chunk)
            size += len(chunk)
            if size > self._max_bytes and inflate:
                raise Refused(f"the compressed page inflates past {self._max_bytes} bytes (FETCH_MAX_BYTES)")
            if size >= self._max_bytes:
                break
        return b"".join(chunks)[: self._max_bytes]


def _inflater(content_encoding: str) -> zlib._Decompress | None:
    encoding = content_encoding.strip().lower()
    if encoding in ("", "identity"):
        return None
    if encoding in ("gzip", "x-gzip"):
        return zlib.decompressobj(16 + zlib.MAX_WBITS)
    if encoding == "deflate":
        return zlib.decompressobj()
    raise Refused(f"unsupported content encoding {encoding!r}; only gzip and deflate are read")


def _decode(body: bytes, charset: str | None) -> str:
    """Decode with the declared charset, else UTF-8; fall back to cp1252, which decodes anything."""
    try:
        return body.decode(charset or "utf-8")
    except (LookupError, UnicodeDecodeError):
        return body.decode("cp1252", errors="replace")


class PageActivities:
    def __init__(self, reader: PageReader, pages: PageStore | None = None) -> None:
        self._reader = reader
        self._pages = pages  # where the full text goes, so workflow history keeps only an excerpt

    @implements(PageCalls.read_page)
    async def read_page(self, input: ReadPageInput) -> Page:
        async with heartbeating():
            page = await self._reader.read(input.url, input.title, input.max_chars)
            _annotate(page)
            if self._pages is not None and activity.in_activity():
                page = await self._pages.keep(activity.info().workflow_id, page)
            return page


def _annotate(page: Page) -> None:
    """What the read found, on the activity's span (core/tracing.py): status and size, never the text."""
    try:
        url = httpx.URL(page.url)
        host = url.host if url.scheme in ("http", "https") else None  # a local:// document has none
    except httpx.InvalidURL:  # a page refused for its URL still gets its span's other attributes
        host = None
    tracing.annotate(
        {
            "page.ok": page.ok,
            "http.response.status_code": page.http_status,
            "page.bytes": len(page.text.encode()),
            "server.address": host,
        }
    )
