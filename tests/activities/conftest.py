"""Activity tests: a loopback web for the search providers and page reader, an HTTP client, a local corpus,
a sandbox Slack with a reporter that posts into it, and the PostgreSQL server on 127.0.0.1:5432 (a fresh
schema for each test)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from slack_sdk.web.async_client import AsyncWebClient

from activities.archive.store import ArchiveStore
from activities.search.local_corpus import LocalCorpus
from activities.slack.reporter import SlackReporter
from activities.slack.streams import ProgressMode
from activities.slack.writes import SlackWrites
from core.response_urls import ResponseUrls
from sandbox import SlackApiServer
from tests.activities.slack_runs import ALICE, BOB, RecordingReporter
from tests.fakes.search_servers import FakeWeb
from tests.support.slack import sandbox_slack

DOCS = {
    "temporal.md": "# Temporal retry policies\n\nActivities are retried with exponential backoff. "
    "A retry policy sets the initial interval, the backoff coefficient and maximum attempts.",
    "slack.html": "<html><head><title>Slack &amp; Block Kit</title></head><body><article>"
    "<p>Slack apps answer slash commands within three seconds and build messages from Block Kit "
    "blocks. Interactive buttons send payloads to the request URL.</p></article></body></html>",
    "notes.txt": "Loose notes: SQLite FTS5 ranks documents with BM25. Retry is mentioned once.",
    "guides/postgres.markdown": "Intro text before any heading.\n\n## PostgreSQL archives\n\n"
    "Use JSONB columns and GIN indexes for the archive of research results.",
    "ignored.py": "print('retry policies are not indexed from python files')",
}


@pytest.fixture
def web() -> Iterator[FakeWeb]:
    """A loopback web: SearXNG, Tavily and Brave APIs, and pages to read."""
    with FakeWeb() as server:
        yield server


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5) as http:
        yield http


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/archive/runs.db"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def store(database_url: str) -> Iterator[ArchiveStore]:
    store = ArchiveStore(database_url)
    store.migrate()
    yield store
    store.dispose()


@pytest.fixture
def corpus(tmp_path: Path) -> LocalCorpus:
    """A small corpus of DOCS (one file it must not index), with a secret just outside it."""
    root = tmp_path / "corpus"
    for name, text in DOCS.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    (tmp_path / "secret.md").write_text("# Secret\n\nnot part of the corpus")
    return LocalCorpus(root)


@pytest.fixture
def slack() -> Iterator[SlackApiServer]:
    """A sandbox Slack with alice and bob, a public channel the bot never joined, and a private one."""
    with sandbox_slack({"alice": ALICE, "bob": BOB}) as server:
        server.workspace.add_channel("research", id="CRESEARCH", members=[ALICE, BOB])  # public; the bot never joined
        server.workspace.add_channel("secret", id="CSECRET", private=True, members=[ALICE])
        yield server


def make_reporter(
    slack: SlackApiServer, http: httpx.AsyncClient, progress: ProgressMode, response_urls: ResponseUrls | None = None
) -> SlackReporter:
    client = AsyncWebClient(token=slack.workspace.bot_token, base_url=slack.base_url, retry_handlers=[])
    writes = SlackWrites({}, rate_limited_tries=1)
    return SlackReporter(
        client, RecordingReporter(), http, writes=writes, progress=progress, response_urls=response_urls
    )


@pytest.fixture
async def reporter(slack: SlackApiServer) -> AsyncIterator[SlackReporter]:
    """A reporter into that Slack, unpaced, with a recording fallback, showing progress as the
    chat.update checklist (SLACK_PROGRESS=update; tests/activities/test_slack_stream.py streams it)."""
    async with httpx.AsyncClient() as http:
        yield make_reporter(slack, http, ProgressMode.UPDATE)


@pytest.fixture
def response_urls(store: ArchiveStore) -> ResponseUrls:
    """The commands' response_urls as the bot keeps them, in the archive database (core/response_urls.py)."""
    return ResponseUrls(store.engine)


@pytest.fixture
async def telling_reporter(slack: SlackApiServer, response_urls: ResponseUrls) -> AsyncIterator[SlackReporter]:
    """The reporter, able to tell an asker in private through the response_url the bot kept."""
    async with httpx.AsyncClient() as http:
        yield make_reporter(slack, http, ProgressMode.UPDATE, response_urls)


@pytest.fixture
async def streaming_reporter(slack: SlackApiServer) -> AsyncIterator[SlackReporter]:
    """The same reporter with SLACK_PROGRESS=stream, the default."""
    async with httpx.AsyncClient() as http:
        reporter = make_reporter(slack, http, ProgressMode.STREAM)
        yield reporter
        await reporter.settle()
