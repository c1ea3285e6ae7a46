"""The gate is general: a third kind of pause, a budget top-up defined only here, is asked, validated,
answered (by update, and by its signal fallback when no worker runs) and recorded through the same
machinery as the draft's decision and the plan's review, and the bot's send_answer delivers it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum

from temporalio import workflow
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from bot.runs import send_answer
from tests.workflows.helpers import new_queue
from workflows.gate import Asked, Gate, Waiting, Words
from workflows.models import Answered, GateAnswer, Receipt

OWNER = "U_OWNER"


class TopUpKind(StrEnum):
    GRANT = "grant"
    DENY = "deny"


class TopUpInput(GateAnswer):
    UPDATE, SIGNAL, NOUN = "top_up", "top_up_signal", "budget top-up"
    ROUND_FIELD, BY_FIELD, ID_FIELD = "ask", "granted_by", "click_id"

    kind: TopUpKind
    ask: int
    granted_by: str
    tokens: int = 0
    click_id: str | None = None


class TopUpRecord(Answered, TopUpInput):
    pass


class TopUpReceipt(Receipt):
    ask: int


@dataclass
class Spending:
    """What the top-up gate reads of its run."""

    open: bool
    records: list[TopUpRecord] = field(default_factory=list)


TOP_UP: Gate[TopUpInput, TopUpRecord, Spending] = Gate(
    record=TopUpRecord,
    receipt=TopUpReceipt,
    refused_as="TopUpRefused",
    words=Words("already topped up", "no top-up is asked ({doing})", "not ask {answer} but {current}", "{by} may not"),
    asked=lambda run: Asked(open=run.open, round=1, people={OWNER}, doing="spending"),
    records=lambda run: run.records,
    check=lambda answer, run: "a grant needs tokens" if answer.kind is TopUpKind.GRANT and answer.tokens < 1 else None,
    acknowledgement=lambda answer: f"{answer.kind.value}: {answer.tokens} tokens",
    quiet_repeats=True,  # the update and its signal carry the same click id: whichever comes first applies
)


@workflow.defn(sandboxed=False)
class TopUpWorkflow:
    def __init__(self) -> None:
        self.spending = Spending(open=True)  # asked from the start, so an answer in the first task is in time
        self.waiting = Waiting(TOP_UP, lambda: self.spending)
        self.told: list[TopUpRecord] = []

    @workflow.run
    async def run(self) -> list[TopUpRecord]:
        await workflow.wait_condition(lambda: self.waiting.pending is not None)
        self.waiting.take()
        self.spending.open = False
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.spending.records

    @workflow.update(name=TopUpInput.UPDATE)
    async def top_up(self, answer: TopUpInput) -> Receipt:
        return self.waiting.update(answer)

    @top_up.validator
    def _validate_top_up(self, answer: TopUpInput) -> None:
        self.waiting.validate(answer)

    @workflow.signal(name=TopUpInput.SIGNAL)
    def top_up_signal(self, answer: TopUpInput) -> None:
        if refused := self.waiting.signal(answer):
            self.told.append(refused)

    @workflow.query
    def told_of(self) -> list[TopUpRecord]:
        return self.told


def grant(by: str = OWNER, tokens: int = 5_000, ask: int = 1) -> TopUpInput:
    return TopUpInput(kind=TopUpKind.GRANT, ask=ask, granted_by=by, tokens=tokens, click_id=uuid.uuid4().hex)


async def test_a_third_kind_of_pause_is_refused_and_answered_through_the_same_gate(env: WorkflowEnvironment) -> None:
    queue, workflow_id = new_queue(), f"top-up-{uuid.uuid4().hex[:8]}"
    async with Worker(env.client, task_queue=queue, workflows=[TopUpWorkflow]):
        handle = await env.client.start_workflow(TopUpWorkflow.run, id=workflow_id, task_queue=queue)
        refusals = [await send_answer(env.client, workflow_id, answer) for answer in (grant("U_X"), grant(tokens=0))]
        assert [(r.accepted, r.queued, r.message) for r in refusals] == [
            (False, False, "U_X may not"),
            (False, False, "a grant needs tokens"),
        ]
        later = await send_answer(env.client, workflow_id, grant(ask=2))
        assert later.message == "not ask 2 but 1"
        accepted = await send_answer(env.client, workflow_id, grant())
        assert (accepted.accepted, accepted.queued, accepted.message) == (True, False, "grant: 5000 tokens")
        records = await handle.result()
    assert [(r.granted_by, r.tokens, r.via, r.applied) for r in records] == [(OWNER, 5_000, "update", True)]


async def test_with_no_worker_an_answer_is_queued_as_its_signal_and_a_refused_one_is_told(
    env: WorkflowEnvironment,
) -> None:
    queue, workflow_id = new_queue(), f"top-up-{uuid.uuid4().hex[:8]}"
    async with Worker(env.client, task_queue=queue, workflows=[TopUpWorkflow]):
        handle = await env.client.start_workflow(TopUpWorkflow.run, id=workflow_id, task_queue=queue)
        assert (await send_answer(env.client, workflow_id, grant(ask=2))).accepted is False  # the run is waiting
    wait = timedelta(seconds=0.5)
    stranger = await send_answer(env.client, workflow_id, grant("U_X"), wait=wait)
    owner = await send_answer(env.client, workflow_id, grant(), wait=wait)
    assert (stranger.queued, owner.queued) == (True, True)
    assert "your budget top-up is queued" in owner.message
    async with Worker(env.client, task_queue=queue, workflows=[TopUpWorkflow]):
        records = await handle.result()
        told = await handle.query(TopUpWorkflow.told_of)
    assert [(r.granted_by, r.applied) for r in records if r.applied] == [(OWNER, True)]
    assert [(r.granted_by, r.via, r.reason) for r in told] == [("U_X", "signal", "U_X may not")]
