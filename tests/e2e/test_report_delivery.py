"""Delivering a report, end to end (the sandbox Slack, the real bot and a `researchbot worker` process):
a long one as a canvas; 👍 / 👎 on it, each click acked only once its recording has started, kept once
in the archive (a click Slack delivers twice included), and the person thanked in private."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from temporalio.testing import WorkflowEnvironment

from activities.archive.ratings import RatingStore
from activities.archive.store import ArchiveStore
from sandbox import Channel, SlackApiServer, payloads
from sandbox.canvases import canvas_url
from tests.e2e.slack_stack import (
    APPROVER,
    ASKER,
    STRANGER,
    Stack,
    clicked,
    ephemerals,
    eventually,
    new_ephemeral,
    open_modal,
    report,
    running_stack,
    started_run,
    submit,
)
from workflows.models import Rating


def rate(stack: Stack, channel: Channel, message: dict[str, Any], choice: str, user: str) -> dict[str, Any]:
    """The block_actions payload Slack sends when ``user`` clicks 👍 (positive) or 👎 (negative)."""
    block = next(b for b in payloads.with_block_ids(message["blocks"]) if b["type"] == "context_actions")
    element = payloads.feedback_choice(block["elements"][0], choice)
    assert element is not None
    return clicked(stack, channel, message, element, block["block_id"], user)


async def test_feedback_on_a_report_is_recorded_once_per_click(stack: Stack, channel: Channel) -> None:
    first_draft, workflow_id = await started_run(stack, channel)
    modal = await open_modal(stack, channel, first_draft, "approve", APPROVER)
    assert "errors" not in (await submit(stack, modal, APPROVER, None)).text
    final = await eventually(lambda: report(stack, channel), "the final report in the thread", stack)

    thumbs_up = rate(stack, channel, final, "positive", APPROVER)
    seen = len(ephemerals(stack, channel, APPROVER))
    for _ in range(2):  # Slack delivers the same click twice: one row
        assert (await stack.http.interaction(thumbs_up)).status_code == 200
    assert "👍" in await new_ephemeral(stack, channel, APPROVER, seen)
    assert (await stack.http.interaction(rate(stack, channel, final, "negative", STRANGER))).status_code == 200

    archive = ArchiveStore(f"sqlite:///{stack.data}/archive.db")
    try:
        kept = await eventually(
            lambda: (found := RatingStore(archive).of_run(workflow_id)) and len(found) >= 2 and found,
            "both clicks in the archive",
            stack,
        )
    finally:
        archive.dispose()
    assert sorted((f.given_by, f.rating) for f in kept) == [(APPROVER, Rating.POSITIVE), (STRANGER, Rating.NEGATIVE)]
    assert ASKER not in {f.given_by for f in kept}


async def test_a_feedback_value_that_is_not_ours_is_refused(stack: Stack, channel: Channel) -> None:
    junk = {"type": "feedback_buttons", "action_id": "report_feedback", "value": '{"wf": "x", "rating": "meh"}'}
    payload = clicked(stack, channel, {"ts": stack.workspace.new_ts(), "blocks": []}, junk, "b0", ASKER)
    response = await stack.http.interaction(payload)
    assert response.status_code == 400 and "rating button value" in response.text


async def test_a_long_report_is_published_as_a_canvas(
    slack: SlackApiServer, env: WorkflowEnvironment, channel: Channel, tmp_path: Path
) -> None:
    """With SLACK_REPORT_MAX_MESSAGES=0 every report is a canvas: the offline report goes into one,
    the channel may read it, and the thread's report links to it and carries the feedback buttons."""
    async with running_stack(slack, env, tmp_path, {"SLACK_REPORT_MAX_MESSAGES": "0"}) as own:
        first_draft, workflow_id = await started_run(own, channel)
        modal = await open_modal(own, channel, first_draft, "approve", APPROVER)
        assert "errors" not in (await submit(own, modal, APPROVER, None)).text
        final = await eventually(lambda: report(own, channel), "the final report in the thread", own)
    (canvas_id,) = [c for c, canvas in slack.workspace.canvases.items() if channel.id in canvas["channels"]]
    canvas = slack.workspace.canvases[canvas_id]
    assert canvas["title"].startswith("Research report: How does Temporal retry activities")
    assert "## Sources" in canvas["markdown"] and "local://" in canvas["markdown"]  # the local corpus
    shown = json.dumps(final["blocks"])
    assert canvas_url(slack.workspace, canvas_id) in shown and "open the canvas" in shown
    assert [b["type"] for b in final["blocks"][-2:]] == ["context_actions", "actions"]  # 👍 / 👎, then Export
    assert workflow_id in shown, "the feedback buttons name the run"
