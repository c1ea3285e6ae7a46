"""The decision modal's submission: send the decision, then answer inside Slack's 3 seconds.

A refusal (the update validator's words, or "this run has already ended") stays in the modal as
an error on the feedback field, so the person sees why nothing happened. A decision queued as a
signal because no worker answered closes the modal and says so in an ephemeral message. What
the decision did to the draft, the workflow's activities post in the thread.
"""

from __future__ import annotations

from typing import Any

import structlog
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.listeners.actions import decision_id, deliver
from bot.listeners.commands import parse_workflow_id
from slack_ui.replies import DECISION_MODAL, FEEDBACK_ACTION, FEEDBACK_BLOCK, decode_private_metadata
from workflows.models import DecisionInput

__all__ = ["register", "submit_decision", "tell_queued"]

log = structlog.get_logger(__name__)


def register(app: AsyncApp) -> None:
    app.view(DECISION_MODAL)(submit_decision)


async def submit_decision(
    ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
) -> None:
    """Approve (with an optional note) or Revise (with feedback) from the modal."""
    workflow_id, draft_round, kind = decode_private_metadata(view["private_metadata"])
    user = body["user"]["id"]
    feedback = view["state"]["values"].get(FEEDBACK_BLOCK, {}).get(FEEDBACK_ACTION, {}).get("value")
    decision = DecisionInput(
        kind=kind,
        draft_round=draft_round,
        decided_by=user,
        feedback=feedback,
        decision_id=decision_id("view", view["id"]),
    )
    outcome = await deliver(context["temporal"], workflow_id, decision)
    if not outcome.accepted:
        await ack(response_action="errors", errors={FEEDBACK_BLOCK: outcome.message})
        return
    await ack()
    if outcome.queued:
        await tell_queued(client, workflow_id, user, outcome.message)


async def tell_queued(client: AsyncWebClient, workflow_id: str, user: str, text: str) -> None:
    """An ephemeral note in the run's channel (its workflow id says which); best effort."""
    address = parse_workflow_id(workflow_id)
    if address is None:
        log.warning("decision.queued_not_told", workflow_id=workflow_id, user=user, reason="no channel in the id")
        return
    try:
        await client.chat_postEphemeral(channel=address.channel_id, user=user, text=text)
    except SlackApiError as error:
        log.warning("decision.queued_not_told", workflow_id=workflow_id, user=user, reason=error.response.get("error"))
