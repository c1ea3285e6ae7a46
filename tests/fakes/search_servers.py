"""A real HTTP server on 127.0.0.1 that speaks SearXNG, Tavily and Brave, and serves test pages.

    with FakeWeb() as web:
        SearxngSearch(client, web.url + "/searxng")
        TavilySearch(client, FakeWeb.TAVILY_KEY, web.url + "/tavily")
        BraveSearch(client, FakeWeb.BRAVE_KEY, web.url + "/brave")
        web.fail("tavily", 429, retry_after=7)      # the next Tavily calls answer 429
        web.url + "/pages/article.html"             # see PAGES and _page() for the rest

Every request is recorded in `web.requests` so tests can check what was (or was not) sent.
"""

from __future__ import annotations

import functools
import gzip
import json
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

__all__ = ["ARTICLE_HTML", "FakeWeb", "Recorded"]

ARTICLE_TEXT = (
    "Temporal workflows survive crashes because every step is recorded in an event history. "
    "When a worker restarts, the workflow code is replayed against that history and picks up "
    "exactly where it left off, without running completed activities again."
)
ARTICLE_HTML = f"""<!doctype html>
<html><head><title>Durable execution, explained</title></head>
<body>
<nav><a href="/">Home</a> <a href="/pricing">Pricing</a> <a href="/login">Log in</a></nav>
<article>
  <h1>How durable execution works</h1>
  <p>{ARTICLE_TEXT}</p>
  <p>Activities are where side effects happen, and they are retried under a retry policy
  with exponential backoff until they succeed or a non-retryable error is raised.</p>
</article>
<footer>Copyright 2025 Example Corp. Subscribe to our newsletter.</footer>
</body></html>"""

PAGES: dict[str, tuple[str, bytes]] = {
    "/pages/article.html": ("text/html; charset=utf-8", ARTICLE_HTML.encode()),
    "/pages/notes.txt": ("text/plain; charset=utf-8", b"Plain notes about BM25 ranking.\n"),
    "/pages/readme.md": ("text/markdown", b"# Readme\n\nMarkdown served over HTTP.\n"),
    "/pages/latin1.txt": ("text/plain", "Caf\u00e9 cr\u00e8me, no charset declared".encode("latin-1")),
    "/pages/empty.html": ("text/html", b"<html><head><title>Empty</title></head><body></body></html>"),
    "/pages/image.png": ("image/png", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8),
    "/pages/download": ("application/octet-stream", b"\x00\x01\x02" * 100),
}

DEFAULT_RESULTS: dict[str, list[dict[str, Any]]] = {
    "searxng": [
        {
            "url": "https://docs.temporal.io/workflows#intro",
            "title": "Workflows",
            "content": "What a workflow is.",
            "score": 3.0,
        },
        {
            "url": "https://example.com/retries/?utm_source=searx",
            "title": "Retries",
            "content": "Retry policies.",
            "score": 1.5,
        },
        {"url": "https://searx-only.example/a", "title": "Only in SearXNG", "content": "x", "score": 1.0},
    ],
    "tavily": [
        {
            "url": "https://docs.temporal.io/activities",
            "title": "Activities",
            "content": "What an activity is.",
            "score": 0.91,
        },
        {"url": "https://tavily-only.example/b", "title": "Only in Tavily", "content": "y", "score": 0.42},
    ],
    "brave": [
        {
            "url": "https://EXAMPLE.com/retries?utm_medium=brave",
            "title": "<strong>Retries</strong>",
            "description": "Retry <strong>policies</strong> &amp; backoff.",
        },
        {"url": "https://brave-only.example/c", "title": "Only in Brave", "description": "z"},
    ],
}


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any = None


@dataclass
class FakeWeb:
    TAVILY_KEY = "test-tavily-key"
    BRAVE_KEY = "test-brave-key"

    results: dict[str, list[dict[str, Any]]] = field(
        default_factory=lambda: {name: list(hits) for name, hits in DEFAULT_RESULTS.items()}
    )
    # When set, SearXNG answers each query with this function's results instead of ``results``.
    searxng_for: Callable[[str], list[dict[str, Any]]] | None = None
    failures: dict[str, tuple[int, dict[str, str], bytes]] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    url: str = ""
    # Paths starting with a key wait for its gate; ``reached`` is set when the first such request comes.
    holds: dict[str, tuple[threading.Event, threading.Event]] = field(default_factory=dict)

    def hold(self, prefix: str) -> tuple[threading.Event, threading.Event]:
        """Hold every request under ``prefix`` until ``gate.set()``; returns (reached, gate)."""
        self.holds[prefix] = (threading.Event(), threading.Event())
        return self.holds[prefix]

    def fail(
        self, provider: str, status: int, *, retry_after: float | None = None, body: bytes = b'{"error": "forced"}'
    ) -> None:
        """Answer every later call to this provider with `status` (and `body`)."""
        headers = {} if retry_after is None else {"Retry-After": f"{retry_after:g}"}
        self.failures[provider] = (status, headers, body)

    def calls(self, prefix: str) -> list[Recorded]:
        return [r for r in self.requests if r.path.startswith(prefix)]

    def __enter__(self) -> FakeWeb:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.web = self  # type: ignore[attr-defined]
        host, port = self._server.server_address[:2]
        self.url = f"http://{host}:{port}"
        # A short poll interval keeps shutdown (and so each test's teardown) quick.
        serve = lambda: self._server.serve_forever(poll_interval=0.02)  # noqa: E731
        self._thread = threading.Thread(target=serve, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


class _Handler(BaseHTTPRequestHandler):
    server_version = "FakeWeb/1.0"

    def log_message(self, format: str, *args: object) -> None:  # keep test output quiet
        pass

    @property
    def web(self) -> FakeWeb:
        return self.server.web  # type: ignore[attr-defined]

    def do_GET(self) -> None:
        self._route("GET")

    def do_POST(self) -> None:
        self._route("POST")

    def _route(self, method: str) -> None:
        parts = urlsplit(self.path)
        query = parse_qs(parts.query)
        body = None
        if method == "POST":
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            body = json.loads(raw) if raw else None
        self.web.requests.append(Recorded(method, parts.path, query, dict(self.headers.items()), body))
        for prefix, (reached, gate) in list(self.web.holds.items()):
            if parts.path.startswith(prefix):
                reached.set()
                gate.wait(timeout=120)
        provider = parts.path.split("/")[1]
        if provider in self.web.failures:
            status, headers, failure_body = self.web.failures[provider]
            return self._send(status, "application/json", failure_body, headers)
        if (method, parts.path) == ("GET", "/searxng/search"):
            return self._searxng(query)
        if (method, parts.path) == ("POST", "/tavily/search"):
            return self._tavily(body or {})
        if (method, parts.path) == ("GET", "/brave/res/v1/web/search"):
            return self._brave(query)
        if parts.path.startswith("/pages/"):
            return self._page(parts.path, query)
        self._send(404, "text/plain", b"not found")

    def _searxng(self, query: dict[str, list[str]]) -> None:
        if query.get("format") != ["json"]:  # a real instance answers 403 unless json is enabled
            return self._send(403, "text/html", b"<h1>Forbidden</h1>")
        q = query.get("q", [""])[0]
        results = self.web.searxng_for(q) if self.web.searxng_for else self.web.results["searxng"]
        self._json({"query": q, "results": results})

    def _tavily(self, body: dict[str, Any]) -> None:
        if self.headers.get("Authorization") != f"Bearer {FakeWeb.TAVILY_KEY}":
            return self._send(401, "application/json", b'{"detail": {"error": "Unauthorized"}}')
        hits = self.web.results["tavily"][: int(body.get("max_results", 5))]
        self._json({"query": body.get("query"), "results": hits, "response_time": 0.1})

    def _brave(self, query: dict[str, list[str]]) -> None:
        if self.headers.get("X-Subscription-Token") != FakeWeb.BRAVE_KEY:
            return self._send(401, "application/json", b'{"type": "ErrorResponse"}')
        hits = self.web.results["brave"][: int(query.get("count", ["20"])[0])]
        self._json({"type": "search", "web": {"type": "search", "results": hits}})

    def _page(self, path: str, query: dict[str, list[str]]) -> None:
        arg = query.get("n", query.get("url", ["0"]))[0]
        if path in PAGES:
            content_type, body = PAGES[path]
            return self._send(200, content_type, body)
        if path == "/pages/redirect":  # /pages/redirect?n=3 -> ?n=2 -> ?n=1 -> ?n=0 -> article
            n = int(arg)
            target = f"/pages/redirect?n={n - 1}" if n > 0 else "/pages/article.html"
            return self._send(302, "text/plain", b"", {"Location": target})
        if path == "/pages/redirect-to":
            return self._send(302, "text/plain", b"", {"Location": arg})
        if path == "/pages/status":  # /pages/status?n=503
            return self._send(int(arg), "text/plain", b"status page", {"Retry-After": "3"})
        if path == "/pages/retry-after":  # /pages/retry-after?n=100000000: 429 with that Retry-After
            return self._send(429, "text/plain", b"slow down", {"Retry-After": arg})
        if path == "/pages/trickle":  # /pages/trickle?n=0.2: a byte every n seconds, for ever
            return self._trickle(float(arg))
        if path == "/pages/hang":  # /pages/hang?n=60: accepts, and answers nothing for n seconds
            time.sleep(float(arg))
            return self._send(200, "text/plain", b"too late")
        if path == "/pages/slow":  # /pages/slow?n=0.5 seconds
            time.sleep(float(arg))
            return self._send(200, "text/plain", b"finally here")
        if path == "/pages/large.txt":  # /pages/large.txt?n=5000000 bytes, streamed without a length
            return self._stream(int(arg))
        if path == "/pages/big":  # /pages/big?n=anything: 20,000 four-byte characters of text
            return self._send(200, "text/plain; charset=utf-8", BIG_PAGE)
        if path == "/pages/encoded":  # /pages/encoded?n=gzip | deflate | gzip-bomb | br
            encoding, body = _encoded(arg)
            return self._send(200, "text/html", body, {"Content-Encoding": encoding})
        self._send(404, "text/plain", b"no such page")

    def _trickle(self, every: float) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        try:
            for _ in range(int(120 / every)):  # two minutes at most: a test's reader gives up long before
                self.wfile.write(b"a")
                self.wfile.flush()
                time.sleep(every)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the reader gave up, as it should

    def _stream(self, size: int) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        chunk = b"all work and no play makes a very large page\n" * 100
        try:
            for _ in range(size // len(chunk) + 1):
                self.wfile.write(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the reader stopped early, as it should

    def _json(self, payload: object) -> None:
        self._send(200, "application/json", json.dumps(payload).encode())

    def _send(self, status: int, content_type: str, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)


@functools.cache
def _encoded(kind: str) -> tuple[str, bytes]:
    """The article compressed as asked; a bomb is 50 MB of one letter in about 50 KB of gzip."""
    if kind == "gzip-bomb":
        return "gzip", gzip.compress(b"A" * 50_000_000, compresslevel=9)
    if kind == "br":
        return "br", b"\x1b\xff\xff\x0f"  # never inflated: the reader refuses brotli up front
    html = ARTICLE_HTML.encode()
    return kind, gzip.compress(html) if kind == "gzip" else zlib.compress(html)


# Mostly four-byte characters, with one plain sentence an extractive model can cite.
BIG_PAGE = ("Durable execution survives crashes by replaying history. 𝔗𝔥𝔢 𝔥𝔦𝔰𝔱𝔬𝔯𝔶 𝔦𝔰 𝔡𝔲𝔯𝔞𝔟𝔩𝔢 𝔞𝔫𝔡 𝔯𝔢𝔭𝔩𝔞𝔶𝔢𝔡. " * 400)[
    :20_000
].encode()
