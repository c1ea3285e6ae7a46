"""Every Slack listener ResearchBot has, registered in one place."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.listeners import actions, commands, events, feedback, plan_review, thread_feedback, views

__all__ = ["register_listeners"]


def register_listeners(app: AsyncApp) -> None:
    commands.register(app)  # /research
    actions.register(app)  # approve, revise, reject buttons
    views.register(app)  # the decision modal's submission
    plan_review.register(app)  # a plan's Search this / Edit plan buttons, and the Edit plan modal
    feedback.register(app)  # 👍 / 👎 under a published report
    events.register(app)  # a mention, a DM, the DM pane opening, a reply in a run's thread
    thread_feedback.register(app)  # "Revise with this" / "Approve with this" under a reply
