""" "Revise with this" / "Approve with this" under a reply in a waiting draft's thread (bot/from_thread.py).

The click delivers exactly what the decision modal's submission delivers (bot/decisions.py
``deliver``): the reply's text as the feedback, carried in the button (no Slack read) or, for a reply
too long for a button value, read again now; a read Slack refuses for now (429) is answered, never
taken for a gone reply. The decision id comes from the reply and the button, so
the same click delivered twice (or clicked twice) is one decision; the workflow's update validator has the
last word, and its refusals reach the person as they are.
"""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.decisions import decision_id, deliver, may_not_decide
from bot.from_thread import NOT_READ_CLICK, REPLY_GONE, TOO_LONG, ThreadNotRead, read_reply_text
from bot.people import team_of_clicker
from bot.under_way import after_ack
from slack_ui.ids import decode_thread_feedback_value, field
from slack_ui.replies import THREAD_APPROVE, THREAD_REVISE
from workflows.models import MAX_FEEDBACK_CHARS, DecisionInput, DecisionKind

__all__ = ["decide_with_reply", "register"]


def register(app: AsyncApp) -> None:
    app.action(THREAD_REVISE)(decide_with_reply)
    app.action(THREAD_APPROVE)(decide_with_reply)


async def decide_with_reply(
    ack: AsyncAck,
    body: dict[str, Any],
    action: dict[str, Any],
    client: AsyncWebClient,
    respond: AsyncRespond,
    context: AsyncBoltContext,
) -> None:
    """Deliver the reply as the feedback of a revise or an approve, then ack and say what became of it."""
    workflow_id, draft_round, thread_ts, reply_ts, carried = decode_thread_feedback_value(action.get("value"))
    user, channel = field(body, "user", "id"), field(body, "channel", "id")
    kind = DecisionKind.REVISE if action.get("action_id") == THREAD_REVISE else DecisionKind.APPROVE
    if refusal := await may_not_decide(
        context["settings"], workflow_id, user, context.get("people"), team_of_clicker(body)
    ):
        await ack()
        after_ack(context, respond(text=refusal, response_type="ephemeral", replace_original=False), "a refusal")
        return
    try:
        feedback = carried if carried is not None else await read_reply_text(client, channel, thread_ts, reply_ts)
    except ThreadNotRead:
        feedback, said = None, NOT_READ_CLICK
    else:
        said = REPLY_GONE if feedback is None else TOO_LONG
    if feedback is None or len(feedback) > MAX_FEEDBACK_CHARS:
        await ack()
        after_ack(context, respond(text=said, response_type="ephemeral", replace_original=False), "a refusal")
        return
    click = decision_id("thread-reply", workflow_id, str(draft_round), reply_ts, kind.value)
    decision = DecisionInput(kind=kind, draft_round=draft_round, decided_by=user, feedback=feedback, decision_id=click)
    outcome = await deliver(context["temporal"], workflow_id, decision)
    await ack()
    after_ack(context, respond(text=outcome.message, response_type="ephemeral", replace_original=False), "the outcome")
