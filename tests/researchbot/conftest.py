"""The entry points' tests: real `researchbot` processes on the session's Temporal (tests/conftest.py)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from sandbox import SlackApiServer
from tests.support.slack import ASKER, sandbox_slack


@pytest.fixture
def slack() -> Iterator[SlackApiServer]:
    """A sandbox Slack with one asker, for a `researchbot bot` process to talk to. Its team is new each time:
    the session's Temporal keeps every run, and a test counts its own by the team in their ids."""
    with sandbox_slack({"asker": ASKER}, team_id=f"T{uuid.uuid4().hex[:8].upper()}") as server:
        yield server
