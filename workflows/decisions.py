"""Who may decide what, and when: the rules behind the `decide` update's validator."""

from __future__ import annotations

from workflows.models import DecisionInput, DecisionKind, DecisionRecord, ResearchRequest, RunStatus, Stage

_ACKNOWLEDGEMENTS = {
    DecisionKind.APPROVE: "Approved: writing the final report",
    DecisionKind.REVISE: "Revision requested: starting draft round {next}",
    DecisionKind.REJECT: "Rejected: the run ends without a report",
}


def refusal(
    decision: DecisionInput, *, status: RunStatus, request: ResearchRequest, already_pending: bool
) -> str | None:
    """Why this decision cannot be taken now, in words for the person who made it; None if it can."""
    if already_pending or (
        decision.decision_id is not None
        and any(d.decision_id == decision.decision_id and d.applied for d in status.decisions)
    ):
        return "this draft has already been decided"
    if status.stage is not Stage.AWAITING_DECISION or status.draft is None:
        return f"no draft is awaiting a decision (the run is {status.stage.value.replace('_', ' ')})"
    if decision.draft_round != status.draft_round:
        return (
            f"that decision is for draft round {decision.draft_round}, "
            f"but the current draft is round {status.draft_round}"
        )
    if decision.decided_by not in {request.requested_by, *request.approvers}:
        return (
            f"{decision.decided_by} may not decide on this run: "
            "only the person who asked and the configured approvers may"
        )
    if decision.kind is DecisionKind.REVISE:
        if not decision.feedback:
            return "a revision needs feedback that says what to change"
        if status.draft_round > request.max_revision_rounds:
            return f"this run has used all {request.max_revision_rounds} revision rounds; approve or reject this draft"
    if decision.kind is DecisionKind.APPROVE and status.draft.violations:
        return "this draft failed its checks (" + "; ".join(status.draft.violations) + "); revise or reject it"
    return None


def acknowledgement(decision: DecisionInput) -> str:
    return _ACKNOWLEDGEMENTS[decision.kind].format(next=decision.draft_round + 1)


def stage_after(decision: DecisionInput) -> Stage:
    if decision.kind is DecisionKind.APPROVE:
        return Stage.FINALIZING
    if decision.kind is DecisionKind.REVISE:
        return Stage.PLANNING
    return Stage.STORING


MAX_REFUSED_KEPT = 20  # refused decisions a run keeps in its status (each was told to its sender)


def with_refused(records: list[DecisionRecord], refused: DecisionRecord) -> list[DecisionRecord]:
    """``records`` with one more refused decision, keeping only the latest MAX_REFUSED_KEPT refused ones:
    a stream of refused clicks must not grow the run's status (and its history) without bound."""
    kept = [*records, refused]
    refusals = [r for r in kept if not r.applied]
    if len(refusals) <= MAX_REFUSED_KEPT:
        return kept
    dropped = refusals[0]
    return [r for r in kept if r is not dropped]
