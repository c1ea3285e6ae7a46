"""A question asked with a file attached, end to end: a mention carrying a PDF (made with fpdf2 here) arrives
at the real bot as Slack's app_mention with ``files``; the `researchbot worker` process reads the file with
files.info and its private URL from the sandbox Slack, and the draft cites the PDF's page. A file shared in
another conversation is refused, and the progress says why."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from sandbox import Channel, files, payloads
from tests.e2e.slack_stack import ASKER, Stack, eventually, messages, workflow_id_of
from tests.support.documents import write_pdf
from tests.support.slack import APPROVER, STRANGER
from tests.workflows.helpers import wait_for_stage
from workflows.models import Stage

pytestmark = pytest.mark.slow

QUESTION = "When must Orion travel expenses be filed?"
HANDBOOK = [
    "The Orion handbook covers the team's travel.",
    "Orion travel expenses must be filed within 30 days of the trip, with every receipt attached.",
]


def a_channel(stack: Stack) -> Channel:
    """A channel the bot is in, as it must be to hear a mention and read the files shared there."""
    name = f"files-{uuid.uuid4().hex[:6]}"
    return stack.workspace.add_channel(name, members=[ASKER, APPROVER, STRANGER], bot_member=True)


def mention_with(stack: Stack, channel: Channel, text: str, attached: list[dict[str, Any]]) -> dict[str, Any]:
    message = stack.workspace.post(channel.id, user=ASKER, text=text, files=attached)
    files.mark_shared(stack.workspace, attached, channel.id, message["ts"])
    return message


def the_draft(stack: Stack, channel: Channel, thread_ts: str) -> dict[str, Any] | None:
    return next(
        (
            m
            for m in messages(stack, channel)
            if m.get("thread_ts") == thread_ts
            and any(b["type"] == "actions" and b.get("block_id") == "decision-1" for b in m.get("blocks") or [])
        ),
        None,
    )


async def test_a_mention_with_a_pdf_cites_its_page(stack: Stack, tmp_path: Path) -> None:
    channel = a_channel(stack)
    pdf = write_pdf(tmp_path / "handbook.pdf", HANDBOOK).read_bytes()
    shared = files.with_base(files.share_person_file(stack.workspace, ASKER, "handbook.pdf", pdf), stack.slack.url)
    mention = mention_with(stack, channel, f"<@U0BOT> {QUESTION}", [shared])
    event = payloads.app_mention(stack.workspace, channel=channel, message=mention)
    assert event["files"][0]["url_private"].startswith(stack.slack.url)
    assert (await stack.http.event(payloads.event_callback(stack.workspace, event))).status_code == 200

    draft = await eventually(lambda: the_draft(stack, channel, mention["ts"]), "the draft", stack)
    status = await wait_for_stage(stack.handle(workflow_id_of(draft)), Stage.AWAITING_DECISION, tries=1200)
    # The file's pages are the first sources, ahead of anything the search found.
    assert [s.title for s in status.sources[:2]] == ["handbook.pdf, p. 1", "handbook.pdf, p. 2"]
    assert status.sources[1].url == f"slack-file://{channel.id}/{shared['id']}#page=2"
    assert status.draft is not None and "[2]" in status.draft.text, status.draft
    assert "30 days" in status.draft.text
    assert "handbook.pdf, p. 2" in json.dumps(draft["blocks"])
    # Only the file's id and name are in the run's history: never the token or a private URL.
    history = json.dumps([e async for e in stack.handle(workflow_id_of(draft)).fetch_history_events()], default=str)
    assert stack.workspace.bot_token not in history and "files-pri" not in history


async def test_a_file_from_another_conversation_is_refused_and_the_progress_says_so(
    stack: Stack, tmp_path: Path
) -> None:
    here, elsewhere = a_channel(stack), a_channel(stack)
    pdf = write_pdf(tmp_path / "payroll.pdf", ["Orion travel expenses are secret."]).read_bytes()
    foreign = files.share_person_file(stack.workspace, APPROVER, "payroll.pdf", pdf)
    mention_with(stack, elsewhere, "here it is", [foreign])
    # The same file's id, pasted into a mention elsewhere (as a forged event could carry it).
    mention = stack.workspace.post(here.id, user=ASKER, text=f"<@U0BOT> {QUESTION}")
    event = payloads.app_mention(stack.workspace, channel=here, message=mention) | {"files": [foreign]}
    assert (await stack.http.event(payloads.event_callback(stack.workspace, event))).status_code == 200

    draft = await eventually(lambda: the_draft(stack, here, mention["ts"]), "the draft", stack)
    status = await wait_for_stage(stack.handle(workflow_id_of(draft)), Stage.AWAITING_DECISION, tries=1200)
    assert all(not s.url.startswith("slack-file://") for s in status.sources)
    assert status.searches_failed[0] == (
        f"attached file {foreign['id']}: it is not shared in the conversation the question was asked in"
    )
    assert "not shared in the conversation" in json.dumps(messages(stack, here))
