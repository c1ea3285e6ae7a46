"""Caps on who starts runs and how many, against the session's real Temporal (its visibility store is the
count): a person over the in-flight or hourly cap is refused in one line saying until when, a second bot
on the same Temporal agrees, a retried delivery of a started question is not refused, and allowlists
keep channels and people out."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from activities.archive.store import ArchiveStore
from bot import caps
from bot.start_in_time import STARTED, start_question
from bot.under_way import UnderWay
from core.settings import Settings
from core.workspace_tokens import WorkspaceTokens
from workflows.models import SlackContext


def _settings(**caps_settings: object) -> Settings:
    # A task queue no worker polls: the runs stay in flight.
    return Settings(_env_file=None, research_task_queue=f"caps-{uuid.uuid4().hex[:8]}", **caps_settings)


def _asker() -> SlackContext:
    return SlackContext(channel_id="CCAPS", user_id=f"U{uuid.uuid4().hex[:8].upper()}", team_id="TCAPS")


def _id(slack: SlackContext) -> str:
    return f"research-{slack.team_id}-{slack.user_id}-{slack.channel_id}-{uuid.uuid4().hex[:20]}"


async def _ask(settings: Settings, client: Client, slack: SlackContext, workflow_id: str | None = None) -> str:
    start = await start_question(
        settings, client, slack, "What is a task queue?", workflow_id or _id(slack), UnderWay()
    )
    return start.ack["text"]


async def _seen(client: Client, slack: SlackContext, count: int) -> None:
    """Visibility trails a start by a moment: wait until it counts ``count`` of this person's runs."""
    query = f"WorkflowId STARTS_WITH 'research-{slack.team_id}-{slack.user_id}-'"
    for _ in range(100):
        if (await client.count_workflows(query)).count >= count:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"visibility never showed {count} runs")


async def test_runs_in_flight_are_capped_per_person_and_every_bot_agrees(env: WorkflowEnvironment) -> None:
    settings, slack = _settings(research_max_runs_in_flight=2, research_max_runs_per_hour=0), _asker()
    first = _id(slack)
    assert await _ask(settings, env.client, slack, first) == STARTED
    assert await _ask(settings, env.client, slack) == STARTED
    await _seen(env.client, slack, 2)

    refused = await _ask(settings, env.client, slack)
    assert refused == (
        "You have 2 runs in progress; the limit is 2. "
        "Try again when one finishes (approve, reject or cancel one you no longer need)."
    )
    # Another bot process, its own connection, the same Temporal: the same answer.
    other = await Client.connect(env.client.service_client.config.target_host)
    assert (await _ask(settings, other, slack)).startswith("You have 2 runs in progress")
    # Slack delivering the first question again is not a new run: it is not refused.
    assert await _ask(settings, env.client, slack, first) != refused
    # Someone else is not held back by this person's runs.
    assert await _ask(settings, env.client, _asker()) == STARTED
    # One finishes: there is room again.
    await env.client.get_workflow_handle(first).terminate("done")
    for _ in range(100):
        if await _ask(settings, env.client, slack) == STARTED:
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("a finished run still counted")


async def test_runs_per_hour_are_capped_and_the_refusal_says_until_when(env: WorkflowEnvironment) -> None:
    settings, slack = _settings(research_max_runs_in_flight=0, research_max_runs_per_hour=2), _asker()
    for _ in range(2):
        started = _id(slack)
        assert await _ask(settings, env.client, slack, started) == STARTED
        await env.client.get_workflow_handle(started).terminate("finished")  # finished runs count too
    await _seen(env.client, slack, 2)
    refusal = await caps.refusal(settings, env.client, slack, _id(slack))
    assert refusal is not None and refusal.cap == "per_hour"
    assert refusal.text.startswith("You have started 2 runs in the last hour; the limit is 2. Try again after ")
    hour = int(refusal.text.rsplit("after ", 1)[1][:2])
    assert hour in {(datetime.now(UTC).hour + 1) % 24, datetime.now(UTC).hour}


@pytest.mark.parametrize(
    ("allowed", "refused"),
    [
        ({"research_allowed_channels": ["COTHER"]}, "Research isn't switched on in this channel"),
        ({"research_allowed_users": ["USOMEONE"]}, "You're not on the list of people who may start research"),
    ],
)
async def test_allowlists_keep_channels_and_people_out(
    env: WorkflowEnvironment, allowed: dict[str, list[str]], refused: str
) -> None:
    slack = _asker()
    assert (await _ask(_settings(**allowed), env.client, slack)).startswith(refused)
    await asyncio.sleep(0.3)  # visibility would have caught up with a start
    started = await env.client.count_workflows(f"WorkflowId STARTS_WITH 'research-TCAPS-{slack.user_id}-'")
    assert started.count == 0


def test_lists_come_from_comma_separated_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RESEARCH_ALLOWED_CHANNELS", "C1, C2")
    monkeypatch.setenv("RESEARCH_MAX_RUNS_IN_FLIGHT", "5")
    settings = Settings(_env_file=None)
    assert settings.research_allowed_channels == ["C1", "C2"] and settings.research_max_runs_in_flight == 5


@pytest.fixture(params=["sqlite", "postgresql"])
def workspaces(request: pytest.FixtureRequest, tmp_path) -> Iterator[WorkspaceTokens]:
    url = f"sqlite:///{tmp_path}/runs.db" if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    store = ArchiveStore(url)
    store.migrate()
    yield WorkspaceTokens(store.engine)
    store.dispose()


async def test_a_workspace_past_its_daily_tokens_starts_nothing_until_midnight_utc(
    env: WorkflowEnvironment, workspaces: WorkspaceTokens
) -> None:
    settings = _settings(
        research_max_runs_in_flight=0, research_max_runs_per_hour=0, research_workspace_daily_tokens=1000
    )
    slack, now = _asker(), datetime(2026, 12, 5, 21, 30, tzinfo=UTC)
    workspaces.add("TCAPS", 600, now)
    assert await caps.refusal(settings, env.client, slack, _id(slack), now, tokens=workspaces) is None

    workspaces.add("TCAPS", 400, now)  # another worker's model call: the day's total is 1,000
    refused = await caps.refusal(settings, env.client, slack, _id(slack), now, tokens=workspaces)
    assert refused is not None and refused.cap == "workspace_tokens"
    assert "1,000 research tokens for today" in refused.text and "after 00:00 UTC, in 2 h 30 min" in refused.text
    other = slack.model_copy(update={"team_id": "TOTHER"})
    assert await caps.refusal(settings, env.client, other, _id(other), now, tokens=workspaces) is None
    tomorrow = datetime(2026, 12, 6, 0, 1, tzinfo=UTC)
    assert await caps.refusal(settings, env.client, slack, _id(slack), tomorrow, tokens=workspaces) is None


async def test_workers_adding_at_once_lose_no_tokens(workspaces: WorkspaceTokens) -> None:
    await asyncio.gather(*(asyncio.to_thread(workspaces.add, "TBUSY", 7) for _ in range(40)))
    assert workspaces.spent("TBUSY") == 280
