"""The plan message under review: its buttons while it waits, the line that replaces them, and the notice
of a run whose plan nobody reviewed."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from slack_ui.ids import decode_plan_value
from slack_ui.thread import outcome_notice, plan_message, plan_review_line, progress_message, root_message
from workflows.models import (
    Outcome,
    PlanReviewKind,
    PlanReviewRecord,
    ResearchResult,
    RunStatus,
    Stage,
    TokenUsage,
)
from workflows.plan_review import PLAN_NOT_REVIEWED

AT = datetime(2026, 12, 4, 9, 30, tzinfo=UTC)


def waiting() -> RunStatus:
    return RunStatus(
        workflow_id="research-T1-U1-C1-" + "a" * 20,
        question="How do retries work?",
        requested_by="UASKER1",
        stage=Stage.AWAITING_PLAN_REVIEW,
        draft_round=1,
        plan_review_round=1,
        sub_questions=["What is a retry policy? <b>", "How do heartbeats work?"],
    )


def test_a_plan_awaiting_review_carries_its_two_buttons_and_says_who_may_answer() -> None:
    message = plan_message(waiting())
    [actions] = [b for b in message["blocks"] if b["type"] == "actions"]
    assert [e["action_id"] for e in actions["elements"]] == ["plan_search", "plan_edit"]
    assert decode_plan_value(actions["elements"][1]["value"]) == (waiting().workflow_id, 1)
    text = json.dumps(message["blocks"], ensure_ascii=False)
    assert "1. What is a retry policy? &lt;b&gt;" in text and "<@UASKER1> or an approver" in text
    assert "Waiting for the plan's review" in json.dumps(root_message(waiting())["blocks"], ensure_ascii=False)
    assert "⏸ Planning (2 questions)" in json.dumps(progress_message(waiting())["blocks"], ensure_ascii=False)


def test_once_answered_the_buttons_give_way_to_who_answered() -> None:
    record = PlanReviewRecord(kind=PlanReviewKind.EDIT, plan_round=1, reviewed_by="UAPPROVER2", at=AT, via="update")
    status = waiting().model_copy(update={"stage": Stage.SEARCHING})
    message = plan_message(status, closed=plan_review_line(record))
    assert not [b for b in message["blocks"] if b["type"] == "actions"]
    assert "✏️ Plan edited by <@UAPPROVER2>" in json.dumps(message["blocks"], ensure_ascii=False)
    assert not [b for b in plan_message(status)["blocks"] if b["type"] == "actions"], "no buttons once searching"


def test_a_run_whose_plan_nobody_reviewed_says_so() -> None:
    result = ResearchResult(
        workflow_id="wf",
        question="q?",
        requested_by="UASKER1",
        outcome=Outcome.EXPIRED,
        answer="",
        steps_taken=0,
        sources=[],
        revision_rounds=0,
        usage=TokenUsage(),
        decisions=[],
        started_at=AT,
        finished_at=AT,
        error=PLAN_NOT_REVIEWED,
    )
    assert "no one reviewed the plan in time" in outcome_notice(result)["text"]
