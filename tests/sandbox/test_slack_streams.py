"""The sandbox's streaming methods (chat.startStream, chat.appendStream, chat.stopStream): their
arguments and the errors Slack documents, over real HTTP through slack_sdk."""

from __future__ import annotations

from slack_sdk.web.async_client import AsyncWebClient

from sandbox import SlackApiServer, workspace_file
from sandbox.streams import STREAM_IDLE_SECONDS
from tests.sandbox.test_slack_api import error_of

TASK = {"type": "task_update", "id": "q1", "title": "What?", "status": "in_progress"}


async def start(slack: SlackApiServer, client: AsyncWebClient, **args) -> str:
    root = slack.workspace.post("CLIVE", user="UALICE", text="/research why?")
    answer = await client.chat_startStream(
        channel="CLIVE",
        thread_ts=root["ts"],
        recipient_user_id="UALICE",
        recipient_team_id=slack.workspace.team_id,
        **args,
    )
    return answer["ts"]


async def test_a_stream_of_chunks_starts_grows_and_stops(slack: SlackApiServer, client: AsyncWebClient) -> None:
    ts = await start(slack, client, task_display_mode="plan", chunks=[{"type": "plan_update", "title": "Plan"}, TASK])
    done = {**TASK, "status": "complete", "sources": [{"type": "url", "url": "https://a.example", "text": "A"}]}
    await client.chat_appendStream(channel="CLIVE", ts=ts, chunks=[done])
    await client.chat_stopStream(channel="CLIVE", ts=ts, metadata={"event_type": "x", "event_payload": {}})
    message = slack.workspace.message("CLIVE", ts)
    assert message is not None and message["thread_ts"] != ts and "edited" not in message
    stream = message["stream"]
    assert stream["state"] == "stopped" and stream["task_display_mode"] == "plan" and stream["mode"] == "chunks"
    assert [c.get("status") for c in stream["chunks"]] == [None, "in_progress", "complete"]
    assert message["metadata"]["event_type"] == "x"
    # A stopped stream takes nothing more.
    assert await error_of(client.chat_appendStream(channel="CLIVE", ts=ts, chunks=[TASK])) == (
        "message_not_in_streaming_state"
    )
    assert await error_of(client.chat_stopStream(channel="CLIVE", ts=ts)) == "message_not_in_streaming_state"
    # ...and is saved with the workspace.
    again = workspace_file.from_dict(workspace_file.to_dict(slack.workspace))
    assert again.message("CLIVE", ts)["stream"]["chunks"] == stream["chunks"]  # type: ignore[index]


async def test_markdown_streams_append_text(slack: SlackApiServer, client: AsyncWebClient) -> None:
    ts = await start(slack, client, markdown_text="**Hello")
    await client.chat_appendStream(channel="CLIVE", ts=ts, markdown_text=" world**")
    assert slack.workspace.message("CLIVE", ts)["text"] == "**Hello world**"  # type: ignore[index]
    assert await error_of(client.chat_appendStream(channel="CLIVE", ts=ts, chunks=[TASK])) == (
        "streaming_mode_mismatch"
    )


async def test_start_arguments_are_checked(slack: SlackApiServer, client: AsyncWebClient) -> None:
    root = slack.workspace.post("CLIVE", user="UALICE", text="hi")["ts"]
    team = slack.workspace.team_id
    assert await error_of(client.chat_startStream(channel="CNOPE", thread_ts=root)) == "channel_not_found"
    # In a channel, the recipient is required; in a DM it is not.
    assert await error_of(client.chat_startStream(channel="CLIVE", thread_ts=root)) == "missing_recipient_team_id"
    missing_user = client.chat_startStream(channel="CLIVE", thread_ts=root, recipient_team_id=team)
    assert await error_of(missing_user) == "missing_recipient_user_id"
    nobody = client.chat_startStream(channel="CLIVE", thread_ts=root, recipient_team_id=team, recipient_user_id="UX")
    assert await error_of(nobody) == "user_not_found"
    dm_root = slack.workspace.post("DALICE", user="UALICE", text="hi")["ts"]
    assert (await client.chat_startStream(channel="DALICE", thread_ts=dm_root))["ok"]
    ok = {"channel": "CLIVE", "thread_ts": root, "recipient_team_id": team, "recipient_user_id": "UALICE"}
    assert await error_of(client.chat_startStream(**{**ok, "thread_ts": "1.000001"})) == "invalid_arguments"
    assert await error_of(client.chat_startStream(**ok, task_display_mode="list")) == "invalid_arguments"
    bad_task = {**TASK, "status": "done"}
    assert await error_of(client.chat_startStream(**ok, chunks=[bad_task])) == "invalid_chunks"
    both = client.chat_startStream(**ok, markdown_text="hi", chunks=[TASK])
    assert await error_of(both) == "cannot_provide_both_markdown_text_and_chunks"
    assert await error_of(client.chat_startStream(**ok, markdown_text="x" * 12_001)) == "invalid_arguments"


async def test_append_and_stop_errors(slack: SlackApiServer, client: AsyncWebClient) -> None:
    ts = await start(slack, client, chunks=[TASK])
    assert await error_of(client.chat_appendStream(channel="CLIVE", ts=ts)) == "markdown_text_or_chunks_required"
    assert await error_of(client.chat_appendStream(channel="CLIVE", ts="1.000001", chunks=[TASK])) == (
        "message_not_found"
    )
    theirs = slack.workspace.post("CLIVE", user="UALICE", text="mine")["ts"]
    assert await error_of(client.chat_appendStream(channel="CLIVE", ts=theirs, chunks=[TASK])) == (
        "message_not_owned_by_app"
    )
    posted = (await client.chat_postMessage(channel="CLIVE", text="plain"))["ts"]
    assert await error_of(client.chat_stopStream(channel="CLIVE", ts=posted)) == "message_not_in_streaming_state"
    # A stream nobody appends to ends on its own.
    later = slack.workspace.clock() + STREAM_IDLE_SECONDS + 1
    slack.workspace.clock = lambda: later
    assert await error_of(client.chat_appendStream(channel="CLIVE", ts=ts, chunks=[TASK])) == (
        "message_not_in_streaming_state"
    )


async def test_a_workspace_without_streaming_does_not_know_the_methods(slack: SlackApiServer) -> None:
    slack.workspace.streaming = False
    client = AsyncWebClient(token=slack.workspace.bot_token, base_url=slack.base_url, retry_handlers=[])
    root = slack.workspace.post("CLIVE", user="UALICE", text="hi")["ts"]
    assert await error_of(client.chat_startStream(channel="CLIVE", thread_ts=root)) == "unknown_method"
    assert await error_of(client.chat_appendStream(channel="CLIVE", ts=root, chunks=[TASK])) == "unknown_method"
    assert await error_of(client.chat_stopStream(channel="CLIVE", ts=root)) == "unknown_method"
