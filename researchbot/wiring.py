"""Builds every activity from Settings, with the clients they share; checks settings up front."""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, fields
from typing import Any

import httpx

from activities.archive.changes import ChangeActivities
from activities.archive.ratings import RatingActivities, RatingStore
from activities.archive.store import ArchiveStore, StoreActivities
from activities.model.llm import LlmActivities, build_research_model
from activities.progress import LogReporter, ProgressActivities, Reporter
from activities.search.local_corpus import build_corpus
from activities.search.mcp_sources import build_mcp_sources
from activities.search.page_store import PageStore
from activities.search.pages import PageActivities, PageReader
from activities.search.providers import SearchActivities, build_search_providers
from activities.search.slack_files import build_slack_files
from activities.slack.exports import EXPORT_BUDGETS, ExportActivities
from activities.slack.shared_budget import SharedBudget, workspace_key
from activities.slack.step_posts import StepPosts
from activities.verify import VerifyActivities
from core.response_urls import ResponseUrls
from core.run_threads import RunThreads
from core.settings import Settings
from core.workspace_tokens import WorkspaceTokens
from workflows.calls import declarations
from workflows.declaring import implemented

USER_AGENT = "ResearchBot/0.1 (+https://github.com/researchbot)"


def implemented_methods(obj: object) -> list[Callable[..., Any]]:
    """The bound methods of ``obj`` marked ``@implements``: the activities it serves."""
    return [getattr(obj, name) for name, fn in inspect.getmembers(type(obj)) if implemented(fn) is not None]


def check_every_call_implemented(methods: list[Callable[..., Any]]) -> None:
    """Raises, naming them, if a declared call has no implementation among ``methods`` or more than one:
    a worker without one would leave every run that calls it waiting."""
    by_name: dict[str, list[str]] = {}
    for method in methods:
        if (target := implemented(method)) is not None:
            by_name.setdefault(target.name, []).append(method.__qualname__)
    missing = [declared.where for declared in declarations() if declared.name not in by_name]
    doubled = [f"{name} by {' and '.join(where)}" for name, where in by_name.items() if len(where) > 1]
    if missing or doubled:
        raise RuntimeError(
            "every call declared in workflows/calls.py needs exactly one @implements among the worker's"
            f" activities; missing: {', '.join(missing) or 'none'}; more than one: {'; '.join(doubled) or 'none'}"
        )


@dataclass
class Activities:
    llm: LlmActivities
    search: SearchActivities
    pages: PageActivities
    store: StoreActivities
    changes: ChangeActivities
    progress: ProgressActivities
    verify: VerifyActivities
    ratings: RatingActivities
    exports: ExportActivities

    def all(self) -> list[Callable[..., Any]]:
        """Every activity method of every field, checked to cover every declared call."""
        methods = [m for f in fields(self) for m in implemented_methods(getattr(self, f.name))]
        check_every_call_implemented(methods)
        return methods


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
    steps: StepPosts | None = None,
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
        steps=steps,
    )


def build_exports(
    settings: Settings, store: ArchiveStore, http: httpx.AsyncClient, shared: SharedBudget | None = None
) -> ExportActivities:
    """The Export buttons' uploads: their own lines of the workspace's Slack budget (files.*)."""
    from activities.slack.writes import SlackWrites
    from slack_ui.client import build_slack_client

    client = build_slack_client(settings) if settings.slack_bot_token is not None else None
    return ExportActivities(store, client, http, SlackWrites(EXPORT_BUDGETS, shared=shared))


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
    corpus = build_corpus(settings)
    if "local" in settings.search_provider and corpus.corpus_dir.is_dir():
        corpus.start_refresh()  # at start, in the background: a search meanwhile answers from the index on disk
    timeout = httpx.Timeout(settings.fetch_timeout_seconds, connect=5.0)
    async with (
        _disposed(store, shared),
        httpx.AsyncClient(timeout=timeout, headers={"User-Agent": USER_AGENT}) as http,
        httpx.AsyncClient(timeout=httpx.Timeout(settings.llm_timeout_seconds, connect=5.0)) as llm_http,
    ):
        mcp = build_mcp_sources(settings)  # MCP_SERVERS_FILE, checked here: a wrong file stops the start
        slack_files = build_slack_files(settings, http, shared)  # files attached to a question in Slack
        reader = PageReader(
            http,
            corpus,
            allow_private_networks=settings.fetch_allow_private_networks,
            max_bytes=settings.fetch_max_bytes,
            deadline=settings.fetch_deadline_seconds,
            mcp=mcp,
            slack_files=slack_files,
        )
        pages = PageStore(store)
        yield Activities(
            llm=LlmActivities(build_research_model(settings, llm_http), pages, WorkspaceTokens(store.engine)),
            search=SearchActivities(build_search_providers(settings, http, corpus, mcp), slack_files),
            pages=PageActivities(reader, pages),
            store=StoreActivities(store),
            changes=ChangeActivities(store),
            progress=ProgressActivities(
                build_reporter(
                    settings,
                    http,
                    shared,
                    RunThreads(store.engine),
                    ResponseUrls(store.engine),
                    StepPosts(store.engine),
                )
            ),
            verify=VerifyActivities(pages, model_judges=not settings.llm_is_offline),
            ratings=RatingActivities(RatingStore(store)),
            exports=build_exports(settings, store, http, shared),
        )
