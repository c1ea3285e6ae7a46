"""Workflow tests: the session's dev server (tests/conftest.py) and a time-skipping server for long waits."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from temporalio.testing import WorkflowEnvironment

from tests.temporal_servers import start_time_skipping_server


@pytest.fixture(scope="session")
async def time_env() -> AsyncIterator[WorkflowEnvironment]:
    """The time-skipping test server, for reminders and expiry measured in hours and days."""
    environment = await start_time_skipping_server()
    async with environment:
        yield environment
