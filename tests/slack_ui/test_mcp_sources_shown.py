"""Sources read through an MCP server show as their title and server, never as a link; the progress names a
search provider (an MCP server) that failed."""

from __future__ import annotations

import json

from slack_ui.mrkdwn import link
from slack_ui.thread import draft_messages, progress_message
from workflows.models import Draft, RunStatus, Source, Stage

MCP_SOURCE = "mcp://docs//srv/handbook/temporal-retries.md"


def test_an_mcp_source_is_its_title_and_server_not_a_link() -> None:
    assert link(MCP_SOURCE, "temporal-retries.md") == "temporal-retries.md (via MCP server docs)"
    draft = Draft(
        round=1, text="Temporal retries activities [1].", sources=[Source(number=1, url=MCP_SOURCE, title="a.md")]
    )
    posted = json.dumps([m.model_dump() if hasattr(m, "model_dump") else m for m in draft_messages("wf", "q", draft)])
    assert "1. a.md (via MCP server docs)" in posted and "mcp://" not in posted


def test_the_progress_names_a_failed_server() -> None:
    status = RunStatus(
        workflow_id="wf",
        question="q",
        requested_by="U1",
        stage=Stage.READING,
        searches_failed=["mcp:wiki: MCP server 'wiki' did not answer within 15s (MCP_TIMEOUT_SECONDS)"],
    )
    shown = json.dumps(progress_message(status))
    assert (
        "⚠ Search failed: mcp:wiki: MCP server 'wiki' did not answer within 15s"
        in json.loads(shown)["blocks"][0]["text"]["text"]
    )
