"""The decision modal's submission: deliver the decision, then answer inside Slack's 3 seconds.

A refusal (someone who may not decide, told up front; the update validator's words; or "this run
has already ended") stays in the modal as an error on the feedback field, so the person sees why
nothing happened. A decision queued as a
signal because no worker answered closes the modal and says so in an ephemeral message. What
the decision did to the draft, the workflow's activities post in the thread. Metadata that is not
ours is refused with a 400 before anything is sent (bot/app.py).
"""

from __future__ import annotations

from typing import Any

import structlog
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.decisions import decision_id, deliver, may_not_decide, tell_queued
from bot.people import team_of_clicker
from bot.under_way import after_ack
from slack_ui.ids import decode_private_metadata, field
from slack_ui.replies import DECISION_MODAL, FEEDBACK_ACTION, FEEDBACK_BLOCK
from workflows.models import DecisionInput

__all__ = ["register", "submit_decision", "tell_queued"]

log = structlog.get_logger(__name__)


def register(app: AsyncApp) -> None:
    app.view(DECISION_MODAL)(submit_decision)


async def submit_decision(
    ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
) -> None:
    """Approve (with an optional note) or Revise (with feedback) from the modal."""
    workflow_id, draft_round, kind = decode_private_metadata(view.get("private_metadata"))
    user, view_id = field(body, "user", "id"), field(view, "id")
    if refusal := await may_not_decide(
        context["settings"], workflow_id, user, context.get("people"), team_of_clicker(body)
    ):
        await ack(response_action="errors", errors={FEEDBACK_BLOCK: refusal})
        return
    feedback = _feedback(view)
    decision = DecisionInput(
        kind=kind, draft_round=draft_round, decided_by=user, feedback=feedback, decision_id=decision_id("view", view_id)
    )
    outcome = await deliver(context["temporal"], workflow_id, decision)
    if not outcome.accepted:
        await ack(response_action="errors", errors={FEEDBACK_BLOCK: outcome.message})
        return
    await ack()
    if outcome.queued:
        after_ack(context, tell_queued(client, workflow_id, user, outcome.message), "a queued decision")


def _feedback(view: dict[str, Any]) -> str | None:
    try:
        value = view["state"]["values"][FEEDBACK_BLOCK][FEEDBACK_ACTION]["value"]
    except (KeyError, TypeError):
        return None
    return value if isinstance(value, str) else None
