"""Page texts kept out of workflow history: a run's pages live in the archive's database, and the
workflow carries each page's URL with a short excerpt.

``read_page`` stores the text it read; the writing activities load the texts back before they
prompt the model. Every key is (workflow id, sha256 of the URL), so a retried read overwrites
itself, and a run continued as new (same workflow id) still finds its pages.
"""

from __future__ import annotations

import asyncio
import hashlib
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from activities.archive.store import ArchiveStore, research_pages
from workflows.models import Page

__all__ = ["EXCERPT_CHARS", "PageStore"]

# What a page keeps in workflow history: enough to recognise it in a status or a log, no more.
EXCERPT_CHARS = 200


def url_key(url: str) -> str:
    return hashlib.sha256(url.encode()).hexdigest()


class PageStore:
    def __init__(self, archive: ArchiveStore) -> None:
        self._engine = archive.engine

    async def keep(self, workflow_id: str, page: Page) -> Page:
        """Store a page's text; answer the page as the workflow should carry it (an excerpt)."""
        if not page.ok or page.stored or len(page.text) <= EXCERPT_CHARS:
            return page
        await asyncio.to_thread(self._save, workflow_id, page)
        return page.model_copy(update={"text": page.text[:EXCERPT_CHARS], "stored": True})

    async def restore(self, workflow_id: str, pages: list[Page]) -> list[Page]:
        """The pages with their full texts back (pages carried whole, from older runs, as they are)."""
        wanted = [page.url for page in pages if page.stored]
        if not wanted:
            return pages
        texts = await asyncio.to_thread(self._load, workflow_id, wanted)
        missing = [url for url in wanted if url not in texts]
        if missing:  # the archive lost them: say so, rather than write from excerpts
            raise LookupError(f"the texts of {len(missing)} pages of this run are missing from the archive")
        return [
            page.model_copy(update={"text": texts[page.url], "stored": False}) if page.stored else page
            for page in pages
        ]

    def _save(self, workflow_id: str, page: Page) -> None:
        row = {
            "workflow_id": workflow_id,
            "url_key": url_key(page.url),
            "url": page.url,
            "title": page.title,
            "text": page.text,
            "stored_at": datetime.now(UTC),
        }
        insert = postgresql.insert if self._engine.dialect.name == "postgresql" else sqlite.insert
        statement = insert(research_pages).values(row)
        statement = statement.on_conflict_do_update(
            index_elements=["workflow_id", "url_key"], set_={"text": row["text"], "title": row["title"]}
        )
        with self._engine.begin() as connection:
            connection.execute(statement)

    def _load(self, workflow_id: str, urls: list[str]) -> dict[str, str]:
        keys = {url_key(url): url for url in urls}
        query = sa.select(research_pages.c.url_key, research_pages.c.text).where(
            research_pages.c.workflow_id == workflow_id, research_pages.c.url_key.in_(list(keys))
        )
        with self._engine.connect() as connection:
            return {keys[row.url_key]: row.text for row in connection.execute(query)}
