"""The sandbox page's fixtures: a fake bot on loopback, and the sandbox (Web API and page on one
port) sending to it, with its state in a fresh file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox.server import SandboxServer
from tests.sandbox.fake_bot import SECRET, FakeBot


@pytest.fixture
def fake_bot() -> Iterator[FakeBot]:
    with FakeBot() as bot:
        yield bot


@pytest.fixture
def sandbox(fake_bot: FakeBot, tmp_path: Path) -> Iterator[SandboxServer]:
    with SandboxServer(bot_url=fake_bot.url, signing_secret=SECRET, state_file=tmp_path / "sandbox.json") as server:
        fake_bot.talk_to(server)
        yield server
