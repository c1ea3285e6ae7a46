"""ResearchWorkflow: plan, search, read, write a cited draft, wait for a person, finish.

Only control flow lives here; every side effect is an activity (see activities/). A round of
research is in workflows/steps.py; where it waits for a person, workflows/gate.py with its two uses,
workflows/decisions.py and workflows/plan_review.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError, is_cancelled_exception

with workflow.unsafe.imports_passed_through():
    from workflows import (
        changes,
        claims,
        decisions,
        evidence,
        follow_ups,
        gate,
        guardrails,
        judgement,
        plan_review,
        publication,
        steps,
    )
    from workflows.activity_io import ClaimVerdict, FinalizeInput, ProgressInput, ProgressKind, StoreInput
    from workflows.calls import ArchiveCalls, ModelCalls, ProgressCalls, essential_options
    from workflows.declaring import call
    from workflows.ledger import ledger_of
    from workflows.models import (
        DecisionInput,
        DecisionKind,
        DecisionRecord,
        Draft,
        EarlierRun,
        FollowUpInput,
        Outcome,
        PlanReviewInput,
        PlanReviewKind,
        PlanReviewRecord,
        Receipt,
        ResearchRequest,
        ResearchResult,
        RunState,
        RunStatus,
        SourceEvidence,
        Stage,
    )

RUNS_METRIC = "research_runs_finished"
# The final answer after "Approve with feedback" passes the draft's checks, or the approved draft is published.
FINAL_CHECK_PATCH = "verified-final-answer"
FINAL_FALLBACK_NOTE = "This is the approved draft: the final rewrite with the feedback was not published because"
# The reports a run cannot do without: retried until posted or the run expires (workflows/calls.py).
_ESSENTIAL = frozenset({ProgressKind.STARTED, ProgressKind.DRAFT, ProgressKind.FINISHED})

PLAN_NOT_REVIEWED = plan_review.PLAN_NOT_REVIEWED


class _PlanNotReviewed(Exception):
    """The plan's review wait ran out: the run ends as expired, like an undecided draft."""


_FINAL_STAGE = {
    Outcome.APPROVED: Stage.COMPLETED,
    Outcome.REJECTED: Stage.REJECTED,
    Outcome.EXPIRED: Stage.EXPIRED,
    Outcome.CANCELLED: Stage.CANCELLED,
    Outcome.FAILED: Stage.FAILED,
}


@workflow.defn
class ResearchWorkflow:
    @workflow.init
    def __init__(self, request: ResearchRequest) -> None:
        self._request = request
        self._state = _initial_state(request)
        self._status = self._state.status
        self._run = steps.RoundRunner(request, self._state, self._report)
        # The two places a run waits for a person; each reads the run as it is when an answer comes.
        self._decision = gate.Waiting(decisions.DECISION, self._asking)
        self._plan = gate.Waiting(plan_review.PLAN_REVIEW, self._asking)
        # Reports that run beside the workflow (see _present); all are awaited before it ends.
        self._reports: list[asyncio.Task[None]] = []
        self._draft_shown: asyncio.Task[None] | None = None
        self._draft_refused: str | None = None  # why Slack would never show the draft
        # A follow-up asked in a thread takes the replies sent with it until it starts researching.
        self._follow_ups: list[FollowUpInput] = []
        self._gathering = request.earlier is not None and request.state is None and request.carried is None

    # ------------------------------------------------------------------ the run

    @workflow.run
    async def run(self, request: ResearchRequest) -> ResearchResult:
        try:
            if request.state is None and request.carried is None:
                earlier = await self._gather_follow_ups()  # None unless a follow-up in a thread
                await self._report(ProgressKind.STARTED)
                if request.slack and "root" not in self._state.messages:
                    # The requester was told why in private; nobody could see or decide this run.
                    raise ApplicationError("ResearchBot cannot post in this channel", non_retryable=True)
                await self._run.research(feedback=None, earlier=earlier, review=self._plan_review())
                await self._present(await self._run.write_draft(feedback=None, earlier=earlier))
            return await self._decide_until_done()
        except _PlanNotReviewed:
            return await self._finish(Outcome.EXPIRED, answer="", error=PLAN_NOT_REVIEWED)
        except (asyncio.CancelledError, ActivityError, ApplicationError) as failure:
            if is_cancelled_exception(failure):
                await self._finish(Outcome.CANCELLED, answer="", error="the run was cancelled")
                raise
            message = steps.describe_failure(failure)
            await self._finish(Outcome.FAILED, answer="", error=message)
            raise ApplicationError(f"research run failed: {message}", non_retryable=True) from failure

    async def _gather_follow_ups(self) -> EarlierRun | None:
        """A follow-up asked in a finished run's thread (workflows/follow_ups.py): wait briefly for the
        replies sent with it, ask them as one question, and return the earlier run it builds on."""
        earlier = self._request.earlier
        if earlier is None or not workflow.patched(follow_ups.FOLLOW_UPS_PATCH):
            return None
        await asyncio.sleep(follow_ups.GATHER_FOR.total_seconds())  # a durable timer
        self._gathering = False
        question = follow_ups.question_of(self._follow_ups, fallback=self._request.question)
        self._request = self._request.model_copy(update={"question": question})
        self._status.question = question
        self._run = steps.RoundRunner(self._request, self._state, self._report)
        return earlier

    def _plan_review(self) -> steps.PlanReview | None:
        """The first plan's review, when the run asks for one (runs from before it never do)."""
        if self._request.review_plan and workflow.patched(plan_review.PLAN_REVIEW_PATCH):
            return self._await_plan_review
        return None

    async def _await_plan_review(self) -> list[str]:
        """Show the plan with Search this / Edit plan, wait for the requester or an approver as long as
        a draft would wait, and answer the sub-questions to search: the plan, or the edited one."""
        status = self._status
        status.plan_review_round = status.draft_round
        # Open for reviews before the buttons are shown, so an instant click is not refused.
        status.stage = Stage.AWAITING_PLAN_REVIEW
        await self._report(ProgressKind.PLAN)
        try:
            await workflow.wait_condition(lambda: self._plan.pending is not None, timeout=self._request.expire_after)
        except TimeoutError:
            raise _PlanNotReviewed from None
        review = self._plan.take()
        if review.kind is PlanReviewKind.EDIT:
            status.sub_questions = list(review.sub_questions)  # the first round's plan is all there is
        status.stage = Stage.PLANNING
        self._beside(self._report(ProgressKind.PLAN_REVIEWED))
        return list(status.sub_questions)

    async def _decide_until_done(self) -> ResearchResult:
        while True:
            draft = self._status.draft  # a schedule's --publish, every claim verified: no wait for a person
            if draft and (published := publication.unreviewed_approval(self._request, self._status, workflow.now())):
                self._status.decisions.append(published)
                return await self._finish(Outcome.APPROVED, answer=draft.text)
            decision = await self._await_decision()
            if decision is None and self._draft_refused is not None:
                return await self._finish(
                    Outcome.FAILED, answer="", error=f"Slack would not show the draft: {self._draft_refused}"
                )
            if decision is None:
                return await self._finish(Outcome.EXPIRED, answer="", error="no decision in time")
            # Shown while the run goes on: the final report or the next round need not wait for it.
            self._beside(self._report_after_draft(ProgressKind.DECISION))
            if decision.kind is DecisionKind.REJECT:
                return await self._finish(Outcome.REJECTED, answer="")
            if decision.kind is DecisionKind.APPROVE:
                return await self._finish(Outcome.APPROVED, answer=await self._final_answer(decision))
            self._state.feedback = "\n".join(filter(None, [self._state.feedback, decision.feedback]))
            # A follow-up's revise round has both: the reviewer's words, and the earlier run as material.
            earlier = self._request.earlier
            await self._run.research(
                feedback=decision.feedback, earlier=earlier, draft_round=self._status.draft_round + 1
            )
            await self._present(await self._run.write_draft(feedback=decision.feedback, earlier=earlier))
            if self._history_is_long():
                await asyncio.gather(*self._reports)
                await workflow.wait_condition(workflow.all_handlers_finished)
                if self._decision.pending is None:  # a decision that came in meanwhile is taken by this run
                    workflow.continue_as_new(self._carry_over())

    async def _await_decision(self) -> DecisionInput | None:
        """Wait for a person; remind once, then expire. Timers are durable: days are fine."""
        self._status.stage = Stage.AWAITING_DECISION
        request = self._request
        waited = timedelta(0)
        if not self._status.reminder_sent and request.remind_after < request.expire_after:
            if await self._wait_for_decision(request.remind_after):
                return self._take_pending()
            if self._draft_refused is not None:
                return None
            waited = request.remind_after
            self._status.reminder_sent = True
            await self._report(ProgressKind.REMINDER)
        if await self._wait_for_decision(request.expire_after - waited):
            return self._take_pending()
        return None

    async def _wait_for_decision(self, timeout: timedelta) -> bool:
        """True once a decision is pending; False when the wait ends without one (timeout, unpostable draft)."""
        try:
            await workflow.wait_condition(
                lambda: self._decision.pending is not None or self._draft_refused is not None, timeout=timeout
            )
        except TimeoutError:
            return False
        return self._decision.pending is not None

    def _take_pending(self) -> DecisionInput:
        decision = self._decision.take()
        self._status.stage = decisions.stage_after(decision)
        return decision

    async def _present(self, draft: Draft) -> None:
        draft = await changes.with_changes(self._request, self._status.workflow_id, draft)  # scheduled runs only
        ledger = ledger_of(self._status.usage, self._request.prices)
        draft = draft.model_copy(update={"ledger": ledger, "budget_stopped": self._status.budget_stopped})
        self._status.draft = draft
        self._status.draft_round = draft.round
        self._status.reminder_sent = False
        # Open for decisions before the buttons are shown, so an instant click is not refused, and
        # do not wait for the report: a slow Slack must not hold up a decision made meanwhile.
        self._status.stage = Stage.AWAITING_DECISION
        self._draft_shown = self._beside(self._report(ProgressKind.DRAFT))

    async def _final_answer(self, decision: DecisionInput) -> str:
        draft = self._status.draft
        assert draft is not None
        if not decision.feedback:
            return draft.text
        if not self._run.may_spend():
            return f"{draft.text}\n\n_{FINAL_FALLBACK_NOTE} the run's token budget was spent._"
        self._status.stage = Stage.FINALIZING
        output = await self._run.llm(
            ModelCalls.finalize_answer,
            FinalizeInput(
                question=self._request.question,
                draft=draft.text,
                sources=draft.sources,
                pages=self._state.pages,
                feedback=decision.feedback,
                model=self._request.model,
                earlier=self._request.earlier,
            ),
        )
        text = steps.clean_model_text(output.text)
        if not workflow.patched(FINAL_CHECK_PATCH):
            return text
        problem, text = await self._final_answer_problem(text, draft)
        if problem:
            # The approved draft passed its checks; a rewrite that does not is not published.
            return f"{draft.text}\n\n_{FINAL_FALLBACK_NOTE} {problem}._"
        return text

    async def _final_answer_problem(self, text: str, draft: Draft) -> tuple[str | None, str]:
        """Why the final rewrite fails the draft's checks (or None: the guardrails, then the claims not
        in the approved draft that its sources do not support), and the rewrite with its claims cited to
        the sources that support them."""
        if violations := guardrails.check_draft(text, draft.sources):
            return "; ".join(violations), text
        approved = {claim.statement for claim in claims.split_claims(draft.text)}
        checked = await self._run.verify(text, draft.sources, judge=True, settled=approved)
        wrong = [c for c in checked.claims if c.verdict is not ClaimVerdict.SUPPORTED and c.statement not in approved]
        # The approved draft answered the question; a rewrite that keeps its claims still does (the judge
        # reads only the new claims' passages, so its word on the question is not the whole story).
        kept = any(c.statement in approved for c in checked.claims)
        if not checked.relevant and not kept:
            return "no source supports it as an answer to the question", text
        if wrong:
            return f"{len(wrong)} of its claims are not supported by the sources they cite", text
        if checked.planted:
            return "it repeats instructions planted in a page", text
        return None, claims.edit_claims(text, mark=set(), remove=set(), recite=judgement.recitations(checked))

    async def _finish(self, outcome: Outcome, answer: str, error: str | None = None) -> ResearchResult:
        draft = self._status.draft
        result = ResearchResult(
            workflow_id=self._status.workflow_id,
            question=self._request.question,
            requested_by=self._request.requested_by,
            outcome=outcome,
            answer=answer,
            steps_taken=self._status.steps_taken,
            sources=draft.sources if draft else self._status.sources,
            revision_rounds=max(self._status.draft_round - 1, 0),
            usage=self._status.usage,
            decisions=self._status.decisions,
            started_at=self._state.started_at,
            finished_at=workflow.now(),
            error=error,
            slack=self._request.slack,
            ledger=ledger_of(self._status.usage, self._request.prices),
            budget_stopped=self._status.budget_stopped,
        )
        self._status.stage = _FINAL_STAGE[outcome]
        self._status.error = error
        closing = asyncio.create_task(self._close(result))
        try:
            await asyncio.shield(closing)
        except asyncio.CancelledError:
            # The outcome is decided: a cancel that comes while the run is closed cannot change it, so
            # Slack, the archive and the metrics all tell the same story.
            await closing
        return result

    async def _close(self, result: ResearchResult) -> None:
        await self._report_after_draft(ProgressKind.FINISHED, result)
        # After the report, so a person waits for nothing more; before the archive, which keeps it.
        with_evidence = bool(result.answer) and workflow.patched(evidence.EVIDENCE_PATCH)
        records = await self._evidence(result) if with_evidence else []
        await call(ArchiveCalls.store_result, StoreInput(result=result, evidence=records))
        await asyncio.gather(*self._reports)
        await workflow.wait_condition(workflow.all_handlers_finished)
        # Counted once the run is closed; replays are not counted.
        workflow.metric_meter().create_counter(RUNS_METRIC, "research runs finished, by outcome", "runs").add(
            1, {"outcome": result.outcome.value}
        )

    async def _evidence(self, result: ResearchResult) -> list[SourceEvidence]:
        """The published answer's cited sources with the passages behind its claims: one more citation
        check, of exactly the text published. Without it, the records still say how each page was read."""
        try:
            checked = self._run.with_known_verdicts(
                await self._run.verify(result.answer, result.sources, with_passages=True)
            )
        except ActivityError as failure:
            workflow.logger.warning("the evidence check failed: %s", steps.describe_failure(failure))
            checked = None
        return evidence.gather(result.answer, result.sources, self._state.pages, checked)

    # ------------------------------------------------------------------ messages from people

    # Each kind of pause answers through its gate (workflows/gate.py); these are its names on the wire.

    @workflow.update(name=DecisionInput.UPDATE)
    async def decide(self, decision: DecisionInput) -> Receipt:
        return self._decision.update(decision)

    @decide.validator
    def _validate_decide(self, decision: DecisionInput) -> None:
        self._decision.validate(decision)

    @workflow.signal(name=DecisionInput.SIGNAL)
    def decide_signal(self, decision: DecisionInput) -> None:
        self._tell_refused(self._decision.signal(decision))

    @workflow.update(name=PlanReviewInput.UPDATE)
    async def review_plan(self, review: PlanReviewInput) -> Receipt:
        return self._plan.update(review)

    @review_plan.validator
    def _validate_review_plan(self, review: PlanReviewInput) -> None:
        self._plan.validate(review)

    @workflow.signal(name=PlanReviewInput.SIGNAL)
    def review_plan_signal(self, review: PlanReviewInput) -> None:
        self._tell_refused(self._plan.signal(review))

    @workflow.signal(name="follow_up")
    def follow_up(self, reply: FollowUpInput) -> None:
        """A reply asking more in a finished run's thread, sent with this follow-up's start (bot/threads.py)."""
        if self._gathering:
            self._follow_ups = follow_ups.with_reply(self._follow_ups, reply)
        else:  # the bot asks only while a follow-up gathers; one that raced past it is left, and logged
            workflow.logger.info("a follow-up reply came after the research began; not taken")

    @workflow.query(name="status")
    def status(self) -> RunStatus:
        return self._status

    def _asking(self) -> gate.Run:
        return gate.Run(self._status, self._request)

    def _tell_refused(self, refused: DecisionRecord | PlanReviewRecord | None) -> None:
        """A queued answer refused when it arrived: whoever sent it was told "queued"; now they hear why."""
        if refused is not None:
            self._beside(self._report(ProgressKind.REFUSED, refused=refused))

    # ------------------------------------------------------------------ progress and continue-as-new

    async def _report(
        self,
        kind: ProgressKind,
        result: ResearchResult | None = None,
        refused: DecisionRecord | PlanReviewRecord | None = None,
    ) -> None:
        progress = ProgressInput(
            kind=kind,
            status=self._status,
            approvers=self._request.approvers,
            slack=self._request.slack,
            result=result,
            messages=self._state.messages,
            refused=refused if isinstance(refused, DecisionRecord) else None,
            refused_review=refused if isinstance(refused, PlanReviewRecord) else None,
            reported_at=workflow.now(),
        )
        # A plan awaiting review cannot be reviewed unseen: retried like the draft.
        essential = kind in _ESSENTIAL or (
            kind is ProgressKind.PLAN and self._status.stage is Stage.AWAITING_PLAN_REVIEW
        )
        try:
            options = essential_options(self._request.expire_after) if essential else None
            receipt = await call(ProgressCalls.report_progress, progress, options=options)
        except ActivityError as failure:
            # Progress is for people watching; a failure to show it must not end the research. A draft
            # nobody can see is another matter: Slack refused it for good, so the run ends, clearly.
            workflow.logger.warning("progress report %s failed: %s", kind, failure.cause or failure)
            if kind is ProgressKind.DRAFT and workflow.patched("end-on-unpostable-draft"):
                self._draft_refused = steps.describe_failure(failure)
            return
        self._remember(receipt.messages)

    def _remember(self, messages: dict[str, str]) -> None:
        """Slack messages the reporter posted, by step; the root one is the run's thread."""
        self._state.messages.update(messages)
        self._status.thread_ts = self._state.messages.get("root")

    def _beside(self, report: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.create_task(report)
        self._reports.append(task)
        return task

    async def _report_after_draft(self, kind: ProgressKind, result: ResearchResult | None = None) -> None:
        """Reports that change the draft's message need the draft posted first."""
        if self._draft_shown is not None:
            await self._draft_shown
        await self._report(kind, result)

    def _history_is_long(self) -> bool:
        info = workflow.info()
        return info.is_continue_as_new_suggested() or info.get_current_history_length() > self._request.history_limit

    def _carry_over(self) -> ResearchRequest:
        """The same run, continued as new: the whole state goes along."""
        return self._request.model_copy(update={"state": self._state, "carried": None})


def _initial_state(request: ResearchRequest) -> RunState:
    status = RunStatus(
        workflow_id=workflow.info().workflow_id,
        question=request.question,
        requested_by=request.requested_by,
        stage=Stage.STARTING,
    )
    if request.state is not None:
        state = request.state
    elif request.carried is not None:  # continued as new by a worker from before RunState
        state = request.carried.to_state(status)
    else:
        return RunState(status=status, started_at=workflow.now())
    # A carried run only ever continues by waiting for its decision; a click may arrive first thing.
    state.status.stage = Stage.AWAITING_DECISION
    return state
