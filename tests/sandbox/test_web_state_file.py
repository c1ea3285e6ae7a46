"""The workspace in its file: kept across a restart, and a file that cannot be read kept aside."""

from __future__ import annotations

import json
from pathlib import Path

from sandbox.demo_workspace import ADA, RESEARCH
from sandbox.server import SandboxServer
from sandbox.workspace_file import to_dict
from tests.sandbox.fake_bot import SECRET, FakeBot
from tests.sandbox.page_client import ask, state


async def test_the_workspace_survives_a_restart_from_its_file(fake_bot: FakeBot, tmp_path: Path) -> None:
    state_file = tmp_path / "data" / "sandbox.json"
    with SandboxServer(bot_url=fake_bot.url, signing_secret=SECRET, state_file=state_file) as first:
        fake_bot.talk_to(first)
        await ask(first, "/research what is Temporal?")
        before = to_dict(first.workspace)
    assert state_file.exists()

    with SandboxServer(bot_url=fake_bot.url, signing_secret=SECRET, state_file=state_file) as second:
        fake_bot.talk_to(second)
        after = await state(second, ADA)
        assert to_dict(second.workspace) == before
        assert [m["text"] for m in after["messages"][RESEARCH]] == ["Draft 1 is ready: what is Temporal?"]
        assert after["ephemerals"][0]["text"] == "Started research on “what is Temporal?” for you"
        await ask(second, "/research and again")  # the restarted sandbox still talks to the bot
        assert len(second.workspace.messages[RESEARCH]) == 2


def test_an_unreadable_state_file_is_kept_aside(tmp_path: Path) -> None:
    state_file = tmp_path / "sandbox.json"
    state_file.write_text("{not json")
    with SandboxServer(bot_url="http://127.0.0.1:9/", signing_secret=SECRET, state_file=state_file) as sandbox:
        assert RESEARCH in sandbox.workspace.channels
    assert [p.name.split("-")[0] for p in tmp_path.iterdir() if p.name != "sandbox.json"] == ["sandbox.json.broken"]
    assert json.loads(state_file.read_text())["team_id"] == sandbox.workspace.team_id
