"""A run whose search activity is the real one, over the local corpus and MCP servers (the tests' SDK server over
streamable HTTP): a server that answers junk or hangs is named in the progress and the run reaches its draft with
what the others found; a server limited to another channel is not asked."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from temporalio.testing import WorkflowEnvironment

from activities.search.local_corpus import LocalCorpus
from activities.search.mcp_config import load_mcp_servers
from activities.search.mcp_sources import McpSources
from activities.search.providers import SearchActivities, build_search_providers
from core.settings import REPO_ROOT, Settings
from slack_ui.thread import progress_message
from tests.fakes.activities import FakeActivities
from tests.fakes.mcp_notes_server import running_over_http
from tests.workflows.helpers import REQUESTER, fake_worker, new_queue, start_run, wait_for_stage
from workflows.activity_io import ProgressInput, ProgressKind, ProgressReceipt, SearchInput, SearchOutput
from workflows.calls import ProgressCalls, SearchCalls
from workflows.declaring import implements
from workflows.models import SlackContext, Stage


class RealSearch(FakeActivities):
    """The fakes, but the search is the real activity over the given providers; it records each call's channel.
    The run is asked in a Slack channel, so its first report answers with a root message."""

    def __init__(self, search: SearchActivities) -> None:
        super().__init__()
        self.real = search
        self.channels: list[str | None] = []

    @implements(SearchCalls.search)
    async def search(self, input: SearchInput) -> SearchOutput:
        self.channels.append(input.channel)
        return await self.real.search(input)

    @implements(ProgressCalls.report_progress)
    async def report_progress(self, input: ProgressInput) -> ProgressReceipt:
        receipt = await super().report_progress(input)
        if input.kind is ProgressKind.STARTED:  # a run asked in Slack needs its root message posted
            receipt.messages["root"] = "1.000100"
        return receipt


async def test_failed_mcp_servers_are_named_and_the_run_goes_on(env: WorkflowEnvironment, tmp_path: Path) -> None:
    with running_over_http() as url:
        servers = [
            {"name": "junky", "transport": "http", "url": url, "search": {"tool": "junk"}},
            {"name": "stuck", "transport": "http", "url": url, "search": {"tool": "hang"}},
            {"name": "elsewhere", "transport": "http", "url": url, "search": {"tool": "search"}, "channels": ["C0B"]},
        ]
        (tmp_path / "servers.json").write_text(json.dumps({"servers": servers}))
        mcp = McpSources(load_mcp_servers(tmp_path / "servers.json"), timeout=2, max_bytes=100_000)
        corpus = LocalCorpus(REPO_ROOT / "tests" / "data" / "corpus")
        async with httpx.AsyncClient() as client:
            providers = build_search_providers(Settings(search_provider="local,mcp"), client, corpus, mcp)
        fakes, queue = RealSearch(SearchActivities(providers)), new_queue()
        async with fake_worker(env.client, queue, fakes):
            handle = await start_run(
                env.client, queue, research_depth=0, slack=SlackContext(channel_id="C0A", user_id=REQUESTER)
            )
            status = await wait_for_stage(handle, Stage.AWAITING_DECISION, tries=1200)
            await handle.terminate()

    assert fakes.channels and set(fakes.channels) == {"C0A"}
    assert status.sources and all(source.url.startswith("local://") for source in status.sources)
    assert sorted(status.searches_failed) == [
        "mcp:junky: MCP server 'junky' answered its search tool with something that is not a list of results",
        "mcp:stuck: MCP server 'stuck' did not answer within 2s (MCP_TIMEOUT_SECONDS)",
    ]
    assert not any("elsewhere" in line for line in status.searches_failed)
    shown = json.dumps(progress_message(status))
    assert "Search failed: mcp:junky: MCP server 'junky' answered its search tool" in shown
