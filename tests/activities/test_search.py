"""The search activity: each web provider over real HTTP, the merge, the errors, the configuration."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from structlog.testing import capture_logs
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.search.local_corpus import LocalCorpus
from activities.search.providers import (
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
from core.settings import Settings
from tests.fakes.search_servers import FakeWeb
from workflows.activity_io import SearchInput
from workflows.models import SearchHit


def providers(web: FakeWeb, client: httpx.AsyncClient) -> dict[str, object]:
    return {
        "searxng": SearxngSearch(client, web.url + "/searxng/"),
        "tavily": TavilySearch(client, FakeWeb.TAVILY_KEY, web.url + "/tavily"),
        "brave": BraveSearch(client, FakeWeb.BRAVE_KEY, web.url + "/brave"),
    }


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


async def test_a_search_providers_huge_retry_after_is_capped(web: FakeWeb, client: httpx.AsyncClient) -> None:
    web.fail("tavily", 429, retry_after=100_000_000)  # 3 years: Temporal would wait it out
    with pytest.raises(ApplicationError) as caught:
        await providers(web, client)["tavily"].search("q", 3)
    assert caught.value.next_retry_delay == timedelta(seconds=60)


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
    # A corpus URL's fragment names a page, slide or sheet: two pages of one PDF are two sources.
    assert normalize_url("local://Guides/x.pdf#page=2") == "local://Guides/x.pdf#page=2"
    assert normalize_url("local://x.pdf#page=2") != normalize_url("local://x.pdf#page=3")


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
