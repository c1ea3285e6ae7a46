"""The sandbox's file upload, the three steps Slack takes since files.upload was retired, through slack_sdk's
files_upload_v2 (files.getUploadURLExternal, a POST of the bytes, files.completeUploadExternal)."""

from __future__ import annotations

import httpx
from slack_sdk.web.async_client import AsyncWebClient

from sandbox import SlackApiServer
from tests.sandbox.test_slack_api import error_of

PDF = b"%PDF-1.3\n" + bytes(range(256)) * 40 + b"\n%%EOF\n"


async def test_a_file_is_uploaded_and_shared_in_a_thread(slack: SlackApiServer, client: AsyncWebClient) -> None:
    root = await client.chat_postMessage(channel="CLIVE", text="A report")
    done = await client.files_upload_v2(
        channel="CLIVE",
        thread_ts=root["ts"],
        content=PDF,
        filename="report.pdf",
        title="Report (PDF)",
        initial_comment="The report as a PDF, for <@UALICE>",
    )

    assert done["file"]["title"] == "Report (PDF)"
    replies = await client.conversations_replies(channel="CLIVE", ts=root["ts"])
    shared = replies["messages"][-1]
    assert shared["thread_ts"] == root["ts"] and shared["text"] == "The report as a PDF, for <@UALICE>"
    assert [(f["name"], f["title"], f["size"], f["filetype"]) for f in shared["files"]] == [
        ("report.pdf", "Report (PDF)", len(PDF), "pdf")
    ]
    assert slack.workspace.files[done["file"]["id"]]["content"] == PDF  # the bytes, as sent
    assert [c.method for c in slack.calls] == [
        "chat.postMessage",
        "files.getUploadURLExternal",
        "files.completeUploadExternal",
        "conversations.replies",
    ]


async def test_nothing_is_shared_before_its_bytes_arrive(slack: SlackApiServer, client: AsyncWebClient) -> None:
    asked = await client.files_getUploadURLExternal(filename="report.md", length=5)
    complete = client.files_completeUploadExternal(files=[{"id": asked["file_id"]}], channel_id="CLIVE")
    assert await error_of(complete) == "file_not_found"

    async with httpx.AsyncClient() as http:
        wrong = await http.post(asked["upload_url"] + "x", content=b"hello")
        short = await http.post(asked["upload_url"], content=b"hell")
        assert wrong.status_code == 404 and short.status_code == 200
        assert await error_of(client.files_completeUploadExternal(files=[{"id": asked["file_id"]}])) == (
            "file_not_found"  # 4 bytes of the 5 announced
        )
        whole = await http.post(asked["upload_url"], content=b"hello")
    assert whole.status_code == 200 and whole.text == "OK - 5"
    assert slack.workspace.messages["CLIVE"] == []

    wrong_channel = client.files_completeUploadExternal(files=[{"id": asked["file_id"]}], channel_id="CNOPE")
    assert await error_of(wrong_channel) == "channel_not_found"
    secret = client.files_completeUploadExternal(files=[{"id": asked["file_id"]}], channel_id="CSECRET")
    assert await error_of(secret) == "not_in_channel"
    bad_thread = client.files_completeUploadExternal(
        files=[{"id": asked["file_id"]}], channel_id="CLIVE", thread_ts="1.000001"
    )
    assert await error_of(bad_thread) == "thread_not_found"
    assert slack.workspace.messages["CLIVE"] == []


async def test_bad_arguments_are_refused(client: AsyncWebClient) -> None:
    assert await error_of(client.files_getUploadURLExternal(filename="", length=5)) == "invalid_arguments"
    assert await error_of(client.files_getUploadURLExternal(filename="a.md", length=0)) == "invalid_arguments"
    assert await error_of(client.api_call("files.completeUploadExternal", json={"files": []})) == "invalid_arguments"
    unknown = client.files_completeUploadExternal(files=[{"id": "FNOPE"}], channel_id="CLIVE")
    assert await error_of(unknown) == "file_not_found"
