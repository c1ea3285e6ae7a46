"""Slash commands from the page: signed as Slack signs them, with every field Slack sends, their
answers shown only to whom they are for, and a slow or absent bot shown as Slack shows it."""

from __future__ import annotations

import socket
from pathlib import Path

from sandbox.demo_workspace import ADA, GRACE, RESEARCH
from sandbox.server import SandboxServer
from tests.sandbox.fake_bot import SECRET, FakeBot
from tests.sandbox.page_client import ask, draft_of, post, state


async def test_a_command_arrives_signed_with_every_field_slack_sends(sandbox: SandboxServer, fake_bot: FakeBot) -> None:
    assert await ask(sandbox, "/research what is Temporal?") == {"ok": True}

    assert fake_bot.rejected == []
    [fields] = fake_bot.of_kind("command")
    assert fields["command"] == "/research" and fields["text"] == "what is Temporal?"
    assert fields["user_id"] == ADA and fields["user_name"] == "ada"
    assert fields["channel_id"] == RESEARCH and fields["channel_name"] == "research"
    assert fields["team_id"] == sandbox.workspace.team_id and fields["team_domain"] == sandbox.workspace.domain
    assert fields["api_app_id"] == sandbox.workspace.app_id and fields["token"]
    assert fields["response_url"].startswith(f"{sandbox.url}response/")
    assert fields["trigger_id"] in sandbox.workspace.triggers
    draft = draft_of(sandbox)
    assert draft["user"] == sandbox.workspace.bot_user_id and draft["blocks"][0]["type"] == "header"


async def test_a_wrong_signing_secret_is_refused_by_the_bot(fake_bot: FakeBot, tmp_path: Path) -> None:
    with SandboxServer(bot_url=fake_bot.url, signing_secret="not-the-secret") as sandbox:
        answer = await ask(sandbox, "/research anything")
        shown = await state(sandbox, ADA)
    assert answer["ok"] is False and answer["error"] == "http_service_error" and "401" in answer["detail"]
    assert len(fake_bot.rejected) == 1 and fake_bot.received == []
    assert shown["ephemerals"][-1]["text"] == '/research failed with the error "http_service_error"'


async def test_response_url_ephemerals_show_only_to_their_user(sandbox: SandboxServer) -> None:
    await ask(sandbox, "/research what is Temporal?")
    await ask(sandbox, "/research help")  # answered in the command's own HTTP response

    ada, grace = await state(sandbox, ADA), await state(sandbox, GRACE)
    assert [e["text"] for e in ada["ephemerals"]] == [
        "Started research on “what is Temporal?” for you",
        "*Usage:* `/research &lt;question&gt;`",
    ]
    assert all(e["channel"] == RESEARCH for e in ada["ephemerals"])
    assert grace["ephemerals"] == []
    assert [m["ts"] for m in ada["messages"][RESEARCH]] == [m["ts"] for m in grace["messages"][RESEARCH]]

    await ask(sandbox, "/research shout")  # in_channel: everyone sees the command and the answer
    texts = [m["text"] for m in (await state(sandbox, GRACE))["messages"][RESEARCH]]
    assert texts[-2:] == ["/research shout", "Everyone: research is open"]

    assert (await post(sandbox, "/sandbox/dismiss", user=ADA, ts=ada["ephemerals"][0]["ts"]))["ok"] is True
    assert len((await state(sandbox, ADA))["ephemerals"]) == 1


async def test_a_command_the_bot_does_not_answer_in_3_seconds_times_out(sandbox: SandboxServer) -> None:
    answer = await ask(sandbox, "/research slow")
    assert answer["ok"] is False and answer["error"] == "operation_timeout"
    ada, grace = await state(sandbox, ADA), await state(sandbox, GRACE)
    [error] = ada["ephemerals"]
    assert error["text"] == '/research failed with the error "operation_timeout"'
    assert error["username"] == "Slackbot" and "3 seconds" in error["detail"]
    assert grace["ephemerals"] == []


async def test_a_bot_that_is_down_is_shown_as_unreachable(tmp_path: Path) -> None:
    # A port held bound but not listening: connections are refused, and nothing else can take it
    # (a port merely freed could be picked again by the sandbox's own server).
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        down_url = f"http://127.0.0.1:{held.getsockname()[1]}/slack/events"
        with SandboxServer(bot_url=down_url, signing_secret=SECRET) as sandbox:
            answer = await ask(sandbox, "/research anything")
            block = await post(
                sandbox, "/sandbox/action", user=ADA, channel=RESEARCH, message_ts="1.0", block_id="x", action_id="y"
            )
            [error] = (await state(sandbox, ADA))["ephemerals"]
    assert answer["ok"] is False and answer["error"] == "dispatch_failed"
    assert "unreachable" in answer["detail"] and down_url in answer["detail"]
    assert error["text"] == '/research failed with the error "dispatch_failed"'
    assert block == {"ok": False, "error": "message_not_found"}
