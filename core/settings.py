"""Every setting ResearchBot reads, from the environment (or a .env file), in one place.

Settings are read when a process starts (`Settings()`), never at import time, and secrets
are SecretStr so they never end up in a log line.
"""

from __future__ import annotations

import math
import re
from datetime import timedelta
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from core.build_id import default_build_id

KNOWN_SEARCH_PROVIDERS = ("local", "searxng", "tavily", "brave", "mcp")
_MCP_SERVER = re.compile(r"^mcp:[a-z0-9][a-z0-9-]{0,62}$")  # one server of MCP_SERVERS_FILE, by its name
REPO_ROOT = Path(__file__).resolve().parent.parent


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd])\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _duration(value: object) -> object:
    """Accept 90s, 15m, 24h, 7d besides pydantic's seconds and ISO 8601 forms."""
    if isinstance(value, str) and (match := _DURATION.match(value.lower())):
        return timedelta(seconds=float(match.group(1)) * _UNIT_SECONDS[match.group(2)])
    return value


def _comma_list(value: object) -> object:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


# Each round reads new pages; a bound keeps a run's history and its page archive bounded too.
MAX_REVISION_ROUNDS = 10


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    # Temporal connection settings (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY,
    # TLS, profiles) are read by temporalio.envconfig, not here.
    research_task_queue: str = "research"
    # host:port for a Prometheus /metrics endpoint (Temporal SDK metrics plus ResearchBot's own); unset: none.
    metrics_bind_address: str | None = Field(default=None, pattern=r"^(\[[0-9A-Fa-f:.]+\]|[^\s:\[\]]+):\d{1,5}$")
    # Runs beyond this many leave the worker's memory and replay from history when they next move,
    # so a worker's RSS stays flat however many runs wait for a decision (bench/parked.py).
    max_cached_workflows: int = Field(default=250, ge=0)
    # Worker Deployment Versioning (docs/versioning.md): each worker serves one version of one deployment,
    # and its runs move to the version an operator makes current (`researchbot promote`). Off: unversioned.
    worker_versioning: bool = True
    worker_deployment_name: str = Field(default="researchbot", pattern=r"^[^.\s]{1,200}$")
    # Default: the package version plus a hash of workflows/ (core/build_id.py), so new workflow code is a
    # new version; set it (e.g. to the commit) to make every deploy one.
    worker_build_id: str = Field(default_factory=default_build_id, pattern=r"^[^\s]{1,255}$")

    # LLM: any OpenAI-compatible chat-completions endpoint; neither set means offline mode.
    openai_base_url: str | None = None
    openai_api_key: SecretStr | None = None
    llm_model: str = "gpt-4o-mini"
    # Answers are streamed: LLM_TIMEOUT_SECONDS bounds the wait for the first token (the prompt's reading
    # included), LLM_SILENCE_SECONDS each wait after it, so a slow model that keeps talking is never cut.
    llm_timeout_seconds: float = Field(default=110.0, gt=0)
    llm_silence_seconds: float = Field(default=60.0, gt=0)
    llm_max_tokens: int = Field(default=4096, ge=16)  # the most one answer may cost; every call sends it
    # The model's context window in tokens; unset: asked of the server (activities/model/context_window.py).
    llm_context_tokens: int | None = Field(default=None, ge=256)
    # What the model costs, in US dollars per million tokens, for each run's ledger (the draft's footer,
    # the archive); both or neither: unset, the ledger shows tokens only. The offline model costs nothing.
    llm_price_input_per_mtok: float | None = None
    llm_price_output_per_mtok: float | None = None

    # The research loop: after reading, look for what the sub-questions still lack and search again,
    # at most RESEARCH_DEPTH times (0: never), each time at most RESEARCH_BREADTH follow-up queries.
    research_breadth: int = Field(default=3, ge=1, le=10)
    research_depth: int = Field(default=1, ge=0, le=5)

    # Search
    search_provider: Annotated[list[str], NoDecode] = ["local"]
    research_corpus_dir: Path = REPO_ROOT / "corpus"
    searxng_url: str | None = None
    tavily_api_key: SecretStr | None = None
    tavily_api_url: str = "https://api.tavily.com"
    brave_api_key: SecretStr | None = None
    brave_api_url: str = "https://api.search.brave.com"

    # MCP servers as sources (activities/search/mcp_sources.py): the operator's file of servers (TOML or JSON;
    # docs/configuration.md), used with SEARCH_PROVIDER=mcp (every server) or mcp:<name>. Every MCP call, a
    # stdio server's start included, ends within MCP_TIMEOUT_SECONDS; with a stopped server's grace (up to 4 s)
    # that stays under the search activity's 30 s bound.
    mcp_servers_file: Path | None = None
    mcp_timeout_seconds: float = Field(default=15.0, gt=0, le=20)

    # The corpus's index (docs/documents.md): a SQLite file, unset: .data/corpus-index/<folder>-<hash>.sqlite
    # in the working directory. A search refreshes it in the background once the last refresh is older than
    # RESEARCH_INDEX_REFRESH_SECONDS (0: every search). A file past a CORPUS_MAX_* limit is skipped, with a reason.
    research_index_path: Path | None = None
    research_index_refresh_seconds: float = Field(default=60.0, ge=0)
    corpus_max_file_bytes: int = Field(default=50_000_000, ge=1)
    # An Office file (DOCX, PPTX, XLSX) is a zip: refused before it is opened if it would unpack into more than
    # this, or (past 10 MB unpacked) at a higher compression ratio than this: a zip bomb.
    corpus_max_unzipped_bytes: int = Field(default=200_000_000, ge=1)
    corpus_max_zip_ratio: float = Field(default=100.0, gt=1)

    # Page reader
    fetch_allow_private_networks: bool = False
    fetch_max_bytes: int = 2_000_000
    fetch_timeout_seconds: float = 15.0
    fetch_deadline_seconds: float = Field(default=30.0, gt=0, le=600)

    # Archive
    database_url: str = "sqlite:///.data/researchbot.db"

    # The wait for a person
    approval_remind_after: timedelta = timedelta(hours=24)
    approval_expire_after: timedelta = timedelta(days=7)
    max_revision_rounds: int = Field(default=5, ge=0, le=MAX_REVISION_ROUNDS)
    research_approvers: Annotated[list[str], NoDecode] = []
    # The workspace's default for reviewing a run's first plan before anything is searched ("Search this"
    # or "Edit plan"); /research --review-plan or --no-review-plan decides for one run.
    research_review_plan: bool = False
    # A schedule's runs (/research every …): after an outage, a run missed within this window is still
    # started (one, however many were missed); older misses are skipped (bot/schedules.py).
    research_schedule_catchup_window: timedelta = timedelta(hours=1)

    # Caps: who may ask, and how much (bot/caps.py). Counted from Temporal's own record of the runs, so a
    # restart resets nothing and every bot on the same Temporal agrees. 0 turns a count off; an empty list
    # lets everyone.
    research_max_runs_in_flight: int = Field(default=5, ge=0, le=1_000)
    research_max_runs_per_hour: int = Field(default=20, ge=0, le=10_000)
    # Model tokens a workspace's runs may spend per UTC day (0: no cap); core/workspace_tokens.py.
    research_workspace_daily_tokens: int = Field(default=5_000_000, ge=0)
    research_allowed_channels: Annotated[list[str], NoDecode] = []
    research_allowed_users: Annotated[list[str], NoDecode] = []
    # Guests and people from other organisations (Slack Connect) neither start runs nor decide on them
    # unless these say so (bot/people.py): the pick a security review makes. RESEARCH_APPROVERS always decide.
    research_allow_guests: bool = False
    research_allow_external_users: bool = False

    # Slack
    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_api_url: str = "https://slack.com/api/"
    # A run's progress: "stream" shows it as one streamed message of task cards where the workspace
    # streams (else the chat.update checklist); "update" always shows the checklist.
    slack_progress: str = Field(default="stream", pattern="^(stream|update)$")
    # A final report that needs more messages than this goes into a canvas, with a summary in the thread.
    slack_report_max_messages: int = Field(default=2, ge=0, le=50)
    # How long a message's newest state is kept (activities/slack/shared_budget.py): a state reported earlier is not
    # sent. Unset: APPROVAL_EXPIRE_AFTER plus a day, longer than any status update of a run is retried.
    slack_message_state_retention_days: float | None = Field(default=None, gt=0)
    port: int = 3000

    # Logs
    log_format: str = Field(default="console", pattern="^(console|json)$")
    log_level: str = "INFO"

    @field_validator("search_provider", mode="before")
    @classmethod
    def _providers(cls, value: object) -> object:
        providers = _comma_list(value)
        if isinstance(providers, list):
            providers = [p.lower() for p in providers] or ["local"]
            unknown = [p for p in providers if p not in KNOWN_SEARCH_PROVIDERS and not _MCP_SERVER.match(p)]
            if unknown:
                raise ValueError(
                    f"unknown search provider {', '.join(unknown)!s}; choose from {', '.join(KNOWN_SEARCH_PROVIDERS)}"
                )
        return providers

    @field_validator(
        "approval_remind_after", "approval_expire_after", "research_schedule_catchup_window", mode="before"
    )
    @classmethod
    def _durations(cls, value: object) -> object:
        return _duration(value)

    @field_validator("llm_price_input_per_mtok", "llm_price_output_per_mtok", mode="before")
    @classmethod
    def _price(cls, value: object, info: ValidationInfo) -> object:
        name = (info.field_name or "price").upper()
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        try:
            price = float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise ValueError(f"{name} must be US dollars per million tokens, like 0.15; got {value!r}") from None
        if not math.isfinite(price) or price < 0:
            raise ValueError(f"{name} must be zero or more US dollars per million tokens; got {value!r}")
        return price

    @model_validator(mode="after")
    def _prices_in_pairs(self) -> Settings:
        if (self.llm_price_input_per_mtok is None) != (self.llm_price_output_per_mtok is None):
            raise ValueError(
                "set both LLM_PRICE_INPUT_PER_MTOK and LLM_PRICE_OUTPUT_PER_MTOK to estimate each run's cost, "
                "or neither to count tokens only"
            )
        return self

    @field_validator("research_approvers", "research_allowed_channels", "research_allowed_users", mode="before")
    @classmethod
    def _approvers(cls, value: object) -> object:
        return _comma_list(value)

    def secret_values(self) -> list[str]:
        """Every secret this process holds, for the log redactor."""
        secrets = [value.get_secret_value() for value in vars(self).values() if isinstance(value, SecretStr)]
        return [*secrets, *filter(None, [urlsplit(self.database_url).password])]

    @property
    def slack_message_state_retention(self) -> timedelta:
        days = self.slack_message_state_retention_days
        return self.approval_expire_after + timedelta(days=1) if days is None else timedelta(days=days)

    @property
    def llm_is_offline(self) -> bool:
        return self.openai_base_url is None and self.openai_api_key is None
