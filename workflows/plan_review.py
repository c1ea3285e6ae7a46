"""Reviewing the plan before searching: the rules behind the `review_plan` update's validator, and the
bounds of an edited plan (the bot checks them too, to answer in the modal).

The same people as for a draft may answer (the requester and the approvers), once per plan.
"""

from __future__ import annotations

import re

from workflows.models import (
    MAX_PLAN_QUESTION_CHARS,
    MAX_PLAN_QUESTIONS,
    PlanReviewInput,
    PlanReviewKind,
    ResearchRequest,
    RunStatus,
    Stage,
)

__all__ = ["PLAN_NOT_REVIEWED", "PLAN_REVIEW_PATCH", "acknowledgement", "parse_plan", "plan_problem", "refusal"]

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


def refusal(
    review: PlanReviewInput, *, status: RunStatus, request: ResearchRequest, already_pending: bool
) -> str | None:
    """Why this review cannot be taken now; None if it can."""
    answered = any(r.applied and r.plan_round == review.plan_round for r in status.plan_reviews)
    if (
        already_pending
        or answered
        or (
            review.review_id is not None
            and any(r.review_id == review.review_id and r.applied for r in status.plan_reviews)
        )
    ):
        return "this plan has already been reviewed"
    if status.stage is not Stage.AWAITING_PLAN_REVIEW:
        return f"no plan is awaiting review (the run is {status.stage.value.replace('_', ' ')})"
    if review.plan_round != status.plan_review_round:
        return (
            f"that review is for the plan of round {review.plan_round}, "
            f"but the plan awaiting review is round {status.plan_review_round}"
        )
    if review.reviewed_by not in {request.requested_by, *request.approvers}:
        return (
            f"{review.reviewed_by} may not review this plan: only the person who asked and the configured approvers may"
        )
    if review.kind is PlanReviewKind.EDIT:
        return plan_problem(review.sub_questions)
    return None


def acknowledgement(review: PlanReviewInput) -> str:
    if review.kind is PlanReviewKind.EDIT:
        return f"Plan edited: searching for your {len(review.sub_questions)} sub-questions"
    return "Searching as planned"
