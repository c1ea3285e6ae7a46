"""A published report's Export buttons, end to end (the sandbox Slack, the real bot and a `researchbot worker`
process): the asker's and an approver's clicks put the file in the thread through Slack's upload API
(files.getUploadURLExternal, the bytes, files.completeUploadExternal), once per click however often Slack
delivers it; the file read back holds the report and its sources; anyone else is told no, in private."""

from __future__ import annotations

import html
import shutil
import subprocess
from typing import Any

import pytest
from markdown_it import MarkdownIt

from bot.exports import export_input
from sandbox import Channel
from slack_ui.exports import decode_export_value
from tests.e2e.slack_stack import (
    APPROVER,
    ASKER,
    STRANGER,
    Stack,
    clicked,
    ephemerals,
    eventually,
    messages,
    new_ephemeral,
    open_modal,
    report,
    started_run,
    submit,
)
from workflows.exports import export_workflow_id


def export_click(stack: Stack, channel: Channel, message: dict[str, Any], format: str, user: str) -> dict[str, Any]:
    """The block_actions payload of ``user`` clicking Export ``format`` on ``message``."""
    block = next(b for b in message["blocks"] if b.get("block_id") == "report_export")
    button = next(e for e in block["elements"] if e["action_id"] == f"report_export_{format}")
    return clicked(stack, channel, message, button, block["block_id"], user)


def shared_files(stack: Stack, channel: Channel) -> list[dict[str, Any]]:
    return [f for m in messages(stack, channel) if m.get("thread_ts") for f in m.get("files") or []]


async def test_the_asker_and_an_approver_get_the_report_as_a_file(stack: Stack, channel: Channel) -> None:
    if shutil.which("pdftotext") is None:
        pytest.fail("no pdftotext: install poppler-utils (scripts/setup.sh lists it)")
    first_draft, workflow_id = await started_run(stack, channel)
    modal = await open_modal(stack, channel, first_draft, "approve", APPROVER)
    assert "errors" not in (await submit(stack, modal, APPROVER, None)).text
    final = await eventually(lambda: report(stack, channel), "the final report in the thread", stack)

    seen = len(ephemerals(stack, channel, STRANGER))
    assert (await stack.http.interaction(export_click(stack, channel, final, "pdf", STRANGER))).status_code == 200
    assert "Only" in await new_ephemeral(stack, channel, STRANGER, seen)

    pdf_click = export_click(stack, channel, final, "pdf", ASKER)
    seen = len(ephemerals(stack, channel, ASKER))
    for _ in range(2):  # Slack delivers the same click twice: one file
        assert (await stack.http.interaction(pdf_click)).status_code == 200
    assert "Exporting the report as PDF" in await new_ephemeral(stack, channel, ASKER, seen)
    md_click = export_click(stack, channel, final, "md", APPROVER)
    assert (await stack.http.interaction(md_click)).status_code == 200

    for click in (pdf_click, md_click):
        action = click["actions"][0]
        export = export_input(click, action, *decode_export_value(action["value"]))
        assert await stack.client.get_workflow_handle(export_workflow_id(export)).result() is True
    files = shared_files(stack, channel)
    assert sorted(f["name"].rsplit(".", 1)[-1] for f in files) == ["md", "pdf"]  # the PDF once
    assert STRANGER not in " ".join(m.get("text", "") for m in messages(stack, channel) if m.get("files"))

    result = await stack.handle(workflow_id).result()
    stored = {f["filetype"]: stack.workspace.files[f["id"]]["content"] for f in files}
    read = subprocess.run(["pdftotext", "-enc", "UTF-8", "-", "-"], input=stored["pdf"], capture_output=True)
    assert read.returncode == 0
    shown_md = MarkdownIt("commonmark").render(stored["md"].decode())  # Markdown as a reader sees it
    for text in (" ".join(read.stdout.decode().split()), html.unescape(shown_md)):
        assert "Evidence appendix" in text
        assert result.question in text
        for source in result.sources:
            assert source.url in text


async def test_an_export_value_that_is_not_ours_is_refused(stack: Stack, channel: Channel) -> None:
    junk = {"type": "button", "action_id": "report_export_pdf", "value": '{"wf": "x", "format": "docx"}'}
    payload = clicked(stack, channel, {"ts": stack.workspace.new_ts(), "blocks": []}, junk, "report_export", ASKER)
    response = await stack.http.interaction(payload)
    assert response.status_code == 400 and "export button value" in response.text
