"""Builds every activity from Settings, with the clients they share; checks settings up front."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from activities.archive.ratings import RatingActivities, RatingStore
from activities.archive.store import ArchiveStore, StoreActivities
from activities.model.llm import LlmActivities, build_research_model
from activities.progress import LogReporter, ProgressActivities, Reporter
from activities.search.local_corpus import LocalCorpus
from activities.search.page_store import PageStore
from activities.search.pages import PageActivities, PageReader
from activities.search.providers import SearchActivities, build_search_providers
from activities.slack.shared_budget import SharedBudget, workspace_key
from activities.verify import VerifyActivities
from core.response_urls import ResponseUrls
from core.run_threads import RunThreads
from core.settings import Settings
from core.workspace_tokens import WorkspaceTokens

USER_AGENT = "ResearchBot/0.1 (+https://github.com/researchbot)"


@dataclass
class Activities:
    llm: LlmActivities
    search: SearchActivities
    pages: PageActivities
    store: StoreActivities
    progress: ProgressActivities
    verify: VerifyActivities
    ratings: RatingActivities

    def all(self) -> list[Callable[..., Any]]:
        return [
            self.llm.plan_research,
            self.llm.plan_revision,
            self.llm.reflect_on_gaps,
            self.llm.synthesize_draft,
            self.llm.finalize_answer,
            self.llm.judge_claims,
            self.search.search,
            self.pages.read_page,
            self.store.store_result,
            self.progress.report_progress,
            self.verify.verify_citations,
            self.ratings.record_rating,
        ]


def build_shared_budget(settings: Settings, store: ArchiveStore) -> SharedBudget | None:
    """Slack's budget shared with the other workers of the workspace, where the database can hold it:
    on PostgreSQL (several workers), not on SQLite (one worker, whose own budget is the whole)."""
    if settings.slack_bot_token is None or store.engine.dialect.name != "postgresql":
        return None
    workspace = workspace_key(settings.slack_bot_token.get_secret_value())
    return SharedBudget.connect(store.url, workspace, retention=settings.slack_message_state_retention)


def build_reporter(
    settings: Settings,
    http: httpx.AsyncClient,
    shared: SharedBudget | None = None,
    threads: RunThreads | None = None,
    response_urls: ResponseUrls | None = None,
) -> Reporter:
    if settings.slack_bot_token is None:
        return LogReporter()
    from activities.slack.reporter import SlackReporter
    from activities.slack.streams import ProgressMode
    from activities.slack.writes import SlackWrites
    from slack_ui.client import build_slack_client

    progress = ProgressMode(settings.slack_progress)
    return SlackReporter(
        build_slack_client(settings),
        fallback=LogReporter(),
        http=http,
        writes=SlackWrites(shared=shared),
        progress=progress,
        report_max_messages=settings.slack_report_max_messages,
        threads=threads,
        response_urls=response_urls,
    )


@asynccontextmanager
async def _disposed(store: ArchiveStore, shared: SharedBudget | None) -> AsyncIterator[None]:
    """The database connections close with the worker: the archive's pool and the shared budget's."""
    try:
        yield
    finally:
        if shared is not None:
            shared.dispose()
        store.dispose()


@asynccontextmanager
async def build_activities(settings: Settings) -> AsyncIterator[Activities]:
    """Every activity with its clients; raises ConfigError before anything runs if a setting is wrong."""
    store = ArchiveStore(settings.database_url)
    store.migrate()
    shared = build_shared_budget(settings, store)
    corpus = LocalCorpus(settings.research_corpus_dir)
    timeout = httpx.Timeout(settings.fetch_timeout_seconds, connect=5.0)
    async with (
        _disposed(store, shared),
        httpx.AsyncClient(timeout=timeout, headers={"User-Agent": USER_AGENT}) as http,
        httpx.AsyncClient(timeout=httpx.Timeout(settings.llm_timeout_seconds, connect=5.0)) as llm_http,
    ):
        reader = PageReader(
            http,
            corpus,
            allow_private_networks=settings.fetch_allow_private_networks,
            max_bytes=settings.fetch_max_bytes,
            deadline=settings.fetch_deadline_seconds,
        )
        pages = PageStore(store)
        yield Activities(
            llm=LlmActivities(build_research_model(settings, llm_http), pages, WorkspaceTokens(store.engine)),
            search=SearchActivities(build_search_providers(settings, http, corpus)),
            pages=PageActivities(reader, pages),
            store=StoreActivities(store),
            progress=ProgressActivities(
                build_reporter(settings, http, shared, RunThreads(store.engine), ResponseUrls(store.engine))
            ),
            verify=VerifyActivities(pages, model_judges=not settings.llm_is_offline),
            ratings=RatingActivities(RatingStore(store)),
        )
