"""The operator's file of MCP servers (MCP_SERVERS_FILE): which servers, how to reach them, which tool searches
and how a result is read back. TOML or JSON, read once at start-up; a mistake is a ConfigError there.

Commands of stdio servers come only from this file, which only the operator writes: nothing a person types
in Slack reaches a command line, an argument list or an environment (the query is only ever a tool argument).
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, ValidationError, field_validator, model_validator

from core.errors import ConfigError

__all__ = ["McpRead", "McpSearch", "McpServer", "McpServersFile", "load_mcp_servers"]

# A server's name is the host of its sources' mcp://<name>/... URLs and the <name> of SEARCH_PROVIDER=mcp:<name>.
NAME_PATTERN = r"^[a-z0-9][a-z0-9-]{0,62}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)  # a misspelt key is an error, not silently ignored


class McpSearch(_Strict):
    """The search-like tool: the query goes into ``query_argument``; the results become sources."""

    tool: str = Field(min_length=1)
    query_argument: str = "query"
    # "text": the query as asked; "glob": a case-insensitive glob naming files that contain any query term
    # (for servers that only find files by name, such as @modelcontextprotocol/server-filesystem).
    query_as: Literal["text", "glob"] = "text"
    arguments: dict[str, JsonValue] = {}  # fixed arguments sent with every call (a root path, a space)
    # "auto": structured results (a list of objects with uri/url/id/path, title/name, snippet/text), resource
    # links or embedded resources; "lines": plain text, one result id per line.
    results: Literal["auto", "lines"] = "auto"
    no_results: list[str] = []  # lines of a "lines" answer that mean "nothing found", not a result


class McpRead(_Strict):
    """How a source found by the search is read: a tool given its id, or resources/read of its URI."""

    tool: str | None = None
    id_argument: str = "uri"
    arguments: dict[str, JsonValue] = {}
    resources: bool = False  # read with resources/read instead of a tool

    @model_validator(mode="after")
    def _one_way(self) -> McpRead:
        if (self.tool is None) == (not self.resources):
            raise ValueError("a read names either a tool or resources = true, not both or neither")
        return self


class McpServer(_Strict):
    name: str = Field(pattern=NAME_PATTERN)
    transport: Literal["stdio", "http"]
    # stdio: the command the worker starts for each call (never from Slack input), with these extra
    # environment variables over a minimal inherited set (PATH, HOME, ...: not the worker's secrets).
    command: str | None = None
    args: list[str] = []
    env: dict[str, str] = {}
    cwd: Path | None = None  # relative to the file's folder; default: that folder
    # http: a streamable HTTP endpoint, and headers sent with every request (credentials, say).
    url: str | None = None
    headers: dict[str, str] = {}
    # Channels whose runs may use this server; empty: every run (and `researchbot ask`).
    channels: list[str] = []
    search: McpSearch
    read: McpRead | None = None  # none: a source is read from the text its search result carried

    @model_validator(mode="after")
    def _transport_fields(self) -> McpServer:
        if self.transport == "stdio":
            if not self.command or self.url is not None or self.headers:
                raise ValueError("a stdio server needs a command, and takes no url or headers")
        elif not self.url or not self.url.startswith(("http://", "https://")) or self.command is not None:
            raise ValueError("an http server needs an http(s) url, and takes no command")
        return self


class McpServersFile(_Strict):
    servers: list[McpServer] = Field(min_length=1)

    @field_validator("servers")
    @classmethod
    def _unique(cls, servers: list[McpServer]) -> list[McpServer]:
        names = [server.name for server in servers]
        if repeated := sorted({name for name in names if names.count(name) > 1}):
            raise ValueError(f"server names must be unique; repeated: {', '.join(repeated)}")
        return servers


def load_mcp_servers(path: Path) -> dict[str, McpServer]:
    """The servers of the file at ``path`` by name, each stdio server's cwd made absolute."""
    try:
        raw = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"MCP_SERVERS_FILE={path} cannot be read ({exc.strerror or exc})") from exc
    try:
        data = json.loads(raw) if path.suffix.lower() == ".json" else tomllib.loads(raw)
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"MCP_SERVERS_FILE={path} is not valid {path.suffix.lstrip('.') or 'TOML'}: {exc}") from exc
    if isinstance(data, dict) and isinstance(data.get("servers"), dict):
        # The TOML way, [servers.<name>]: the table's key is the name.
        data = {**data, "servers": [{"name": name, **body} for name, body in data["servers"].items()]}
    try:
        parsed = McpServersFile.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{_where(data, error['loc'])}: {error['msg']}" for error in exc.errors())
        raise ConfigError(f"MCP_SERVERS_FILE={path} is wrong: {problems}") from None
    folder = path.resolve().parent
    return {
        server.name: server.model_copy(update={"cwd": folder / server.cwd if server.cwd else folder})
        if server.transport == "stdio"
        else server
        for server in parsed.servers
    }


def _where(data: object, loc: tuple[int | str, ...]) -> str:
    """``servers.docs.search.tool`` for an error's location: the server by its name, not its index."""
    parts = [str(part) for part in loc]
    if len(loc) > 1 and loc[0] == "servers" and isinstance(loc[1], int) and isinstance(data, dict):
        server = data["servers"][loc[1]] if isinstance(data.get("servers"), list) else None
        if isinstance(server, dict) and isinstance(server.get("name"), str):
            parts[1] = server["name"]
    return ".".join(parts) or "file"
