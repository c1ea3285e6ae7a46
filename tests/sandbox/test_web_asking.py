"""Asking on the sandbox page by message: a mention of @researchbot in a channel is delivered as a signed
app_mention event, a message in the DM with the bot as message.im, the Messages tab opening as
app_home_opened; failed deliveries are retried with X-Slack-Retry-Num; the DM pane shows the bot's status
and suggested prompts; url_verification first, when configured."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from slack_sdk.web.async_client import AsyncWebClient

from sandbox.demo_workspace import ADA, GENERAL, RESEARCH
from sandbox.server import SandboxServer
from tests.sandbox.fake_bot import SECRET, FakeBot
from tests.sandbox.page_client import post, state
from tests.support.waiting import eventually

FAST_RETRIES = (0.05, 0.05, 0.05)


@pytest.fixture
def sandbox(fake_bot: FakeBot, tmp_path: Path) -> Iterator[SandboxServer]:
    with SandboxServer(
        bot_url=fake_bot.url,
        signing_secret=SECRET,
        state_file=tmp_path / "sandbox.json",
        event_retry_delays=FAST_RETRIES,
    ) as server:
        fake_bot.talk_to(server)
        yield server


def thread_of(sandbox: SandboxServer, channel: str, ts: str) -> list[str]:
    with sandbox.workspace.lock:
        return [m["text"] for m in sandbox.workspace.messages[channel] if m.get("thread_ts") == ts and m["ts"] != ts]


async def test_a_mention_is_delivered_as_a_signed_app_mention_and_answered_in_its_thread(
    sandbox: SandboxServer, fake_bot: FakeBot
) -> None:
    answer = await post(sandbox, "/sandbox/message", user=ADA, channel=RESEARCH, text="@ResearchBot why <b> & not <i>?")
    assert answer["ok"] is True and answer["delivered"] is True
    [callback] = fake_bot.of_kind("event_callback")
    event = callback["event"]
    assert event["type"] == "app_mention" and event["text"] == "<@U0BOT> why &lt;b&gt; &amp; not &lt;i&gt;?"
    assert (event["user"], event["channel"], event["ts"]) == (ADA, RESEARCH, answer["ts"])
    assert callback["api_app_id"] == sandbox.workspace.app_id and callback["team_id"] == sandbox.workspace.team_id
    assert fake_bot.rejected == [], "signed as Slack signs"
    await eventually(lambda: thread_of(sandbox, RESEARCH, answer["ts"]), "the answer in the thread")


async def test_chatter_goes_as_message_channels_and_a_mention_where_the_bot_is_not_is_not_delivered(
    sandbox: SandboxServer, fake_bot: FakeBot
) -> None:
    chatter = await post(sandbox, "/sandbox/message", user=ADA, channel=RESEARCH, text="lunch? ask ada@researchbot.io")
    assert chatter["ok"] is True and chatter["delivered"] is True  # the bot is in #research: message.channels
    away = await post(sandbox, "/sandbox/message", user=ADA, channel=GENERAL, text="@researchbot what is a queue?")
    assert away["delivered"] is False
    [delivered] = [payload["event"] for payload in fake_bot.of_kind("event_callback")]
    assert (delivered["type"], delivered["channel_type"], delivered["ts"]) == ("message", "channel", chatter["ts"])
    assert "thread_ts" not in delivered and "parent_user_id" not in delivered
    seen = await state(sandbox, ADA)
    assert any("did not see your mention" in e["text"] for e in seen["ephemerals"])


@pytest.mark.parametrize(("word", "reason"), [("slow", "http_timeout"), ("down", "http_error")])
async def test_a_failed_delivery_is_retried_with_its_number_and_reason(
    sandbox: SandboxServer, fake_bot: FakeBot, word: str, reason: str
) -> None:
    answer = await post(sandbox, "/sandbox/message", user=ADA, channel=RESEARCH, text=f"@researchbot {word} one")
    assert answer["delivered"] is False and answer["error"] in ("operation_timeout", "http_service_error")
    await eventually(lambda: len(fake_bot.retries) >= 1, "a retry")
    event_id = fake_bot.retries[0][0]
    await eventually(lambda: len(sandbox.web.events.attempts_of(event_id)) >= 2, "a second attempt")
    [(_, first, _), (same_id, retry, why)] = fake_bot.retries
    assert same_id == event_id and (first, retry, why) == ("", "1", reason)
    assert [a.retry_num for a in sandbox.web.events.attempts_of(event_id)] == [0, 1]


async def test_the_dm_pane_gets_prompts_status_and_message_events(sandbox: SandboxServer, fake_bot: FakeBot) -> None:
    opened = await post(sandbox, "/sandbox/open_dm", user=ADA)
    dm = opened["channel"]
    assert opened["ok"] is True and (await post(sandbox, "/sandbox/open_dm", user=ADA))["channel"] == dm
    [home, _] = fake_bot.of_kind("event_callback")
    assert home["event"] == {**home["event"], "type": "app_home_opened", "tab": "messages", "channel": dm, "user": ADA}
    pane = (await state(sandbox, ADA))["panes"][dm]
    assert pane["prompts"]["prompts"] == [{"title": "Durable?", "message": "What is durable?"}]

    thinking = await post(sandbox, "/sandbox/message", user=ADA, channel=dm, text="think about queues")
    message = fake_bot.of_kind("event_callback")[-1]["event"]
    assert (message["type"], message["channel_type"], message["ts"]) == ("message", "im", thinking["ts"])
    assert (await state(sandbox, ADA))["panes"][dm]["status"] == {thinking["ts"]: "is thinking…"}

    asked = await post(sandbox, "/sandbox/message", user=ADA, channel=dm, text="what is a queue?")
    await eventually(lambda: thread_of(sandbox, dm, asked["ts"]), "the answer in the DM thread")
    assert asked["ts"] not in (await state(sandbox, ADA))["panes"][dm]["status"], "the bot's reply cleared it"


async def test_url_verification_comes_first_when_configured(fake_bot: FakeBot, tmp_path: Path) -> None:
    with SandboxServer(
        bot_url=fake_bot.url, signing_secret=SECRET, state_file=tmp_path / "s.json", verify_events_url=True
    ) as sandbox:
        fake_bot.talk_to(sandbox)
        fake_bot.echo_challenge = False
        refused = await post(sandbox, "/sandbox/message", user=ADA, channel=RESEARCH, text="@researchbot hello")
        assert refused["delivered"] is False and refused["error"] == "url_verification_failed"
        assert [kind for kind, _ in fake_bot.received] == ["url_verification"]
        fake_bot.echo_challenge = True
        sent = await post(sandbox, "/sandbox/message", user=ADA, channel=RESEARCH, text="@researchbot hello")
        assert sent["delivered"] is True
        assert [kind for kind, _ in fake_bot.received] == ["url_verification", "url_verification", "event_callback"]


async def test_a_reply_in_a_thread_goes_with_its_thread_ts_and_parent_user(
    sandbox: SandboxServer, fake_bot: FakeBot
) -> None:
    root = await post(sandbox, "/sandbox/message", user=ADA, channel=RESEARCH, text="our notes")
    answer = await post(
        sandbox, "/sandbox/message", user=ADA, channel=RESEARCH, text="more please", thread_ts=root["ts"]
    )
    assert answer["delivered"] is True
    delivered = fake_bot.of_kind("event_callback")[-1]["event"]
    assert (delivered["thread_ts"], delivered["parent_user_id"], delivered["text"]) == (root["ts"], ADA, "more please")


async def test_a_file_attached_to_a_mention_is_shared_and_delivered_as_slack_does(
    sandbox: SandboxServer, fake_bot: FakeBot
) -> None:
    pdf = b"%PDF-1.4 a tiny file"
    attached = [{"name": "handbook.pdf", "content_base64": base64.b64encode(pdf).decode()}]
    answer = await post(
        sandbox, "/sandbox/message", user=ADA, channel=RESEARCH, text="@researchbot what is in it?", files=attached
    )
    assert answer["ok"] is True and answer["delivered"] is True
    [callback] = fake_bot.of_kind("event_callback")
    [file] = callback["event"]["files"]
    assert (file["name"], file["size"], file["mimetype"], file["user"]) == (
        "handbook.pdf",
        len(pdf),
        "application/pdf",
        ADA,
    )
    assert file["url_private"].startswith(sandbox.url) and "files-pri" in file["url_private"]
    client = AsyncWebClient(token=sandbox.workspace.bot_token, base_url=sandbox.base_url)
    info = (await client.files_info(file=file["id"]))["file"]
    assert info["channels"] == [RESEARCH] and list(info["shares"]["public"]) == [RESEARCH]
    async with httpx.AsyncClient() as http:
        bearer = {"Authorization": f"Bearer {sandbox.workspace.bot_token}"}
        assert (await http.get(info["url_private_download"], headers=bearer)).content == pdf
        assert (await http.get(info["url_private_download"])).status_code == 401


async def test_a_file_attached_in_a_thread_reply_is_shared_in_that_thread(
    sandbox: SandboxServer, fake_bot: FakeBot
) -> None:
    root = await post(sandbox, "/sandbox/message", user=ADA, channel=RESEARCH, text="our notes")
    attached = [{"name": "notes.txt", "content_base64": base64.b64encode(b"the notes").decode()}]
    reply = await post(
        sandbox, "/sandbox/message", user=ADA, channel=RESEARCH, text="here", thread_ts=root["ts"], files=attached
    )
    file_id = sandbox.workspace.message(RESEARCH, reply["ts"])["files"][0]["id"]
    client = AsyncWebClient(token=sandbox.workspace.bot_token, base_url=sandbox.base_url)
    info = (await client.files_info(file=file_id))["file"]
    assert info["shares"]["public"][RESEARCH] == [{"ts": reply["ts"], "thread_ts": root["ts"]}]


@pytest.mark.parametrize(
    "files",
    [
        "not a list",
        [{"name": "a.pdf"}],
        [{"name": "../a.pdf", "content_base64": "QQ=="}],
        [{"name": "a.pdf", "content_base64": "not base64!"}],
        [{"name": "a.pdf", "content_base64": ""}],
    ],
)
async def test_a_malformed_attachment_is_refused(sandbox: SandboxServer, files: object) -> None:
    answer = await post(sandbox, "/sandbox/message", user=ADA, channel=RESEARCH, text="hi", files=files)
    assert answer == {"ok": False, "error": "invalid_files"}
