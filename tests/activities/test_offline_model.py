"""The offline model: plans of two to five sub-questions, extractive drafts that cite only their sources, finals."""

from __future__ import annotations

import re

import pytest

from activities.model.llm import OFFLINE_NOTICE, OfflineResearchModel
from tests.activities.llm_inputs import PAGES, QUESTION, SOURCES, synth
from workflows.activity_io import FinalizeInput, PlanInput, RevisionPlanInput
from workflows.models import EarlierRun


def citations(text: str) -> set[int]:
    return {int(n) for n in re.findall(r"\[(\d+)\]", text)}


@pytest.mark.parametrize(
    "question",
    [
        "What is Temporal?",
        "Temporal",
        "What is Temporal and how does it compare to Airflow?",
        "A? B? C? D? E? F? G? Why is the sky blue?",
        "Compare Rust, Go and Zig for embedded work; which has the best tooling?",
    ],
)
@pytest.mark.parametrize("limit", [2, 5, 9])
async def test_offline_plan_yields_two_to_five(question, limit):
    out = await OfflineResearchModel().plan(PlanInput(question=question, max_sub_questions=limit))
    assert 2 <= len(out.sub_questions) <= min(5, max(2, limit))
    assert len({q.lower() for q in out.sub_questions}) == len(out.sub_questions)
    assert out.usage.calls == 1


async def test_offline_plan_splits_compound_questions():
    out = await OfflineResearchModel().plan(PlanInput(question=QUESTION))
    assert out.sub_questions == [
        "What is Temporal?",
        "How do its workflows survive worker crashes?",
    ]


@pytest.mark.parametrize(
    ("feedback", "wants_new"),
    [
        ("Looks good, but make it shorter.", False),
        ("Fix the tone", False),
        ("What about pricing?", True),
        ("Also include how retries work", True),
    ],
)
async def test_offline_revision_plans_only_when_feedback_asks_for_more(feedback, wants_new):
    data = RevisionPlanInput(question=QUESTION, feedback=feedback, previous_sub_questions=["x"])
    out = await OfflineResearchModel().plan_revision(data)
    assert bool(out.sub_questions) is wants_new
    assert len(out.sub_questions) <= 3


async def test_offline_draft_cites_only_given_sources_and_says_offline():
    out = await OfflineResearchModel().synthesize(synth())
    assert out.text.splitlines()[0] == OFFLINE_NOTICE
    assert citations(out.text) == {1, 2}  # [7] in the page text is not carried over; 3 unread
    assert "replays the history" in out.text
    assert out.usage.calls == 1 and out.usage.completion_tokens == len(out.text) // 4


async def test_offline_draft_is_deterministic_and_feedback_changes_it():
    model = OfflineResearchModel()
    plain = (await model.synthesize(synth())).text
    assert plain == (await model.synthesize(synth())).text
    shorter = (await model.synthesize(synth(feedback="Shorter please"))).text
    assert shorter.count("\n- ") < plain.count("\n- ")
    assert "Reviewer feedback taken into account: Shorter please" in shorter
    backoff = (await model.synthesize(synth(feedback="Add an example of exponential backoff"))).text
    assert "exponential backoff" in backoff and "exponential backoff" not in plain
    assert backoff == (await model.synthesize(synth(feedback="Add an example of exponential backoff"))).text
    with_violations = await model.synthesize(synth(violations=["cites [9]"]))
    assert citations(with_violations.text) <= {1, 2}


async def test_offline_draft_without_sources():
    out = await OfflineResearchModel().synthesize(synth(sources=[], pages=[]))
    assert OFFLINE_NOTICE in out.text and "I found no sources for" in out.text
    assert citations(out.text) == set()


async def test_offline_finalize_takes_in_feedback_and_keeps_citations_valid():
    model = OfflineResearchModel()
    draft = (await model.synthesize(synth())).text + "\n- A claim with a bad citation. [9]"
    final = await model.finalize(
        FinalizeInput(
            question=QUESTION,
            draft=draft,
            sources=SOURCES,
            pages=PAGES,
            feedback="Add an example of exponential backoff",
        )
    )
    assert final.text.startswith(OFFLINE_NOTICE)
    assert "exponential backoff" in final.text
    assert citations(final.text) <= {1, 2, 3}
    assert final.text.endswith("Reviewer feedback taken into account: Add an example of exponential backoff")
    unchanged = await model.finalize(
        FinalizeInput(question=QUESTION, draft=draft, sources=SOURCES, pages=PAGES, feedback="")
    )
    assert unchanged.text == draft.replace(" [9]", "")


async def test_offline_follow_up_plans_its_own_question_and_writes_without_the_earlier_run_as_feedback():
    earlier = EarlierRun(
        workflow_id="research-earlier",
        question="How do retries work?",
        report="Retries back off exponentially [1]. What about adding more examples?",
    )
    model = OfflineResearchModel()
    plan = await model.plan_revision(
        RevisionPlanInput(question=QUESTION, feedback="", previous_sub_questions=[], earlier=earlier)
    )
    assert plan.sub_questions[:2] == ["What is Temporal?", "How do its workflows survive worker crashes?"]
    assert not any("retries" in q.lower() or "earlier" in q.lower() for q in plan.sub_questions)
    draft = await model.synthesize(synth(earlier=earlier))
    assert "Reviewer feedback" not in draft.text and "Retries back off" not in draft.text
