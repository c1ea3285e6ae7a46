"""The end-to-end tests' fixtures: a sandbox Slack per module, the bot and a `researchbot worker` process
on the session's Temporal (tests/conftest.py), and a fresh channel per test. The harness is slack_stack.py."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from temporalio.testing import WorkflowEnvironment

from sandbox import Channel, SlackApiServer
from tests.e2e.slack_stack import Stack, running_stack
from tests.support.slack import APPROVER, ASKER, STRANGER, sandbox_slack


@pytest.fixture(scope="module")
def slack() -> Iterator[SlackApiServer]:
    """A sandbox Slack per test module; its own team id keeps its runs apart on the shared Temporal."""
    # A distinctive token: the harness checks that no process ever logs it.
    team_id, bot_token = f"T{uuid.uuid4().hex[:8].upper()}", f"xoxb-e2e-{uuid.uuid4().hex}"
    with sandbox_slack(team_id=team_id, bot_token=bot_token) as server:
        yield server


@pytest.fixture(scope="module")
async def stack(
    slack: SlackApiServer, env: WorkflowEnvironment, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Stack]:
    async with running_stack(slack, env, tmp_path_factory.mktemp("bot")) as running:
        yield running


@pytest.fixture
def channel(slack: SlackApiServer) -> Channel:
    """A fresh public channel per test; the bot is not a member (chat:write.public lets it post)."""
    return slack.workspace.add_channel(f"research-{uuid.uuid4().hex[:6]}", members=[ASKER, APPROVER, STRANGER])
