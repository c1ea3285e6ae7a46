"""The draft's decision: the gate (workflows/gate.py) at which a run waits for Approve, Revise or Reject."""

from __future__ import annotations

from workflows.gate import Gate, Run, Words
from workflows.models import DecisionInput, DecisionKind, DecisionReceipt, DecisionRecord, Stage

__all__ = ["DECISION", "stage_after"]

_ACKNOWLEDGEMENTS = {
    DecisionKind.APPROVE: "Approved: writing the final report",
    DecisionKind.REVISE: "Revision requested: starting draft round {next}",
    DecisionKind.REJECT: "Rejected: the run ends without a report",
}


def _problem(decision: DecisionInput, run: Run) -> str | None:
    """What a decision of its kind lacks: a revision's feedback, a revision round left, a draft that passed."""
    status, request = run
    if decision.kind is DecisionKind.REVISE:
        if not decision.feedback:
            return "a revision needs feedback that says what to change"
        if status.draft_round > request.max_revision_rounds:
            return f"this run has used all {request.max_revision_rounds} revision rounds; approve or reject this draft"
    if decision.kind is DecisionKind.APPROVE and status.draft and status.draft.violations:
        return "this draft failed its checks (" + "; ".join(status.draft.violations) + "); revise or reject it"
    return None


def _acknowledgement(decision: DecisionInput) -> str:
    return _ACKNOWLEDGEMENTS[decision.kind].format(next=decision.draft_round + 1)


DECISION: Gate[DecisionInput, DecisionRecord, Run] = Gate(
    record=DecisionRecord,
    receipt=DecisionReceipt,
    refused_as="DecisionRefused",
    words=Words(
        answered="this draft has already been decided",
        not_open="no draft is awaiting a decision (the run is {doing})",
        other_round="that decision is for draft round {answer}, but the current draft is round {current}",
        not_allowed="{by} may not decide on this run: only the person who asked and the configured approvers may",
    ),
    asked=lambda run: run.asked(
        open=run.status.stage is Stage.AWAITING_DECISION and run.status.draft is not None,
        round=run.status.draft_round,
    ),
    records=lambda run: run.status.decisions,
    check=_problem,
    acknowledgement=_acknowledgement,
    tell_patch="tell-refused-signals",  # runs from before it recorded a refused signal without telling anyone
)


def stage_after(decision: DecisionInput) -> Stage:
    if decision.kind is DecisionKind.APPROVE:
        return Stage.FINALIZING
    if decision.kind is DecisionKind.REVISE:
        return Stage.PLANNING
    return Stage.STORING
