"""Page texts live in the archive, not in workflow history: read_page keeps them, the writers load them."""

from __future__ import annotations

import hashlib

import pytest
from temporalio.testing import ActivityEnvironment

from activities.archive.store import ArchiveStore
from activities.model.llm import LlmActivities
from activities.model.offline_model import OfflineResearchModel
from activities.search.page_store import EXCERPT_CHARS, PageStore
from workflows.activity_io import SynthesizeInput
from workflows.models import Page, Source

LONG = "Durable execution keeps a workflow's progress in an event history. " * 200  # ~13,000 chars
URL = "https://example.org/durable?" + "q=x&" * 600  # a long URL is a key too


def page(text: str = LONG, url: str = URL) -> Page:
    return Page(url=url, title="Durable", text=text)


async def test_a_long_page_is_kept_and_comes_back_whole(store: ArchiveStore) -> None:
    pages = PageStore(store)
    kept = await pages.keep("research-1", page())
    assert kept.stored and kept.text == LONG[:EXCERPT_CHARS]
    again = await pages.keep("research-1", page())  # a retried read overwrites itself
    short = page("A short page.", "https://example.org/short")
    restored = await pages.restore("research-1", [again, short])
    assert [(p.text, p.stored) for p in restored] == [(LONG, False), ("A short page.", False)]


async def test_short_unreadable_and_older_pages_stay_as_they_are(store: ArchiveStore) -> None:
    pages = PageStore(store)
    for carried in (page("short"), Page(url=URL, title="t", ok=False, error="404")):
        assert await pages.keep("research-1", carried) == carried
    inline = page()  # a run from before the page store carries its text whole
    assert await pages.restore("research-1", [inline]) == [inline]


async def test_another_runs_pages_are_not_found(store: ArchiveStore) -> None:
    pages = PageStore(store)
    kept = await pages.keep("research-1", page())
    with pytest.raises(LookupError, match="missing from the archive"):
        await pages.restore("research-2", [kept])


async def test_the_writer_prompts_with_the_full_texts(store: ArchiveStore) -> None:
    pages = PageStore(store)
    env = ActivityEnvironment()  # its workflow id is the key, as a real run's would be
    kept = await pages.keep(env.info.workflow_id, page())
    data = SynthesizeInput(
        question="How does durable execution keep progress?",
        sources=[Source(number=1, url=URL, title="Durable")],
        pages=[kept],
    )
    seen: list[SynthesizeInput] = []

    class Recording(OfflineResearchModel):
        async def synthesize(self, data: SynthesizeInput):  # type: ignore[override]
            seen.append(data)
            return await super().synthesize(data)

    await env.run(LlmActivities(Recording(), pages).synthesize_draft, data)
    assert seen[0].pages[0].text == LONG


async def test_the_excerpt_keeps_the_record_of_the_whole_read(store: ArchiveStore) -> None:
    read = page().model_copy(update={"http_status": 200, "sha256": hashlib.sha256(LONG.encode()).hexdigest()})
    kept = await PageStore(store).keep("research-1", read)
    assert kept.text != LONG and (kept.http_status, kept.sha256) == (200, read.sha256)  # the evidence's record
    [restored] = await PageStore(store).restore("research-1", [kept])
    assert hashlib.sha256(restored.text.encode()).hexdigest() == kept.sha256  # the archived text is what was read
