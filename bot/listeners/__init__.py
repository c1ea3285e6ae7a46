"""Every Slack listener ResearchBot has, registered in one place."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.listeners import actions, commands, events, ratings, thread_feedback, views

__all__ = ["register_listeners"]


def register_listeners(app: AsyncApp) -> None:
    commands.register(app)  # /research
    actions.register(app)  # a draft's Approve / Revise / Reject and a plan's Search this / Edit plan buttons
    views.register(app)  # the decision modal's and the Edit plan modal's submissions
    ratings.register(app)  # 👍 / 👎 under a published report
    events.register(app)  # a mention, a DM, the DM pane opening, a reply in a run's thread
    thread_feedback.register(app)  # "Revise with this" / "Approve with this" under a reply
