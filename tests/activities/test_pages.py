"""The read_page activity: the SSRF guard, limits, extraction, and which failures are retried."""

from __future__ import annotations

import asyncio
import hashlib
import socket
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.search.local_corpus import LocalCorpus
from activities.search.pages import PageActivities, PageReader, Refused, check_address, check_host
from tests.fakes.search_servers import ARTICLE_TEXT, FakeWeb
from workflows.activity_io import ReadPageInput

PUBLIC_IP = "93.184.216.34"


@pytest.fixture
def corpus(tmp_path: Path) -> LocalCorpus:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "guide.md").write_text("# The guide\n\nEverything about durable timers.")
    (tmp_path / "outside.md").write_text("# Outside\n\nprivate")
    return LocalCorpus(tmp_path / "docs")


def reader(client: httpx.AsyncClient, corpus: LocalCorpus, **options: object) -> PageReader:
    options = {"allow_private_networks": True, "max_bytes": 1_000_000, **options}
    return PageReader(client, corpus, **options)  # type: ignore[arg-type]


# ---------------------------------------------------------------- the SSRF guard


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1:{port}/pages/article.html", "loopback"),
        ("http://10.1.2.3/admin", "private"),
        ("http://192.168.0.1/", "private"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),  # cloud metadata
        ("http://localhost:{port}/pages/article.html", "internal host name"),
        ("http://metadata.google.internal/computeMetadata/v1/", "internal host name"),
        ("http://[::1]:{port}/pages/article.html", "loopback"),
        ("http://[::ffff:127.0.0.1]:{port}/", "loopback"),
        ("http://0.0.0.0:{port}/", "unspecified"),
        ("http://100.64.0.1/", "not a public address"),  # carrier-grade NAT
        ("http://224.0.0.1/", "multicast"),
        ("http://[2002:a00:1::1]/", "private"),  # 6to4 of 10.0.0.1
        ("http://[2002:7f00:1::]:{port}/", "loopback"),  # 6to4 of 127.0.0.1
        ("http://[64:ff9b::7f00:1]:{port}/", "loopback"),  # NAT64 of 127.0.0.1
        ("http://[64:ff9b::a9fe:a9fe]/", "link-local"),  # NAT64 of the cloud metadata address
        ("http://[64:ff9b:1::a00:1]/", "reserved"),  # the local-use NAT64 prefix
    ],
)
async def test_the_guard_refuses_internal_addresses(
    web: FakeWeb, client: httpx.AsyncClient, corpus: LocalCorpus, url: str, reason: str
) -> None:
    port = web.url.rsplit(":", 1)[1]
    page = await reader(client, corpus, allow_private_networks=False).read(url.format(port=port), "t", 1000)
    assert not page.ok and reason in (page.error or "")
    assert web.requests == []  # nothing was sent


async def test_a_name_resolving_to_a_private_address_is_refused(client: httpx.AsyncClient, corpus: LocalCorpus) -> None:
    async def resolve(host: str, port: int) -> list[str]:
        return [PUBLIC_IP, "10.0.0.7"]  # one bad answer is enough to refuse

    guarded = reader(client, corpus, allow_private_networks=False, resolver=resolve)
    page = await guarded.read("https://intranet.example/wiki", "", 1000)
    assert not page.ok and "10.0.0.7 is a private address" in (page.error or "")


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.com/x", "gopher://example.com/"])
async def test_only_http_and_https(client: httpx.AsyncClient, corpus: LocalCorpus, url: str) -> None:
    page = await reader(client, corpus).read(url, "", 1000)
    assert not page.ok and "only http and https" in (page.error or "")


def test_guard_functions() -> None:
    check_address(PUBLIC_IP)
    check_address("2606:4700:4700::1111")
    check_host("example.com")
    for address in ("127.0.0.53", "172.16.5.4", "169.254.169.254", "fe80::1", "fd00::1", "::"):
        with pytest.raises(Refused):
            check_address(address)
    for host in ("LOCALHOST", "api.localhost", "metadata.google.internal.", "printer.local"):
        with pytest.raises(Refused):
            check_host(host)


def _public_site(seen: list[httpx.Request], location: str) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/start":
            return httpx.Response(302, headers={"Location": location})
        return httpx.Response(200, headers={"Content-Type": "text/plain"}, text="public text")

    return httpx.MockTransport(handle)


async def _resolve_public(host: str, port: int) -> list[str]:
    assert host == "public.example"
    return [PUBLIC_IP]


@pytest.mark.parametrize("location", ["http://127.0.0.1:8080/admin", "http://169.254.169.254/latest/"])
async def test_a_redirect_to_an_internal_address_is_refused(corpus: LocalCorpus, location: str) -> None:
    seen: list[httpx.Request] = []
    async with httpx.AsyncClient(transport=_public_site(seen, location)) as mock:
        guarded = reader(mock, corpus, allow_private_networks=False, resolver=_resolve_public)
        page = await guarded.read("https://public.example/start", "", 1000)
    assert not page.ok and "refused" in (page.error or "")
    assert [r.url.host for r in seen] == [PUBLIC_IP]  # the first hop only


async def test_a_public_fetch_connects_to_the_checked_address(corpus: LocalCorpus) -> None:
    seen: list[httpx.Request] = []
    async with httpx.AsyncClient(transport=_public_site(seen, "/final")) as mock:
        guarded = reader(mock, corpus, allow_private_networks=False, resolver=_resolve_public)
        page = await guarded.read("https://public.example:8443/start", "Public", 1000)
    assert page.ok and page.text == "public text" and page.url == "https://public.example:8443/start"
    assert [str(r.url) for r in seen] == [f"https://{PUBLIC_IP}:8443/start", f"https://{PUBLIC_IP}:8443/final"]
    assert {r.headers["Host"] for r in seen} == {"public.example:8443"}
    assert {r.extensions["sni_hostname"] for r in seen} == {"public.example"}
    assert {r.headers["Connection"] for r in seen} == {"close"}  # no reuse across names on one IP


# ---------------------------------------------------------------- reading pages


async def test_reads_and_extracts_the_main_text(web: FakeWeb, client: httpx.AsyncClient, corpus: LocalCorpus) -> None:
    page = await reader(client, corpus).read(web.url + "/pages/article.html", "", 10_000)
    assert page.ok and page.title == "Durable execution, explained"
    assert ARTICLE_TEXT in page.text and "exponential backoff" in page.text
    assert "Pricing" not in page.text and "newsletter" not in page.text  # boilerplate dropped


async def test_text_pages_keep_the_given_title_and_are_truncated(
    web: FakeWeb, client: httpx.AsyncClient, corpus: LocalCorpus
) -> None:
    page = await reader(client, corpus).read(web.url + "/pages/notes.txt", "My notes", 11)
    assert page.ok and page.title == "My notes" and page.text == "Plain notes"
    markdown = await reader(client, corpus).read(web.url + "/pages/readme.md", "", 1000)
    assert markdown.ok and markdown.text.startswith("# Readme")
    latin1 = await reader(client, corpus).read(web.url + "/pages/latin1.txt", "", 1000)
    assert latin1.text.startswith("Café crème")


async def test_the_body_is_capped_at_max_bytes(web: FakeWeb, client: httpx.AsyncClient, corpus: LocalCorpus) -> None:
    # A practically endless body: only stopping at max_bytes lets this finish.
    endless = web.url + "/pages/large.txt?n=1000000000000"
    page = await asyncio.wait_for(reader(client, corpus, max_bytes=10_000).read(endless, "", 10**9), 10)
    assert page.ok and 9_000 < len(page.text) <= 10_000


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/pages/image.png", "unsupported content type 'image/png'"),
        ("/pages/download", "unsupported content type 'application/octet-stream'"),
        ("/pages/nowhere", "HTTP 404"),
        ("/pages/status?n=410", "HTTP 410"),
        ("/pages/status?n=403", "HTTP 403"),
        ("/pages/empty.html", "no readable main text"),
    ],
)
async def test_permanent_problems_return_a_failed_page(
    web: FakeWeb, client: httpx.AsyncClient, corpus: LocalCorpus, path: str, reason: str
) -> None:
    page = await reader(client, corpus).read(web.url + path, "T", 1000)
    assert not page.ok and reason in (page.error or "") and page.text == ""


async def test_redirects_are_followed_up_to_the_limit(
    web: FakeWeb, client: httpx.AsyncClient, corpus: LocalCorpus
) -> None:
    ok = await reader(client, corpus, max_redirects=3).read(web.url + "/pages/redirect?n=2", "", 10_000)
    assert ok.ok and ARTICLE_TEXT in ok.text and len(web.calls("/pages/")) == 4
    too_many = await reader(client, corpus, max_redirects=3).read(web.url + "/pages/redirect?n=3", "", 10_000)
    assert not too_many.ok and "too many redirects" in (too_many.error or "")


async def test_a_redirect_to_another_scheme_is_refused(
    web: FakeWeb, client: httpx.AsyncClient, corpus: LocalCorpus
) -> None:
    page = await reader(client, corpus).read(web.url + "/pages/redirect-to?url=file:///etc/passwd", "", 100)
    assert not page.ok and "only http and https" in (page.error or "")


async def test_a_read_records_when_its_status_and_the_texts_sha256(
    web: FakeWeb, client: httpx.AsyncClient, corpus: LocalCorpus
) -> None:
    before = datetime.now(UTC)
    page = await reader(client, corpus).read(web.url + "/pages/redirect?n=1", "", 40)  # the final answer's status
    after = datetime.now(UTC)
    assert page.ok and len(page.text) == 40 and page.http_status == 200
    assert page.sha256 == hashlib.sha256(page.text.encode()).hexdigest()  # of the text as cut, which the run uses
    assert page.fetched_at is not None and before <= page.fetched_at <= after and page.note is None
    local = await reader(client, corpus).read("local://guide.md", "", 1000)
    assert local.http_status is None and local.sha256 == hashlib.sha256(local.text.encode()).hexdigest()
    gone = await reader(client, corpus).read(web.url + "/pages/nowhere", "", 1000)
    assert not gone.ok and gone.sha256 is None and gone.fetched_at is not None


# ---------------------------------------------------------------- transient problems raise


async def test_server_errors_raise_for_a_retry(web: FakeWeb, client: httpx.AsyncClient, corpus: LocalCorpus) -> None:
    with pytest.raises(ApplicationError) as caught:
        await reader(client, corpus).read(web.url + "/pages/status?n=503", "", 100)
    assert not caught.value.non_retryable


async def test_429_raises_with_the_servers_delay(web: FakeWeb, client: httpx.AsyncClient, corpus: LocalCorpus) -> None:
    with pytest.raises(ApplicationError) as caught:
        await reader(client, corpus).read(web.url + "/pages/status?n=429", "", 100)
    assert caught.value.next_retry_delay == timedelta(seconds=3) and not caught.value.non_retryable


@pytest.mark.parametrize(
    ("retry_after", "waits"),
    [("100000000", 30.0), ("inf", 30.0), ("nan", 5.0), ("-5", 0.1), ("12", 12.0), ("soon", 5.0)],
)
async def test_a_pages_retry_after_is_capped(
    web: FakeWeb, client: httpx.AsyncClient, corpus: LocalCorpus, retry_after: str, waits: float
) -> None:
    with pytest.raises(ApplicationError) as caught:
        await reader(client, corpus).read(web.url + f"/pages/retry-after?n={retry_after}", "", 100)
    assert caught.value.next_retry_delay == timedelta(seconds=waits)


async def test_a_retry_after_date_is_read_and_capped(
    web: FakeWeb, client: httpx.AsyncClient, corpus: LocalCorpus
) -> None:
    far = quote(format_datetime(datetime.now(UTC) + timedelta(days=400), usegmt=True))
    with pytest.raises(ApplicationError) as caught:
        await reader(client, corpus).read(web.url + f"/pages/retry-after?n={far}", "", 100)
    assert caught.value.next_retry_delay == timedelta(seconds=30)
    assert "it asked for" in str(caught.value)


@pytest.mark.parametrize("path", ["/pages/trickle?n=0.1", "/pages/hang?n=5"])
async def test_a_page_that_trickles_or_hangs_is_not_read_after_the_deadline(
    web: FakeWeb, client: httpx.AsyncClient, corpus: LocalCorpus, path: str
) -> None:
    # The client's per-read timeout (15 s) never trips on a byte every 0.1 s; the whole fetch's does.
    page = await reader(client, corpus, deadline=0.5).read(web.url + path, "", 100)
    assert not page.ok and "did not finish loading within 0.5s" in (page.error or "")


async def test_timeouts_and_refused_connections_raise(web: FakeWeb, corpus: LocalCorpus) -> None:
    async with httpx.AsyncClient(timeout=0.2) as impatient:
        with pytest.raises(httpx.TimeoutException):
            await reader(impatient, corpus).read(web.url + "/pages/slow?n=1", "", 100)
        with socket.socket() as closed:
            closed.bind(("127.0.0.1", 0))
            port = closed.getsockname()[1]
        with pytest.raises(httpx.ConnectError):
            await reader(impatient, corpus).read(f"http://127.0.0.1:{port}/", "", 100)


# ---------------------------------------------------------------- local:// and the activity


async def test_local_pages(client: httpx.AsyncClient, corpus: LocalCorpus) -> None:
    page = await reader(client, corpus).read("local://guide.md", "", 1000)
    assert page.ok and page.title == "The guide" and "durable timers" in page.text
    refused = await reader(client, corpus).read("local://../outside.md", "", 1000)
    assert not refused.ok and "outside the local corpus" in (refused.error or "")


async def test_read_page_activity_heartbeats(web: FakeWeb, client: httpx.AsyncClient, corpus: LocalCorpus) -> None:
    env = ActivityEnvironment()
    beats: list[object] = []
    env.on_heartbeat = lambda *details: beats.append(details)
    activities = PageActivities(reader(client, corpus))
    page = await env.run(activities.read_page, ReadPageInput(url=web.url + "/pages/slow?n=0.3", title="Slow"))
    assert page.ok and page.text == "finally here" and beats


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
async def test_compressed_pages_are_inflated(
    web: FakeWeb, client: httpx.AsyncClient, corpus: LocalCorpus, encoding: str
) -> None:
    page = await reader(client, corpus).read(f"{web.url}/pages/encoded?n={encoding}", "", 10_000)
    assert page.ok and ARTICLE_TEXT[:40] in page.text
    assert web.requests[-1].headers["Accept-Encoding"] == "gzip, deflate"


@pytest.mark.parametrize(("kind", "reason"), [("gzip-bomb", "inflates past 1000000 bytes"), ("br", "'br'")])
async def test_a_decompression_bomb_or_an_unasked_encoding_is_refused(
    web: FakeWeb, client: httpx.AsyncClient, corpus: LocalCorpus, kind: str, reason: str
) -> None:
    page = await reader(client, corpus).read(f"{web.url}/pages/encoded?n={kind}", "", 10_000)
    assert not page.ok and reason in (page.error or "")
