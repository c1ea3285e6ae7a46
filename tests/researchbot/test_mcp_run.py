"""A whole run whose only source is an MCP server: the npm filesystem server over stdio, started by a real
worker from MCP_SERVERS_FILE, offline. The report cites files it read through the server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from tests.activities.test_mcp_sources import filesystem_server
from tests.researchbot.test_cli import TEST_CORPUS, offline_env, researchbot


@pytest.mark.slow
async def test_a_run_with_the_filesystem_server_as_its_only_source_cites_a_file_read_through_it(
    env: WorkflowEnvironment, tmp_path: Path
) -> None:
    servers = tmp_path / "mcp-servers.json"
    servers.write_text(json.dumps({"servers": [filesystem_server(TEST_CORPUS)]}))
    settings = offline_env(  # the local corpus is set but not searched: SEARCH_PROVIDER names only the server
        tmp_path,
        TEMPORAL_ADDRESS=env.client.service_client.config.target_host,
        RESEARCH_TASK_QUEUE=f"cli-{tmp_path.name}",
        SEARCH_PROVIDER="mcp:docs",
        MCP_SERVERS_FILE=str(servers),
    )

    asked = researchbot(["ask", "How does Temporal make workflows durable?", "--approve"], settings, cwd=tmp_path)

    assert asked.returncode == 0, asked.stderr
    assert "=== Approved ===" in asked.stdout
    workflow_id = asked.stdout.split("Started run ", 1)[1].split()[0]
    from activities.archive.store import ArchiveStore

    store = ArchiveStore(settings["DATABASE_URL"])
    result, evidence = store.get(workflow_id), store.evidence(workflow_id)
    assert result is not None and result.sources and evidence
    cited = {record.url for record in evidence}
    assert f"mcp://docs/{TEST_CORPUS}/temporal-durable-execution.md" in cited
    assert all(url.startswith("mcp://docs/") for url in cited)
    durable = next(r for r in evidence if r.url.endswith("/temporal-durable-execution.md"))
    # Read through the server: the archived passages are the file's own words.
    text = " ".join((TEST_CORPUS / "temporal-durable-execution.md").read_text().split())
    assert durable.sha256 and durable.http_status is None
    passages = [" ".join(claim.passage.split()) for claim in durable.claims if claim.supported and claim.passage]
    assert passages and all(passage[:40] in text for passage in passages)


@pytest.mark.parametrize(
    ("file_text", "provider", "expected"),
    [
        ('[servers.docs]\ntransport = "websocket"\n', "mcp", "is wrong: servers.docs.transport: Input should be"),
        (None, "mcp:wiki", "SEARCH_PROVIDER names MCP server 'wiki', which MCP_SERVERS_FILE does not list"),
    ],
)
async def test_a_wrong_server_file_stops_the_start_with_one_line(
    env: WorkflowEnvironment, tmp_path: Path, file_text: str | None, provider: str, expected: str
) -> None:
    servers = tmp_path / "mcp-servers.toml"
    if file_text is None:
        servers = tmp_path / "mcp-servers.json"
        servers.write_text(json.dumps({"servers": [filesystem_server(TEST_CORPUS)]}))
    else:
        servers.write_text(file_text)
    settings = offline_env(
        tmp_path,
        TEMPORAL_ADDRESS=env.client.service_client.config.target_host,
        RESEARCH_TASK_QUEUE=f"cli-{tmp_path.name}",
        SEARCH_PROVIDER=provider,
        MCP_SERVERS_FILE=str(servers),
    )
    done = researchbot(["ask", "How does Temporal make workflows durable?"], settings, cwd=tmp_path)
    assert done.returncode != 0 and expected in done.stderr
    assert "Traceback" not in done.stderr + done.stdout
