"""The entry points' tests: real `researchbot` processes on the session's Temporal (tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sandbox import SlackApiServer
from tests.support.slack import ASKER, sandbox_slack


@pytest.fixture
def slack() -> Iterator[SlackApiServer]:
    """A sandbox Slack with one asker, for a `researchbot bot` process to talk to."""
    with sandbox_slack({"asker": ASKER}) as server:
        yield server
