"""The plan's review before searching: the gate (workflows/gate.py) at which a run waits for Search this or
Edit plan, and the bounds of an edited plan (the bot checks them too, to answer in the modal).
"""

from __future__ import annotations

import re

from workflows.gate import Gate, Run, Words
from workflows.models import (
    MAX_PLAN_QUESTION_CHARS,
    MAX_PLAN_QUESTIONS,
    PlanReviewInput,
    PlanReviewKind,
    PlanReviewReceipt,
    PlanReviewRecord,
    Stage,
)

__all__ = ["PLAN_NOT_REVIEWED", "PLAN_REVIEW", "PLAN_REVIEW_PATCH", "parse_plan", "plan_problem"]

# Runs started before plan review never wait for one; the patch marks the runs that may.
PLAN_REVIEW_PATCH = "plan-review"
PLAN_NOT_REVIEWED = "no one reviewed the plan in time"  # the error of a run whose plan's review expired

_BULLET = re.compile(r"^\s*(?:\d{1,2}[.)]|[-*•])\s+")


def parse_plan(text: str) -> list[str]:
    """The sub-questions of an edited plan: one a line, blank lines dropped, a leading "1." or "-" removed."""
    return [line for raw in text.splitlines() if (line := _BULLET.sub("", raw).strip())]


def plan_problem(sub_questions: list[str]) -> str | None:
    """Why an edited plan cannot be searched, in words for the person who wrote it; None if it can."""
    if not sub_questions:
        return "an edited plan needs at least one sub-question, one a line"
    if len(sub_questions) > MAX_PLAN_QUESTIONS:
        return f"a plan has at most {MAX_PLAN_QUESTIONS} sub-questions; this one has {len(sub_questions)}"
    for n, question in enumerate(sub_questions, 1):
        if len(question) > MAX_PLAN_QUESTION_CHARS:
            return f"sub-question {n} is {len(question)} characters long; keep each under {MAX_PLAN_QUESTION_CHARS}"
    return None


def _problem(review: PlanReviewInput, run: Run) -> str | None:
    return plan_problem(review.sub_questions) if review.kind is PlanReviewKind.EDIT else None


def _acknowledgement(review: PlanReviewInput) -> str:
    if review.kind is PlanReviewKind.EDIT:
        return f"Plan edited: searching for your {len(review.sub_questions)} sub-questions"
    return "Searching as planned"


PLAN_REVIEW: Gate[PlanReviewInput, PlanReviewRecord, Run] = Gate(
    record=PlanReviewRecord,
    receipt=PlanReviewReceipt,
    refused_as="PlanReviewRefused",
    words=Words(
        answered="this plan has already been reviewed",
        not_open="no plan is awaiting review (the run is {doing})",
        other_round="that review is for the plan of round {answer}, but the plan awaiting review is round {current}",
        not_allowed="{by} may not review this plan: only the person who asked and the configured approvers may",
    ),
    asked=lambda run: run.asked(
        open=run.status.stage is Stage.AWAITING_PLAN_REVIEW, round=run.status.plan_review_round
    ),
    records=lambda run: run.status.plan_reviews,
    check=_problem,
    acknowledgement=_acknowledgement,
    quiet_repeats=True,  # as runs in flight do: the click's update got through, and its sender heard so
)
