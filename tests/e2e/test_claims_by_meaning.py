"""Claims judged by meaning, end to end: the real bot, a real `researchbot worker` process whose model is
the paraphrasing loopback model (tests/fakes/paraphrasing_model.py, over real HTTP), the tests' corpus,
and the session's Temporal. The draft's true claims, paraphrased, stand unmarked; its false ones, in the
pages' own words, are marked; its true claim cited to the wrong page is cited to the right one; and
Approve with feedback publishes the final report."""

from __future__ import annotations

import json
from pathlib import Path

from temporalio.testing import WorkflowEnvironment

from sandbox import Channel, SlackApiServer
from tests.e2e.slack_stack import (
    APPROVER,
    eventually,
    open_modal,
    report,
    running_stack,
    started_run,
    status_of,
    submit,
)
from tests.fakes.openai_server import FakeOpenAI, by_prompt_kind
from tests.fakes.paraphrasing_model import FALSE_KINDS, ParaphrasingModel, key
from workflows.claims import UNVERIFIED_MARK, split_claims
from workflows.models import Outcome
from workflows.research import FINAL_FALLBACK_NOTE

QUESTION = "How does Temporal make workflows durable?"
TRUE_KINDS = ("answer", "paraphrased", "verbatim")


async def test_paraphrased_truths_stand_invented_ones_are_marked_and_the_approved_report_is_published(
    slack: SlackApiServer, env: WorkflowEnvironment, channel: Channel, tmp_path: Path
) -> None:
    model = ParaphrasingModel()
    reply = by_prompt_kind(
        plan=model.plan, revision="NONE", draft=model.draft, finalize=model.finalize, judge=model.judge
    )
    with FakeOpenAI(reply=reply) as llm:
        settings = {"OPENAI_BASE_URL": llm.base_url, "OPENAI_API_KEY": "sk-e2e", "LLM_MODEL": "paraphrasing"}
        async with running_stack(slack, env, tmp_path, settings) as stack:
            message, workflow_id = await started_run(stack, channel, QUESTION)
            draft = (await status_of(stack, workflow_id)).draft
            assert draft is not None and draft.check is not None and draft.check.judged and not draft.violations

            written = model.written[QUESTION]
            kinds = set(written.values())
            assert {*TRUE_KINDS, "wrong_citation"} <= kinds and len(kinds & set(FALSE_KINDS)) == 3
            shown = {key(c.statement): c for c in split_claims(draft.text)}
            numbers = {s.url.removeprefix("local://"): s.number for s in draft.sources}
            for statement, kind in written.items():
                claim = shown.get(key(statement.rsplit("[", 1)[0]))
                marked = claim is None or UNVERIFIED_MARK in claim.text
                if kind in TRUE_KINDS:
                    assert not marked, f"a true {kind} claim was flagged: {statement}"
                elif kind == "wrong_citation":
                    assert claim is not None and not marked, statement
                    right = numbers["temporal-durable-execution.md"]
                    assert claim.numbers == (right,), "cited to the page that says it"
                else:
                    assert marked, f"a false {kind} claim was published unmarked: {statement}"
            blocks = json.dumps(message["blocks"], ensure_ascii=False)
            assert UNVERIFIED_MARK in blocks and "judged by the model" in blocks

            approve = await open_modal(stack, channel, message, "approve", APPROVER)
            assert "errors" not in (await submit(stack, approve, APPROVER, "Make it tighter.")).text
            result = await stack.handle(workflow_id).result()
            assert result.outcome is Outcome.APPROVED
            assert FINAL_FALLBACK_NOTE not in result.answer, "the final rewrite passed its check"
            final = await eventually(lambda: report(stack, channel), "the final report in the thread", stack)
            assert "Taking in the approver" in json.dumps(final["blocks"])
    assert model.judge_calls >= 2, "the draft and the final answer were judged"
