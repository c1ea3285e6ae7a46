"""A follow-up question asked in a finished run's thread: the replies it gathers, and what it starts from.

The bot starts the follow-up with signal-with-start (bot/from_thread.py): replies sent at once all reach one
run as ``follow_up`` signals. The run gathers them for GATHER_FOR, then asks them as one question, with
the earlier run (its question, report and sources: ``ResearchRequest.earlier``) for the planner and
the writer. The earlier run travels in the activities' own ``earlier`` field, never in ``feedback``, which
is a reviewer's revise text only: the model reads it as fenced material (activities/model/prompts.py).
A follow-up plans with the revision's activity, so its commands are those of the runs before this field.
Deterministic: no I/O.
"""

from __future__ import annotations

from datetime import timedelta

from workflows.models import MAX_QUESTION_CHARS, FollowUpInput

__all__ = ["FOLLOW_UPS_PATCH", "GATHER_FOR", "question_of", "with_reply"]

FOLLOW_UPS_PATCH = "thread-follow-ups"
# How long a follow-up waits for more replies before it plans: replies "at once" land well inside this.
GATHER_FOR = timedelta(seconds=3)


def with_reply(replies: list[FollowUpInput], reply: FollowUpInput) -> list[FollowUpInput]:
    """The replies with one more, in the thread's order; a reply delivered twice (Slack's retries) once."""
    if any(known.ts == reply.ts for known in replies):
        return replies
    return sorted([*replies, reply], key=lambda known: float(known.ts))


def question_of(replies: list[FollowUpInput], fallback: str) -> str:
    """The replies as one question, one line each, bounded like any question."""
    text = "\n".join(reply.text.strip() for reply in replies if reply.text.strip()) or fallback
    return text[:MAX_QUESTION_CHARS].strip()
