"""The search activity: the offline corpus, each web provider over real HTTP, the merge, the errors."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from structlog.testing import capture_logs
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.local_corpus import CorpusReadError, LocalCorpus, fts_query
from activities.search import (
    BraveSearch,
    LocalSearch,
    SearchActivities,
    SearxngSearch,
    TavilySearch,
    build_search_providers,
    merge_hits,
    normalize_url,
)
from core.errors import ConfigError
from core.settings import REPO_ROOT, Settings
from tests.fakes.search_servers import FakeWeb
from workflows.activity_io import SearchInput
from workflows.models import SearchHit

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
def corpus(tmp_path: Path) -> LocalCorpus:
    root = tmp_path / "corpus"
    for name, text in DOCS.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    (tmp_path / "secret.md").write_text("# Secret\n\nnot part of the corpus")
    return LocalCorpus(root)


def providers(web: FakeWeb, client: httpx.AsyncClient) -> dict[str, object]:
    return {
        "searxng": SearxngSearch(client, web.url + "/searxng/"),
        "tavily": TavilySearch(client, FakeWeb.TAVILY_KEY, web.url + "/tavily"),
        "brave": BraveSearch(client, FakeWeb.BRAVE_KEY, web.url + "/brave"),
    }


# ---------------------------------------------------------------- local corpus


def test_local_corpus_indexes_files_with_urls_and_titles(corpus: LocalCorpus) -> None:
    hits = {hit.url: hit for hit in corpus.search("retry policies block kit bm25 archives", 10)}
    assert set(hits) == {
        "local://temporal.md",
        "local://slack.html",
        "local://notes.txt",
        "local://guides/postgres.markdown",
    }
    assert hits["local://temporal.md"].title == "Temporal retry policies"
    assert hits["local://slack.html"].title == "Slack & Block Kit"
    assert hits["local://notes.txt"].title == "notes.txt"
    assert hits["local://guides/postgres.markdown"].title == "PostgreSQL archives"
    assert all(hit.provider == "local" for hit in hits.values())


def test_local_corpus_ranks_the_best_match_first(corpus: LocalCorpus) -> None:
    hits = corpus.search("retry policy backoff", 5)
    assert [hit.url for hit in hits[:2]] == ["local://temporal.md", "local://notes.txt"]
    assert hits[0].score > hits[1].score > 0
    assert "backoff" in hits[0].snippet
    assert corpus.search("slash commands", 1)[0].url == "local://slack.html"  # HTML body indexed


def test_partial_matches_still_rank(corpus: LocalCorpus) -> None:
    hits = corpus.search("gin indexes zxqvunknownword", 5)
    assert [hit.url for hit in hits] == ["local://guides/postgres.markdown"]


@pytest.mark.parametrize(
    "query",
    [
        '"unbalanced quote',
        "retry AND OR NOT",
        "title:retry",
        "retr*",
        "NEAR(retry backoff)",
        "-retry",
        ")(",
        "'single' \"double\"",
        "^start",
        "a:b:c {x} [y]",
        "café résumé ✓",
    ],
)
def test_user_text_never_raises_an_fts_syntax_error(corpus: LocalCorpus, query: str) -> None:
    assert isinstance(corpus.search(query, 5), list)


def test_query_sanitising() -> None:
    assert fts_query('what is "retry" AND backoff*?') == '"retry" OR "backoff"'
    assert fts_query("   !!! ()") == ""
    assert fts_query("the of") == '"the" OR "of"'  # only stopwords: keep them rather than nothing


def test_empty_query_finds_nothing(corpus: LocalCorpus) -> None:
    assert corpus.search("?!", 5) == []


async def test_index_is_built_once_lazily_and_shared_across_threads(corpus: LocalCorpus) -> None:
    assert corpus._db is None
    results = await asyncio.gather(*(asyncio.to_thread(corpus.search, "retry", 3) for _ in range(16)))
    assert all(r == results[0] for r in results) and results[0]
    db = corpus._db
    corpus.search("retry", 1)
    assert corpus._db is db


def test_read_local_documents(corpus: LocalCorpus) -> None:
    title, text = corpus.read("local://slack.html")
    assert title == "Slack & Block Kit" and "three seconds" in text and "<p>" not in text
    assert corpus.read("local://guides/postgres.markdown")[0] == "PostgreSQL archives"


@pytest.mark.parametrize(
    "url",
    [
        "local://../secret.md",
        "local:///etc/passwd",
        "local://guides/../../secret.md",
        "local://ignored.py",
        "local://missing.md",
        "https://example.com/temporal.md",
    ],
)
def test_read_refuses_urls_outside_the_corpus(corpus: LocalCorpus, url: str) -> None:
    with pytest.raises(CorpusReadError):
        corpus.read(url)


def test_read_refuses_a_symlink_out_of_the_corpus(corpus: LocalCorpus, tmp_path: Path) -> None:
    (corpus.corpus_dir / "link.md").symlink_to(tmp_path / "secret.md")
    with pytest.raises(CorpusReadError):
        corpus.read("local://link.md")
    assert all(hit.url != "local://link.md" for hit in corpus.search("secret", 5))


def test_the_shipped_docs_corpus_answers_offline() -> None:
    docs = LocalCorpus(REPO_ROOT / "docs")
    assert len(docs.search("continue-as-new event history", 3)) >= 1
    assert "temporal" in docs.search("continue-as-new event history replay", 1)[0].url
    assert "ssrf" in docs.search("server-side request forgery metadata 169.254.169.254", 1)[0].url
    assert "fts5" in docs.search("bm25 ranking full-text index", 1)[0].url


# ---------------------------------------------------------------- web providers over HTTP


async def test_searxng_over_http(web: FakeWeb, client: httpx.AsyncClient) -> None:
    hits = await providers(web, client)["searxng"].search("temporal workflows", 2)
    assert [h.url for h in hits] == [
        "https://docs.temporal.io/workflows#intro",
        "https://example.com/retries/?utm_source=searx",
    ]
    assert hits[0].provider == "searxng" and hits[0].snippet == "What a workflow is."
    (call,) = web.calls("/searxng")
    assert call.query == {"q": ["temporal workflows"], "format": ["json"]}


async def test_tavily_over_http(web: FakeWeb, client: httpx.AsyncClient) -> None:
    hits = await providers(web, client)["tavily"].search("activities", 1)
    assert len(hits) == 1 and hits[0].score == pytest.approx(0.91) and hits[0].provider == "tavily"
    (call,) = web.calls("/tavily")
    assert call.method == "POST" and call.body == {"query": "activities", "max_results": 1}
    assert call.headers["Authorization"] == f"Bearer {FakeWeb.TAVILY_KEY}"


async def test_brave_over_http(web: FakeWeb, client: httpx.AsyncClient) -> None:
    hits = await providers(web, client)["brave"].search("retries", 50)
    assert hits[0].title == "Retries" and hits[0].snippet == "Retry policies & backoff."
    (call,) = web.calls("/brave")
    assert call.query == {"q": ["retries"], "count": ["20"]}  # clamped to Brave's maximum
    assert call.headers["X-Subscription-Token"] == FakeWeb.BRAVE_KEY


async def test_429_becomes_a_delayed_retry(web: FakeWeb, client: httpx.AsyncClient) -> None:
    web.fail("tavily", 429, retry_after=7)
    with pytest.raises(ApplicationError) as caught:
        await providers(web, client)["tavily"].search("q", 3)
    assert caught.value.next_retry_delay == timedelta(seconds=7)
    assert not caught.value.non_retryable


@pytest.mark.parametrize(("name", "setting"), [("tavily", "TAVILY_API_KEY"), ("brave", "BRAVE_API_KEY")])
async def test_a_wrong_key_is_not_retried(web: FakeWeb, client: httpx.AsyncClient, name: str, setting: str) -> None:
    provider = (TavilySearch if name == "tavily" else BraveSearch)(client, "wrong", f"{web.url}/{name}")
    with pytest.raises(ApplicationError) as caught:
        await provider.search("q", 3)
    assert caught.value.non_retryable and caught.value.type == "Unauthorized"
    assert setting in str(caught.value)


async def test_server_errors_are_retryable(web: FakeWeb, client: httpx.AsyncClient) -> None:
    web.fail("searxng", 502)
    with pytest.raises(ApplicationError) as caught:
        await providers(web, client)["searxng"].search("q", 3)
    assert not caught.value.non_retryable


async def test_searxng_without_its_json_api_says_how_to_enable_it(web: FakeWeb, client: httpx.AsyncClient) -> None:
    web.fail("searxng", 403, body=b"<h1>Forbidden</h1>")
    with pytest.raises(ApplicationError) as caught:
        await providers(web, client)["searxng"].search("q", 3)
    assert caught.value.non_retryable and "search.formats" in str(caught.value)


async def test_a_non_json_answer_is_retryable(web: FakeWeb, client: httpx.AsyncClient) -> None:
    web.fail("tavily", 200, body=b"<html>a proxy error page</html>")
    with pytest.raises(ApplicationError) as caught:
        await providers(web, client)["tavily"].search("q", 3)
    assert caught.value.type == "BadResponse" and not caught.value.non_retryable


# ---------------------------------------------------------------- merge and the activity


def test_normalize_url() -> None:
    assert normalize_url("HTTPS://Example.COM/a/?utm_source=x&b=2&UTM_Medium=y#frag") == "https://example.com/a?b=2"
    assert normalize_url("https://example.com/") == normalize_url("https://example.com")
    assert normalize_url("https://example.com/A") != normalize_url("https://example.com/a")  # paths keep case
    assert normalize_url("local://Guides/x.md#part") == "local://Guides/x.md"


def test_merge_prefers_agreement_and_caps_the_count() -> None:
    a = [SearchHit(url=f"https://a.example/{i}", title="a", provider="a") for i in range(4)]
    b = [SearchHit(url="https://A.example/3/", title="b", provider="b")]
    merged = merge_hits([a, b], limit=3)
    assert [h.url for h in merged] == ["https://a.example/3", "https://a.example/0", "https://a.example/1"]
    assert merged[0].score > merged[1].score > merged[2].score


async def test_search_activity_merges_every_provider(
    web: FakeWeb, client: httpx.AsyncClient, corpus: LocalCorpus
) -> None:
    activities = SearchActivities([LocalSearch(corpus), *providers(web, client).values()])
    output = await ActivityEnvironment().run(activities.search, SearchInput(query="retry policies", limit=3))
    urls = [hit.url for hit in output.hits]
    assert len(urls) == len({normalize_url(u) for u in urls})  # no duplicates left
    assert urls[0] == "https://example.com/retries/?utm_source=searx"  # found by two providers
    assert {hit.provider for hit in output.hits} == {"local", "searxng", "tavily", "brave"}
    assert [h.score for h in output.hits] == sorted((h.score for h in output.hits), reverse=True)
    assert len(output.hits) <= 3 * 4


async def test_one_failing_provider_is_logged_and_skipped(web: FakeWeb, client: httpx.AsyncClient) -> None:
    web.fail("brave", 500)
    p = providers(web, client)
    with capture_logs() as logs:
        output = await ActivityEnvironment().run(
            SearchActivities([p["brave"], p["searxng"]]).search, SearchInput(query="q", limit=5)
        )
    assert {hit.provider for hit in output.hits} == {"searxng"}
    (event,) = [e for e in logs if e["event"] == "search_provider_failed"]
    assert event["provider"] == "brave" and event["log_level"] == "warning"


async def test_when_every_provider_fails_the_first_failure_is_raised(web: FakeWeb, client: httpx.AsyncClient) -> None:
    web.fail("tavily", 429, retry_after=2)
    web.fail("brave", 500)
    p = providers(web, client)
    with pytest.raises(ApplicationError) as caught:
        await ActivityEnvironment().run(SearchActivities([p["tavily"], p["brave"]]).search, SearchInput(query="q"))
    assert caught.value.type == "RateLimited"


# ---------------------------------------------------------------- configuration


def settings(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("provider", "setting"), [("searxng", "SEARXNG_URL"), ("tavily", "TAVILY_API_KEY"), ("brave", "BRAVE_API_KEY")]
)
async def test_a_missing_setting_is_a_config_error(
    monkeypatch: pytest.MonkeyPatch, corpus: LocalCorpus, client: httpx.AsyncClient, provider: str, setting: str
) -> None:
    monkeypatch.delenv(setting, raising=False)
    with pytest.raises(ConfigError, match=setting) as caught:
        build_search_providers(settings(search_provider=f"local,{provider}"), client, corpus)
    assert "\n" not in str(caught.value)


async def test_build_providers_in_order(corpus: LocalCorpus, client: httpx.AsyncClient) -> None:
    configured = settings(
        search_provider="brave,local,searxng,tavily,local",
        searxng_url="http://searx.test",
        tavily_api_key="k1",
        brave_api_key="k2",
    )
    built = build_search_providers(configured, client, corpus)
    assert [p.name for p in built] == ["brave", "local", "searxng", "tavily"]


async def test_a_missing_corpus_dir_is_a_config_error(tmp_path: Path, client: httpx.AsyncClient) -> None:
    with pytest.raises(ConfigError, match="RESEARCH_CORPUS_DIR"):
        build_search_providers(settings(search_provider="local"), client, LocalCorpus(tmp_path / "nope"))
