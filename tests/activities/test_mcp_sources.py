"""MCP servers as sources, against real servers: the npm filesystem server over stdio, and the tests' own SDK
server (tests/fakes/mcp_notes_server.py) over streamable HTTP and stdio. Search and read through each; a server
that dies mid-call, hangs or answers junk is a clear McpFailure, and the search activity goes on without it;
a wrong configuration is a ConfigError at start-up."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from activities.search.local_corpus import LocalCorpus
from activities.search.mcp_config import McpServer, load_mcp_servers
from activities.search.mcp_sources import McpFailure, McpSources, glob_of, mcp_url, parse_mcp_url
from activities.search.pages import PageReader
from activities.search.providers import SearchActivities, build_search_providers
from core.errors import ConfigError
from core.settings import Settings
from tests.fakes.mcp_notes_server import COMMAND, running_over_http
from workflows.activity_io import SearchInput

REPO = Path(__file__).resolve().parents[2]
FILESYSTEM_SERVER = REPO / "tests/mcp_servers/node_modules/@modelcontextprotocol/server-filesystem/dist/index.js"


def filesystem_server(root: Path, **extra: Any) -> dict[str, Any]:
    """The configuration of @modelcontextprotocol/server-filesystem over ``root``, as docs/configuration.md has it."""
    if not FILESYSTEM_SERVER.is_file():
        pytest.fail(f"{FILESYSTEM_SERVER} is missing: run scripts/setup.sh (npm ci in tests/mcp_servers)")
    return {
        "name": "docs",
        "transport": "stdio",
        "command": "node",
        "args": [str(FILESYSTEM_SERVER), str(root)],
        "search": {
            "tool": "search_files",
            "query_argument": "pattern",
            "query_as": "glob",
            "arguments": {"path": str(root)},
            "results": "lines",
            "no_results": ["No matches found"],
        },
        "read": {"tool": "read_text_file", "id_argument": "path"},
        **extra,
    }


def notes_server(name: str, url: str, tool: str = "search", **extra: Any) -> dict[str, Any]:
    return {"name": name, "transport": "http", "url": url, "search": {"tool": tool}, **extra}


def notes_over_stdio(name: str, tool: str) -> dict[str, Any]:
    return {
        "name": name,
        "transport": "stdio",
        "command": COMMAND[0],
        "args": [*COMMAND[1:], "stdio"],
        "cwd": str(REPO),
        "search": {"tool": tool},
    }


def sources(tmp_path: Path, *servers: dict[str, Any], timeout: float = 15.0) -> McpSources:
    """McpSources as the worker builds them: from a file of servers."""
    path = tmp_path / "mcp-servers.json"
    path.write_text(json.dumps({"servers": list(servers)}))
    return McpSources(load_mcp_servers(path), timeout=timeout, max_bytes=2_000)


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    root = tmp_path / "docs"
    (root / "guides").mkdir(parents=True)
    (root / "temporal-retries.md").write_text("# Retries\n\nTemporal retries activities with exponential backoff.\n")
    (root / "guides" / "Slack-Notes.txt").write_text("Slack apps answer slash commands within three seconds.\n")
    (root / "unrelated.txt").write_text("Nothing to see.\n")
    (root / "big-temporal.txt").write_text("é" * 5_000)  # past the 2,000-byte cap of these tests
    return root


@pytest.fixture(scope="module")
def notes_url() -> Iterator[str]:
    """The tests' SDK server over streamable HTTP on a free loopback port."""
    with running_over_http() as url:
        yield url


# ---------------------------------------------------------------- the filesystem server over stdio


async def test_filesystem_server_finds_files_by_name_and_reads_them(tmp_path: Path, docs: Path) -> None:
    mcp = sources(tmp_path, filesystem_server(docs))
    hits = await mcp.search("docs", "How do Temporal retries work, and what about Slack?", 5)
    # Found by name in any case and any folder, ranked by the query terms each name holds.
    assert hits[0].title == "temporal-retries.md"
    assert {hit.title for hit in hits[1:]} == {"big-temporal.txt", "Slack-Notes.txt"}
    assert hits[0].url == f"mcp://docs/{docs}/temporal-retries.md" and hits[0].provider == "mcp:docs"
    assert await mcp.read(hits[0].url) == "# Retries\n\nTemporal retries activities with exponential backoff.\n"
    big = next(hit for hit in hits if hit.title == "big-temporal.txt")
    assert len((await mcp.read(big.url)).encode()) == 2_000  # cut like a page, at FETCH_MAX_BYTES


async def test_filesystem_server_with_nothing_matching_finds_nothing(tmp_path: Path, docs: Path) -> None:
    mcp = sources(tmp_path, filesystem_server(docs))
    assert await mcp.search("docs", "kubernetes helm charts", 5) == []


async def test_the_page_reader_reads_mcp_sources_through_their_server(tmp_path: Path, docs: Path) -> None:
    mcp = sources(tmp_path, filesystem_server(docs))
    async with httpx.AsyncClient() as client:
        reader = PageReader(client, LocalCorpus(docs), allow_private_networks=False, max_bytes=2_000, mcp=mcp)
        page = await reader.read(mcp_url("docs", f"{docs}/temporal-retries.md"), "temporal-retries.md", 1_000)
        assert page.ok and "exponential backoff" in page.text and page.http_status is None and page.sha256
        # A file the server refuses (outside its root) is a page that could not be read, with the server's word.
        outside = await reader.read(mcp_url("docs", "/etc/hostname"), "hostname", 1_000)
        assert not outside.ok and "MCP server 'docs'" in (outside.error or "")
        # Without MCP servers configured, an mcp:// URL is refused, not fetched.
        bare = PageReader(client, LocalCorpus(docs), allow_private_networks=False, max_bytes=2_000)
        assert "MCP_SERVERS_FILE" in ((await bare.read(page.url, "x", 100)).error or "")


# ---------------------------------------------------------------- the tests' own server over streamable HTTP


async def test_sdk_server_over_http_searches_and_reads_resources(tmp_path: Path, notes_url: str) -> None:
    mcp = sources(tmp_path, notes_server("notes", notes_url, read={"resources": True}, headers={"X-Team": "a"}))
    (hit,) = await mcp.search("notes", "how do workflows survive a crashed worker", 5)
    assert hit.url == "mcp://notes/note://durable-execution" and hit.title == "Durable execution"
    assert parse_mcp_url(hit.url) == ("notes", "note://durable-execution")
    assert "replays the history" in await mcp.read(hit.url)


async def test_results_that_carry_their_text_are_read_from_it(tmp_path: Path, notes_url: str) -> None:
    mcp = sources(tmp_path, notes_server("inline", notes_url, "search_inline"))
    hits = await mcp.search("inline", "retry policy backoff", 5)
    assert [hit.url for hit in hits] == ["mcp://inline/retry-policies", "mcp://inline/planted"]
    assert "exponential backoff" in await mcp.read(hits[0].url)
    # Another worker (no carried text, no read method) says so, and the run falls back to the snippet.
    with pytest.raises(McpFailure, match="has no read method"):
        await sources(tmp_path, notes_server("inline", notes_url, "search_inline")).read(hits[0].url)


# ---------------------------------------------------------------- servers that fail


async def test_a_server_that_dies_mid_call_is_a_clear_failure(tmp_path: Path) -> None:
    with pytest.raises(McpFailure, match="MCP server 'dying' failed: the connection closed mid-call"):
        await sources(tmp_path, notes_over_stdio("dying", "crash")).search("dying", "anything", 5)


async def test_a_server_that_hangs_is_cut_at_the_time_bound(tmp_path: Path, notes_url: str) -> None:
    for server in (notes_server("stuck", notes_url, "hang"), notes_over_stdio("stuck", "hang")):
        mcp = sources(tmp_path, server, timeout=2)
        with pytest.raises(McpFailure, match=r"MCP server 'stuck' did not answer within 2s \(MCP_TIMEOUT_SECONDS\)"):
            await mcp.search("stuck", "anything", 5)


async def test_a_server_that_answers_junk_is_a_clear_failure(tmp_path: Path, notes_url: str) -> None:
    with pytest.raises(McpFailure, match="'junky' answered its search tool with something that is not a list"):
        await sources(tmp_path, notes_server("junky", notes_url, "junk")).search("junky", "anything", 5)


async def test_the_search_goes_on_without_a_failed_server_and_names_it(
    tmp_path: Path, notes_url: str, corpus: LocalCorpus
) -> None:
    mcp = sources(tmp_path, notes_server("junky", notes_url, "junk"), notes_server("notes", notes_url))
    settings = Settings(search_provider="local,mcp")
    async with httpx.AsyncClient() as client:
        providers = build_search_providers(settings, client, corpus, mcp)
    assert [p.name for p in providers] == ["local", "mcp:junky", "mcp:notes"]
    output = await SearchActivities(providers).search(SearchInput(query="retry policies backoff"))
    assert {hit.provider for hit in output.hits} == {"local", "mcp:notes"}
    assert output.failures == [
        "mcp:junky: MCP server 'junky' answered its search tool with something that is not a list of results"
    ]
    # With every provider failing, the activity fails (and Temporal retries it) with the server's words.
    with pytest.raises(McpFailure, match="'junky'"):
        await SearchActivities(providers[1:2]).search(SearchInput(query="retry"))


async def test_a_server_limited_to_channels_serves_only_runs_asked_there(
    tmp_path: Path, notes_url: str, corpus: LocalCorpus
) -> None:
    mcp = sources(tmp_path, notes_server("notes", notes_url, channels=["C0TEAM"]))
    async with httpx.AsyncClient() as client:
        activity = SearchActivities(build_search_providers(Settings(search_provider="local,mcp"), client, corpus, mcp))

    async def providers_for(channel: str | None) -> set[str]:
        output = await activity.search(SearchInput(query="retry policy backoff", channel=channel))
        return {hit.provider for hit in output.hits}

    assert await providers_for("C0TEAM") == {"local", "mcp:notes"}
    assert await providers_for("C0OTHER") == {"local"}
    assert await providers_for(None) == {"local", "mcp:notes"}  # the terminal: the operator's own runs


# ---------------------------------------------------------------- configuration, at start-up


def test_search_provider_names_servers_of_the_file(tmp_path: Path, docs: Path, corpus: LocalCorpus) -> None:
    mcp = sources(tmp_path, filesystem_server(docs))
    client = httpx.AsyncClient()
    with pytest.raises(
        ConfigError, match="names MCP server 'wiki', which MCP_SERVERS_FILE does not list; it lists docs"
    ):
        build_search_providers(Settings(search_provider="mcp:wiki"), client, corpus, mcp)
    with pytest.raises(ConfigError, match="SEARCH_PROVIDER includes mcp but MCP_SERVERS_FILE is not set"):
        build_search_providers(Settings(search_provider="mcp"), client, corpus, None)
    assert [p.name for p in build_search_providers(Settings(search_provider="mcp:docs"), client, corpus, mcp)] == [
        "mcp:docs"
    ]
    with pytest.raises(ValidationError, match="unknown search provider mcp:bad_name"):
        Settings(search_provider="mcp:bad_name")


@pytest.mark.parametrize(
    ("server", "expected"),
    [
        ({"transport": "websocket"}, r"servers\.docs\.transport: Input should be 'stdio' or 'http'"),
        ({"transport": "stdio", "command": None}, "a stdio server needs a command"),
        ({"transport": "http", "command": None, "url": "file:///etc/passwd"}, "an http server needs an http"),
        ({"search": {"tool": "search_files", "query_arg": "pattern"}}, "query_arg: Extra inputs are not permitted"),
        ({"read": {"tool": "read_text_file", "resources": True}}, "either a tool or resources = true"),
        ({"name": "Docs Server"}, "String should match pattern"),
    ],
)
def test_a_wrong_file_is_a_config_error_that_says_where(
    tmp_path: Path, docs: Path, server: dict[str, Any], expected: str
) -> None:
    path = tmp_path / "servers.json"
    path.write_text(json.dumps({"servers": [{**filesystem_server(docs), **server}]}))
    with pytest.raises(ConfigError, match=f"MCP_SERVERS_FILE={path} is wrong: .*{expected}"):
        load_mcp_servers(path)


def test_the_toml_form_takes_names_from_tables_and_resolves_cwd(tmp_path: Path) -> None:
    path = tmp_path / "servers.toml"
    path.write_text(
        '[servers.wiki]\ntransport = "http"\nurl = "https://wiki.example/mcp"\n[servers.wiki.search]\ntool = "find"\n'
        '[servers.docs]\ntransport = "stdio"\ncommand = "node"\ncwd = "sub"\n[servers.docs.search]\ntool = "search"\n'
    )
    servers = load_mcp_servers(path)
    assert list(servers) == ["wiki", "docs"] and isinstance(servers["wiki"], McpServer)
    assert servers["docs"].cwd == tmp_path / "sub" and servers["wiki"].search.query_argument == "query"
    (tmp_path / "broken.toml").write_text("[servers.docs\n")
    with pytest.raises(ConfigError, match="is not valid toml"):
        load_mcp_servers(tmp_path / "broken.toml")
    with pytest.raises(ConfigError, match="cannot be read"):
        load_mcp_servers(tmp_path / "missing.toml")


def test_glob_of_a_query_matches_its_terms_in_any_case() -> None:
    assert glob_of("How does Temporal retry?") == "**/*{[tT][eE][mM][pP][oO][rR][aA][lL],[rR][eE][tT][rR][yY]}*"
    assert glob_of("SQLite") == "**/*[sS][qQ][lL][iI][tT][eE]*"
    assert glob_of("is it ok?") is None  # no term to look for: no search
