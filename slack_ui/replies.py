"""What ResearchBot says to one person: the slash command's ephemeral answers, and the decision modals.

Pure builders like :mod:`slack_ui.thread`: messages are :class:`slack_ui.blocks.Message`, modals are
view dicts for ``views.open``; limits are enforced and text is escaped here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from slack_ui.blocks import MAX_BUTTON_TEXT, Message, context, message, plain, section, sections
from slack_ui.ids import encode_plan_value, encode_private_metadata, encode_thread_feedback_value
from slack_ui.mrkdwn import escape, link, safe
from slack_ui.thread import status_line
from workflows.models import (
    MAX_FEEDBACK_CHARS,
    MAX_PLAN_QUESTION_CHARS,
    MAX_PLAN_QUESTIONS,
    DecisionKind,
    RunStatus,
)

__all__ = [
    "DECISION_MODAL",
    "FEEDBACK_ACTION",
    "FEEDBACK_BLOCK",
    "PLAN_ACTION",
    "PLAN_BLOCK",
    "PLAN_EDIT_MODAL",
    "SUGGESTED_PROMPTS",
    "SUGGESTED_PROMPTS_TITLE",
    "THREAD_APPROVE",
    "THREAD_REVISE",
    "cannot_post_message",
    "decision_modal",
    "help_message",
    "plan_edit_modal",
    "status_message",
    "thread_feedback_prompt",
    "usage_message",
]

THREAD_REVISE, THREAD_APPROVE = "revise_with_reply", "approve_with_reply"  # a reply offered as feedback
DECISION_MODAL = "decision_modal"  # callback_id of the approve and revise modals
FEEDBACK_BLOCK = FEEDBACK_ACTION = "feedback"  # view.state.values["feedback"]["feedback"]["value"]
MAX_MODAL_TITLE = 24
PLAN_EDIT_MODAL = "plan_edit_modal"  # callback_id of the Edit plan modal
PLAN_BLOCK = PLAN_ACTION = "plan"  # view.state.values["plan"]["plan"]["value"]: one sub-question a line

# The DM pane's suggested questions (assistant.threads.setSuggestedPrompts takes at most four); the same
# as manifest.yml's agent_view.suggested_prompts.
SUGGESTED_PROMPTS_TITLE = "Try asking"
SUGGESTED_PROMPTS = [
    {"title": "How do workflows survive crashes?", "message": "How does Temporal make workflows durable?"},
    {"title": "Retries and heartbeats", "message": "How does Temporal retry activities, and what are heartbeats?"},
    {"title": "Signals vs updates", "message": "When should a Temporal workflow use an update instead of a signal?"},
]

_USAGE = (
    f"*Usage:* `/research {escape('<question>')}` starts a research run here "
    f"(`/research --review-plan {escape('<question>')}` waits for you to review its plan before searching) · "
    "`/research status` shows your runs · `/research help` explains how it works"
)


def usage_message() -> Message:
    return message(f"Usage: /research {escape('<question>')} | status | help", [section(_USAGE)])


def help_message() -> Message:
    text = (
        "*ResearchBot* researches a question for you and writes a cited report.\n"
        f"1. `/research {escape('<question>')}`: I post the question here and work in its thread: a plan, "
        "live progress, then a draft with numbered sources.\n"
        "2. Someone reviews the draft: *Approve* publishes the report, *Revise* sends it back with "
        "your feedback for another round, *Reject* ends the run.\n"
        "3. The approved report goes to the thread and the channel.\n"
        f"`/research every monday 09:00 {escape('<question>')}` asks it on a schedule here; "
        "`/research schedules` lists them.\n"
        "I need to be in private channels to post there: `/invite @ResearchBot`."
    )
    return message("How ResearchBot works", [section(text), context(_USAGE)])


def status_message(runs: Sequence[RunStatus], threads: Mapping[str, str] | None = None) -> Message:
    """The asker's runs, one line each (at most 20), each linking to its thread where ``threads``
    (permalinks by workflow id) has one."""
    if not runs:
        return message("You have no research runs in progress.", [section("You have no research runs in progress.")])
    threads = threads or {}
    lines = [
        f"• {link(url, run.question, 120) if (url := threads.get(run.workflow_id)) else safe(run.question, 120)}: "
        f"{status_line(run, counts=True)}"
        for run in runs[:20]
    ]
    more = [context(f"…and {len(runs) - 20} more")] if len(runs) > 20 else []
    # Twenty long questions with permalinks pass a section's 3,000 characters: cut between lines.
    return message(f"You have {len(runs)} research runs", [*sections("\n".join(lines)), *more])


def cannot_post_message() -> Message:
    """For the asker, via response_url, when the bot cannot post in the channel they asked from."""
    text = (
        "I can't post in this conversation: it's private (or a DM) and I'm not a member. "
        "Invite me with `/invite @ResearchBot` and ask again, or ask in a public channel."
    )
    return message(text, [section(text)])


def decision_not_applied(reason: str, what: str = "decision") -> Message:
    """For whoever sent a decision (or a plan review) while no worker ran, when the run refused it on arrival."""
    text = f"Your {what}, queued while the research service was down, was not applied: {safe(reason, 500)}."
    return message(text, [section(text)])


def thread_feedback_prompt(
    workflow_id: str, draft_round: int, thread_ts: str, reply_ts: str, text: str | None = None
) -> Message:
    """For someone who may decide and replied in the thread of a waiting draft: their reply (``text``, as it
    was sent) as feedback, only if they click."""
    value = encode_thread_feedback_value(workflow_id, draft_round, thread_ts, reply_ts, text)
    text = f"Use your reply as feedback on draft {draft_round}? Nothing happens unless you click."
    buttons = [
        {"type": "button", "text": plain("Revise with this", MAX_BUTTON_TEXT), "action_id": THREAD_REVISE}
        | {"value": value, "style": "primary"},
        {"type": "button", "text": plain("Approve with this", MAX_BUTTON_TEXT), "action_id": THREAD_APPROVE}
        | {"value": value},
    ]
    return message(text, [section(text), {"type": "actions", "block_id": "reply-feedback", "elements": buttons}])


def decision_modal(kind: DecisionKind | str, workflow_id: str, draft_round: int, question: str) -> dict[str, Any]:
    """The modal behind Approve (feedback optional) or Revise (feedback required).
    Reject has no modal: its button asks for confirmation itself."""
    kind = DecisionKind(kind)
    if kind is DecisionKind.REJECT:
        raise ValueError("reject is confirmed on the button, it has no modal")
    approve = kind is DecisionKind.APPROVE
    feedback = {
        "type": "input",
        "block_id": FEEDBACK_BLOCK,
        "optional": approve,
        "label": plain("Anything to change in the final report?" if approve else "What should change?", 2000),
        "element": {
            "type": "plain_text_input",
            "action_id": FEEDBACK_ACTION,
            "multiline": True,
            "max_length": MAX_FEEDBACK_CHARS,
            "placeholder": plain("e.g. shorten the summary, or check the 2023 figures", 150),
        },
    }
    return {
        "type": "modal",
        "callback_id": DECISION_MODAL,
        "title": plain(f"{'Approve' if approve else 'Revise'} draft {draft_round}", MAX_MODAL_TITLE),
        "submit": plain("Approve" if approve else "Send for revision", MAX_MODAL_TITLE),
        "close": plain("Cancel", MAX_MODAL_TITLE),
        "private_metadata": encode_private_metadata(workflow_id, draft_round, kind),
        "blocks": [section(f"*Question:* {safe(question, 2900)}"), feedback],
    }


def plan_edit_modal(workflow_id: str, plan_round: int, sub_questions: list[str]) -> dict[str, Any]:
    """The modal behind Edit plan: the plan's sub-questions, one a line, to change before anything is searched."""
    plan = {
        "type": "input",
        "block_id": PLAN_BLOCK,
        "label": plain(f"Sub-questions, one a line (at most {MAX_PLAN_QUESTIONS})", 2000),
        "element": {
            "type": "plain_text_input",
            "action_id": PLAN_ACTION,
            "multiline": True,
            "max_length": MAX_PLAN_QUESTIONS * (MAX_PLAN_QUESTION_CHARS + 1),
            "initial_value": "\n".join(sub_questions)[: MAX_PLAN_QUESTIONS * (MAX_PLAN_QUESTION_CHARS + 1)],
        },
    }
    return {
        "type": "modal",
        "callback_id": PLAN_EDIT_MODAL,
        "title": plain("Edit the plan", MAX_MODAL_TITLE),
        "submit": plain("Search these", MAX_MODAL_TITLE),
        "close": plain("Cancel", MAX_MODAL_TITLE),
        "private_metadata": encode_plan_value(workflow_id, plan_round),
        "blocks": [
            section("I'll search for each sub-question below instead of the plan in the thread."),
            plan,
        ],
    }
