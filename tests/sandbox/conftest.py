"""The sandbox's fixtures: its Web API alone (``slack``, with a client as the bot has), and the page's: a
fake bot on loopback, and the sandbox (Web API and page on one port) sending to it, with its state in a
fresh file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from sandbox import SlackApiServer
from sandbox.server import SandboxServer
from tests.sandbox.fake_bot import SECRET, FakeBot
from tests.support.slack import sandbox_slack


@pytest.fixture
def slack() -> Iterator[SlackApiServer]:
    """Alice and Bob; #general (public, the bot not in it), #live (the bot in it), #secret (private, the bot
    not in it), #team (private, the bot in it), and Alice's DM with the bot."""
    with sandbox_slack({"alice": "UALICE", "bob": "UBOB"}) as server:
        ws = server.workspace
        ws.add_channel("general", id="CGENERAL", members=["UALICE"])
        ws.add_channel("live", id="CLIVE", members=["UALICE"], bot_member=True)
        ws.add_channel("secret", id="CSECRET", private=True, members=["UALICE"])
        ws.add_channel("team", id="CTEAM", private=True, members=["UALICE"], bot_member=True)
        ws.add_channel("dm", id="DALICE", im=True, members=["UALICE"], bot_member=True)
        yield server


@pytest.fixture
def client(slack: SlackApiServer) -> AsyncWebClient:
    """The Web API client as the bot makes it, without retries: a test sees each answer."""
    return AsyncWebClient(token=slack.workspace.bot_token, base_url=slack.base_url, retry_handlers=[])


@pytest.fixture
def fake_bot() -> Iterator[FakeBot]:
    with FakeBot() as bot:
        yield bot


@pytest.fixture
def sandbox(fake_bot: FakeBot, tmp_path: Path) -> Iterator[SandboxServer]:
    with SandboxServer(bot_url=fake_bot.url, signing_secret=SECRET, state_file=tmp_path / "sandbox.json") as server:
        fake_bot.talk_to(server)
        yield server
