"""Nothing outside can hold a run: pages that answer 429 with a Retry-After of three years, trickle a
byte at a time, or never answer are read by the real page reader (over loopback HTTP), and the run
reaches its draft, naming the pages it could not read. (About a minute: the 429 page's two capped
waits of 30 s pass in real time; the time-skipping server does not skip an activity's retry wait.)"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from activities.search.local_corpus import LocalCorpus
from activities.search.pages import PageActivities, PageReader
from core.settings import REPO_ROOT
from tests.fakes.activities import FakeActivities
from tests.fakes.search_servers import FakeWeb
from tests.workflows.helpers import fake_worker, new_queue, start_run, wait_for_stage
from workflows.activity_io import SearchInput, SearchOutput
from workflows.calls import SearchCalls
from workflows.declaring import implements
from workflows.models import SearchHit, Stage

STALLING = {
    "/pages/retry-after?n=100000000": "rate limiting us",
    "/pages/trickle?n=0.1": "did not finish loading",
    "/pages/hang?n=30": "did not finish loading",
}


class StallingWeb(FakeActivities):
    """The fakes, but search finds the stalling pages and one good page, and the real reader reads them."""

    def __init__(self, web: FakeWeb, http: httpx.AsyncClient) -> None:
        super().__init__()
        self.urls = [web.url + path for path in [*STALLING, "/pages/article.html"]]
        corpus = LocalCorpus(REPO_ROOT / "tests" / "data" / "corpus")
        # A short FETCH_DEADLINE_SECONDS: the trickling and hanging pages give up after 1 s.
        reader = PageReader(http, corpus, allow_private_networks=True, max_bytes=100_000, deadline=1.0)
        self.reader = PageActivities(reader)

    @implements(SearchCalls.search)
    async def search(self, input: SearchInput) -> SearchOutput:
        self.calls["search"] += 1
        hits = [
            SearchHit(url=url, title=f"page {n}", snippet="", provider="fake", score=1)
            for n, url in enumerate(self.urls)
        ]
        return SearchOutput(hits=hits)

    def all(self) -> list[Callable[..., Any]]:
        return [self.reader.read_page if f.__name__ == "read_page" else f for f in super().all()]


@pytest.fixture
def web() -> Iterator[FakeWeb]:
    with FakeWeb() as running:
        yield running


@pytest.mark.slow
async def test_pages_that_stall_are_named_and_the_run_reaches_its_draft(env: WorkflowEnvironment, web: FakeWeb) -> None:
    async with httpx.AsyncClient(timeout=15) as http:
        fakes, queue = StallingWeb(web, http), new_queue()
        async with fake_worker(env.client, queue, fakes):
            handle = await start_run(env.client, queue, research_depth=0)
            status = await wait_for_stage(handle, Stage.AWAITING_DECISION, tries=1200)
            await handle.terminate()

    assert status.pages_read == status.pages_total == 4
    assert [s.url for s in status.sources] == [web.url + "/pages/article.html"]
    assert len(status.pages_unread) == 3
    assert all(line.startswith("127.0.0.1: ") for line in status.pages_unread)
    whys = [next((why for why in set(STALLING.values()) if why in line), line) for line in status.pages_unread]
    assert sorted(whys) == sorted(STALLING.values()), status.pages_unread
    # The 429 page was asked again (its Retry-After capped at 30 s), then given up by the read's deadline.
    assert len(web.calls("/pages/retry-after")) >= 2
